//! The delivery worker: carries out the outbox's deliveries (rule actions) in the background,
//! so no tracker or API call ever waits for a webhook or an SMS. It wakes when a delivery is
//! queued or becomes due, attempts each one (groups and campaigns through the domain, webhooks
//! and SMS over HTTP), and records every attempt; the domain decides retries
//! (`domain::record_attempt`). Started by `http::run`, so it runs wherever the server does;
//! after a restart it finds the pending deliveries in the outbox at once.

mod guard;
mod sms;
mod webhook;

use crate::domain::{
    self, now_millis, AccountId, AttemptOutcome, Delivery, DeliveryAction, DeliveryId, Millis,
};
use crate::store::Store;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;

pub use guard::TargetPolicy;

/// How long one HTTP attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts running at the same time.
const CONCURRENT_ATTEMPTS: usize = 16;
/// Outbox entries looked at per pass.
const BATCH: usize = 256;
/// The longest the worker sleeps without looking at the outbox.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// What the worker may reach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// Whether webhooks and SMS gateways on loopback or private networks are delivered to
    /// (`serve --allow-private-targets`; refused by default against SSRF).
    pub targets: TargetPolicy,
}

struct Worker {
    store: Store,
    http: reqwest::Client,
    targets: TargetPolicy,
    in_flight: Mutex<HashSet<DeliveryId>>,
    slots: Semaphore,
}

/// How often the outbox's depth is counted for `/metrics`.
const DEPTH_REPORT: Duration = Duration::from_secs(15);

/// Keeps the `ssrm_outbox_depth` gauge current, off the delivery path (counting walks the
/// outbox tree, so it runs on the blocking pool, every [`DEPTH_REPORT`]).
async fn report_depth(store: Store) {
    loop {
        let counted = store.clone();
        if let Ok(depth) = tokio::task::spawn_blocking(move || counted.outbox_depth()).await {
            crate::telemetry::outbox_depth(depth);
        }
        tokio::time::sleep(DEPTH_REPORT).await;
    }
}

/// Runs the worker until the runtime stops.
pub async fn run(store: Store, options: DeliveryOptions) {
    tokio::spawn(report_depth(store.clone()));
    let signal = store.outbox_signal();
    let worker = Arc::new(Worker {
        http: guard::client(options.targets),
        store,
        targets: options.targets,
        in_flight: Mutex::new(HashSet::new()),
        slots: Semaphore::new(CONCURRENT_ATTEMPTS),
    });
    loop {
        let wait = worker.clone().start_due().await;
        tokio::select! {
            () = signal.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

impl Worker {
    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<DeliveryId>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts an attempt for every due delivery not already being attempted; returns how long
    /// to sleep until the next one is due.
    async fn start_due(self: Arc<Self>) -> Duration {
        let store = self.store.clone();
        let waiting = match tokio::task::spawn_blocking(move || {
            // Firings queued by the requests since the last round get their deliveries first.
            while domain::settle_firings(&store, BATCH)? == BATCH {}
            domain::waiting_deliveries(&store, BATCH)
        })
        .await
        {
            Ok(Ok(waiting)) => waiting,
            Ok(Err(error)) => {
                tracing::error!(%error, "cannot read the outbox");
                return IDLE_CHECK;
            }
            Err(_) => return IDLE_CHECK,
        };
        let now = now_millis();
        let mut wait = IDLE_CHECK;
        for (due, account, id) in waiting {
            if self.in_flight().contains(&id) {
                continue;
            }
            if due > now {
                wait = wait.min(Duration::from_millis((due - now) as u64));
                break;
            }
            self.in_flight().insert(id);
            let worker = self.clone();
            tokio::spawn(async move {
                worker.attempt(due, account, id).await;
                worker.in_flight().remove(&id);
                worker.store.outbox_signal().notify_one();
            });
        }
        wait
    }

    /// One attempt at one delivery, recorded and flushed.
    async fn attempt(&self, due: Millis, account: AccountId, id: DeliveryId) {
        let Ok(_slot) = self.slots.acquire().await else {
            return;
        };
        let store = self.store.clone();
        let delivery = match tokio::task::spawn_blocking(move || {
            domain::pending_delivery(&store, due, account, id)
        })
        .await
        {
            Ok(Ok(Some(delivery))) => delivery,
            Ok(Ok(None)) => return,
            Ok(Err(error)) => {
                tracing::error!(%error, delivery = id.0, "cannot read a delivery");
                return;
            }
            Err(_) => return,
        };
        let outcome = match self.carry_out(&delivery).await {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::error!(%error, delivery = id.0, "delivery attempt failed");
                AttemptOutcome::Retry("błąd serwera".to_owned())
            }
        };
        if matches!(
            outcome,
            AttemptOutcome::Failed(_) | AttemptOutcome::Retry(_)
        ) {
            crate::telemetry::delivery_failed();
        }
        let store = self.store.clone();
        let recorded = tokio::task::spawn_blocking(move || {
            domain::record_attempt(&store, account, id, outcome, now_millis())
        })
        .await;
        match recorded {
            // Attempts share flushes with each other and with the requests (group commit):
            // a burst of firings does not add one flush per delivery.
            Ok(Ok(_)) => {
                if let Err(error) = self.store.flush_shared().await {
                    tracing::error!(%error, delivery = id.0, "cannot flush an attempt");
                }
            }
            Ok(Err(error)) => tracing::error!(%error, delivery = id.0, "cannot record an attempt"),
            Err(_) => tracing::error!(delivery = id.0, "recording an attempt panicked"),
        }
    }

    async fn carry_out(&self, delivery: &Delivery) -> domain::DomainResult<AttemptOutcome> {
        match &delivery.action {
            DeliveryAction::Webhook(hook) => {
                Ok(webhook::send(&self.http, self.targets, delivery, hook).await)
            }
            DeliveryAction::SendSms { text, sender } => {
                let store = self.store.clone();
                let (account, contact) = (delivery.account, delivery.contact.id);
                let checked = tokio::task::spawn_blocking(move || {
                    let gateway = domain::sms_gateway(&store, account)?;
                    let allowed = domain::may_text(&store, account, contact)?;
                    Ok::<_, domain::DomainError>((gateway, allowed))
                })
                .await
                .map_err(|_| domain::DomainError::InvalidField {
                    field: "delivery",
                    reason: "the check panicked",
                })??;
                match checked {
                    (_, false) => Ok(AttemptOutcome::Failed(
                        "kontakt na czarnej liście: SMS nie wysłany".to_owned(),
                    )),
                    (None, true) => Ok(AttemptOutcome::Failed(
                        "brak bramki SMS (resolver-server gateway set)".to_owned(),
                    )),
                    (Some(gateway), true) => Ok(sms::send(
                        &self.http,
                        self.targets,
                        &gateway,
                        delivery,
                        text,
                        sender.as_deref(),
                    )
                    .await),
                }
            }
            DeliveryAction::AddToGroup(_)
            | DeliveryAction::RemoveFromGroup(_)
            | DeliveryAction::AddToCampaign(_) => {
                let store = self.store.clone();
                let delivery = delivery.clone();
                let outcome = tokio::task::spawn_blocking(move || {
                    domain::apply_local_action(&store, &delivery)
                })
                .await
                .map_err(|_| domain::DomainError::InvalidField {
                    field: "delivery",
                    reason: "the action panicked",
                })??;
                Ok(outcome
                    .unwrap_or_else(|| AttemptOutcome::Failed("nieznany rodzaj akcji".to_owned())))
            }
        }
    }
}

/// A short description of a failed HTTP exchange (never the URL's query or any secret).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else if error.is_request() || error.is_body() {
        "request failed".to_owned()
    } else {
        "HTTP error".to_owned()
    }
}
