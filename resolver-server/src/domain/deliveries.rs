//! The outbox: what a rule firing must still do (one delivery per action), the retry policy,
//! the actions the domain carries out itself (groups, campaigns), the per-account SMS gateway
//! and the one decision whether a contact may be texted.
//!
//! Network delivery (webhooks, SMS over HTTP) is the worker's (`crate::delivery`); this file
//! decides what each attempt's outcome means and records it, so the rules hold for any worker.

use super::campaigns::{add_records, RecordInput, RecordOutcome, RecordRefusal};
use super::error::{DomainError, DomainResult};
use super::ids::{AccountId, ContactId, DeliveryId, GroupId, RuleId, Suid};
use super::model::{Contact, Millis};
use super::rules::{CampaignAction, WebhookAction};
use crate::store::Store;
use serde::{Deserialize, Serialize};

pub const SECOND: Millis = 1_000;
pub const DAY: Millis = 86_400 * SECOND;
/// The first retry comes this long after a failed attempt; each next one waits twice as long.
pub const FIRST_RETRY: Millis = 5 * SECOND;
/// Longest wait between two attempts.
pub const MAX_RETRY_GAP: Millis = 3_600 * SECOND;
/// A delivery not done this long after it was queued is failed.
pub const GIVE_UP_AFTER: Millis = DAY;

/// The contact as it was when the rule fired: what a webhook and an SMS carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactSnapshot {
    pub id: ContactId,
    pub phone: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub city: String,
    pub suid: Option<Suid>,
}

impl ContactSnapshot {
    pub fn of(contact: &Contact) -> ContactSnapshot {
        ContactSnapshot {
            id: contact.id,
            phone: contact.phone.as_str().to_owned(),
            email: contact.email.as_ref().map(|e| e.as_str().to_owned()),
            first_name: contact.first_name.clone(),
            last_name: contact.last_name.clone(),
            company: contact.company.clone(),
            city: contact.city.clone(),
            suid: contact.suid,
        }
    }

    /// The value of an SMS template placeholder.
    pub fn placeholder(&self, name: &str) -> String {
        match name {
            "first_name" => self.first_name.clone(),
            "last_name" => self.last_name.clone(),
            "company" => self.company.clone(),
            "phone" => self.phone.clone(),
            "email" => self.email.clone().unwrap_or_default(),
            "city" => self.city.clone(),
            _ => String::new(),
        }
    }
}

/// What made a rule fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    Pageview,
    Event,
    Identified,
    ContactAdded,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Pageview => "pageview",
            TriggerKind::Event => "event",
            TriggerKind::Identified => "identified",
            TriggerKind::ContactAdded => "contact_added",
        }
    }
}

/// The trigger of one firing: the page view's URL or the event's name, and when it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerInfo {
    pub kind: TriggerKind,
    pub url: Option<String>,
    pub name: Option<String>,
    pub at: Millis,
}

/// One action to carry out, fixed when the rule fired (an SMS text is already filled in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryAction {
    AddToGroup(GroupId),
    RemoveFromGroup(GroupId),
    AddToCampaign(CampaignAction),
    Webhook(WebhookAction),
    SendSms {
        text: String,
        sender: Option<String>,
    },
}

impl DeliveryAction {
    pub fn kind(&self) -> &'static str {
        match self {
            DeliveryAction::AddToGroup(_) => "add_to_group",
            DeliveryAction::RemoveFromGroup(_) => "remove_from_group",
            DeliveryAction::AddToCampaign(_) => "add_to_campaign",
            DeliveryAction::Webhook(_) => "webhook",
            DeliveryAction::SendSms { .. } => "send_sms",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// One try at a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: Millis,
    pub ok: bool,
    /// `HTTP 200`, `message id …`, `connection refused`, …
    pub detail: String,
}

/// One action of one firing, with everything needed to carry it out again after a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub account: AccountId,
    pub rule: RuleId,
    pub rule_name: String,
    pub firing: u64,
    pub contact: ContactSnapshot,
    pub trigger: TriggerInfo,
    pub action: DeliveryAction,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
    pub created_at: Millis,
    /// When the next attempt is due (pending deliveries only).
    pub next_at: Option<Millis>,
}

impl Delivery {
    /// The last attempt's detail, if any.
    pub fn detail(&self) -> &str {
        self.attempts.last().map_or("", |a| a.detail.as_str())
    }

    /// The line on the contact's card: `Reguła «Cennik 3 razy» → SMS wysłany`.
    pub fn summary(&self) -> String {
        let done = self.state == DeliveryState::Delivered;
        let what = match (&self.action, self.state) {
            (DeliveryAction::SendSms { .. }, DeliveryState::Delivered) => "SMS wysłany".to_owned(),
            (DeliveryAction::SendSms { .. }, _) => "SMS".to_owned(),
            (DeliveryAction::Webhook(_), DeliveryState::Delivered) => {
                "webhook dostarczony".to_owned()
            }
            (DeliveryAction::Webhook(_), _) => "webhook".to_owned(),
            (DeliveryAction::AddToGroup(group), _) if done => format!("dodano do grupy {group}"),
            (DeliveryAction::AddToGroup(group), _) => format!("dodanie do grupy {group}"),
            (DeliveryAction::RemoveFromGroup(group), _) if done => {
                format!("usunięto z grupy {group}")
            }
            (DeliveryAction::RemoveFromGroup(group), _) => format!("usunięcie z grupy {group}"),
            (DeliveryAction::AddToCampaign(c), _) if done => {
                format!("dodano do kampanii {}", c.campaign)
            }
            (DeliveryAction::AddToCampaign(c), _) => format!("dodanie do kampanii {}", c.campaign),
        };
        let state = match self.state {
            DeliveryState::Delivered => String::new(),
            DeliveryState::Pending if self.attempts.is_empty() => " — w kolejce".to_owned(),
            DeliveryState::Pending => format!(" — ponowna próba ({})", self.detail()),
            DeliveryState::Failed => format!(" — nieudane: {}", self.detail()),
        };
        format!("Reguła «{}» → {what}{state}", self.rule_name)
    }
}

/// A firing decided on the request path and queued with one single-key write (which does not
/// wait for a flush in progress, as a transaction does); the delivery worker lays it out —
/// mark, log entry, deliveries, counts — in one transaction, if the rule's mark for the contact
/// is still `previous` and the contact still exists. Reads of firings settle the queue first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedFiring {
    pub previous: Option<FiringMark>,
    pub mark: FiringMark,
    pub firing: Firing,
    pub deliveries: Vec<Delivery>,
}

/// One firing of a rule for a contact, as the rule's log shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firing {
    pub id: u64,
    pub rule: RuleId,
    pub contact: ContactId,
    pub trigger: TriggerInfo,
    pub at: Millis,
    pub deliveries: Vec<DeliveryId>,
}

/// When a rule last fired for a contact, and how often it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiringMark {
    pub last_at: Millis,
    pub times: u64,
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered(String),
    /// Failed, may work later (network, 5xx, a gateway error): retried per the policy.
    Retry(String),
    /// Failed for good (a refused target, a deleted group, no gateway): not retried.
    Failed(String),
}

/// When the attempt after `failures` failed ones is due, counted from the last one: 5 s,
/// 10 s, 20 s, … at most an hour apart.
pub fn retry_gap(failures: u32) -> Millis {
    let doublings = failures.saturating_sub(1).min(20);
    (FIRST_RETRY << doublings).min(MAX_RETRY_GAP)
}

/// The first `limit` waiting deliveries (due time, account, id), earliest due first.
pub fn waiting_deliveries(
    store: &Store,
    limit: usize,
) -> DomainResult<Vec<(Millis, AccountId, DeliveryId)>> {
    Ok(store.waiting_deliveries(limit)?)
}

/// Lays out up to `limit` queued firings (see [`QueuedFiring`]); how many were taken.
pub fn settle_firings(store: &Store, limit: usize) -> DomainResult<usize> {
    store.settle_firings(limit)
}

/// The pending delivery behind an outbox entry, claimed for one attempt (by one node when
/// several share the database, see `Store::claim_delivery`); `None` (and the entry dropped)
/// when it is done, failed or gone, so a stale entry is never attempted twice.
pub fn pending_delivery(
    store: &Store,
    due: Millis,
    account: AccountId,
    id: DeliveryId,
) -> DomainResult<Option<Delivery>> {
    store.claim_delivery(due, account, id, super::now_millis())
}

/// Records an attempt and decides what follows: done, another try after [`retry_gap`], or
/// failed (for good, or because [`GIVE_UP_AFTER`] has passed since the delivery was queued).
/// One transaction with the outbox entry and the rule's counts. Not flushed.
pub fn record_attempt(
    store: &Store,
    account: AccountId,
    id: DeliveryId,
    outcome: AttemptOutcome,
    now: Millis,
) -> DomainResult<Option<Delivery>> {
    store.update_delivery(account, id, |delivery| {
        let (ok, detail) = match &outcome {
            AttemptOutcome::Delivered(detail) => (true, detail.clone()),
            AttemptOutcome::Retry(detail) | AttemptOutcome::Failed(detail) => {
                (false, detail.clone())
            }
        };
        delivery.attempts.push(Attempt {
            at: now,
            ok,
            detail,
        });
        let failures = delivery.attempts.iter().filter(|a| !a.ok).count() as u32;
        match outcome {
            AttemptOutcome::Delivered(_) => {
                delivery.state = DeliveryState::Delivered;
                delivery.next_at = None;
            }
            AttemptOutcome::Failed(_) => {
                delivery.state = DeliveryState::Failed;
                delivery.next_at = None;
            }
            AttemptOutcome::Retry(_) => {
                let next = now + retry_gap(failures);
                if next > delivery.created_at + GIVE_UP_AFTER {
                    delivery.state = DeliveryState::Failed;
                    delivery.next_at = None;
                } else {
                    delivery.next_at = Some(next);
                }
            }
        }
    })
}

/// Carries out a delivery the domain can do itself: a group change or a campaign record. A
/// contact already in the group or campaign counts as done. Network actions answer `None`.
pub fn apply_local_action(
    store: &Store,
    delivery: &Delivery,
) -> DomainResult<Option<AttemptOutcome>> {
    let account = delivery.account;
    let contact = delivery.contact.id;
    let outcome = match &delivery.action {
        DeliveryAction::AddToGroup(group) | DeliveryAction::RemoveFromGroup(group) => {
            let adding = matches!(delivery.action, DeliveryAction::AddToGroup(_));
            if store.group(account, *group)?.is_none() {
                return Ok(Some(AttemptOutcome::Failed(format!(
                    "grupa {group} nie istnieje"
                ))));
            }
            let changed = store.update_contact(
                account,
                contact,
                |current| {
                    let mut next = current.clone();
                    if adding {
                        next.groups.push(*group);
                    } else {
                        next.groups.retain(|g| g != group);
                    }
                    Ok(next)
                },
                None,
            );
            match changed {
                Ok(_) => AttemptOutcome::Delivered(if adding {
                    format!("w grupie {group}")
                } else {
                    format!("poza grupą {group}")
                }),
                Err(DomainError::NotFound(_)) => {
                    AttemptOutcome::Failed("kontakt usunięty".to_owned())
                }
                Err(error) => return Err(error),
            }
        }
        DeliveryAction::AddToCampaign(target) => {
            let record = RecordInput {
                customer: contact,
                status_id: Some(target.status_id),
                dictionary_status_id: None,
                agent_login: None,
                next_call_date: None,
                order: None,
            };
            match add_records(store, account, &target.campaign, &[record]) {
                Ok(outcomes) => match outcomes.first().map(|(_, outcome)| *outcome) {
                    Some(RecordOutcome::Added { record_id }) => {
                        AttemptOutcome::Delivered(format!("rekord {record_id}"))
                    }
                    Some(RecordOutcome::AlreadyExists { record_id }) => {
                        AttemptOutcome::Delivered(format!("już w kampanii (rekord {record_id})"))
                    }
                    Some(RecordOutcome::Failed(refusal)) => {
                        AttemptOutcome::Failed(refusal_text(refusal).to_owned())
                    }
                    None => AttemptOutcome::Failed("brak rekordu".to_owned()),
                },
                Err(DomainError::NotFound(_)) => {
                    AttemptOutcome::Failed(format!("kampania {} nie istnieje", target.campaign))
                }
                Err(error) => return Err(error),
            }
        }
        DeliveryAction::Webhook(_) | DeliveryAction::SendSms { .. } => return Ok(None),
    };
    Ok(Some(outcome))
}

fn refusal_text(refusal: RecordRefusal) -> &'static str {
    match refusal {
        RecordRefusal::CustomerNotFound => "kontakt usunięty",
        RecordRefusal::UnknownStatus => "kampania nie ma tego statusu",
        RecordRefusal::AgentRequired => "status wymaga agenta",
        RecordRefusal::NextCallDateRequired => "status wymaga daty połączenia",
        RecordRefusal::MalformedNextCallDate => "zła data połączenia",
        RecordRefusal::UnknownAgent => "nieznany agent",
    }
}

/// Whether an SMS may go to this contact. This is the one place that decides it: a contact on
/// the account's SMS blacklist (SerwerSMS `blacklist/add`, see `domain/blacklist.rs`) or
/// flagged `blacklist` on its record gets no text from a rule.
pub fn may_text(store: &Store, account: AccountId, contact: ContactId) -> DomainResult<bool> {
    match store.contact(account, contact)? {
        Some(contact) => {
            Ok(!contact.blacklist
                && !crate::domain::is_blacklisted(store, account, &contact.phone)?)
        }
        None => Ok(true),
    }
}

/// How the account's SMS gateway is reached. The secret is kept because sending needs it; it
/// is never printed or logged (`Debug` hides it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsGateway {
    /// The API root, ending in `/` (`https://api2.serwersms.pl/`).
    pub url: String,
    pub credentials: GatewayCredentials,
    /// Sender name for rules that give none.
    pub sender: Option<String>,
    pub updated_at: Millis,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayCredentials {
    Token(String),
    Password { username: String, password: String },
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGateway")
            .field("url", &self.url)
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

impl SmsGateway {
    /// `token` or `username <name>`: how the gateway is reached, without the secret.
    pub fn auth_description(&self) -> String {
        match &self.credentials {
            GatewayCredentials::Token(_) => "token".to_owned(),
            GatewayCredentials::Password { username, .. } => format!("username {username}"),
        }
    }
}

/// Sets the account's SMS gateway. The URL must be http(s); it gets a trailing `/`. Returns
/// a warning when it points at a loopback or private address. Not flushed.
pub fn set_sms_gateway(
    store: &Store,
    account: AccountId,
    url: &str,
    credentials: GatewayCredentials,
    sender: Option<&str>,
) -> Result<(SmsGateway, Option<String>), super::rules::RuleError> {
    let host = super::rules::check_target_url("url", url)?;
    let secret_given = match &credentials {
        GatewayCredentials::Token(token) => !token.trim().is_empty(),
        GatewayCredentials::Password { username, password } => {
            !username.trim().is_empty() && !password.is_empty()
        }
    };
    if !secret_given {
        return Err(super::rules::RuleError::Invalid {
            path: "credentials".into(),
            message: "give a token, or a username and a password".into(),
        });
    }
    if let Some(sender) = sender {
        super::rules::check_sender("sender", sender)?;
    }
    store
        .account(account)?
        .ok_or(DomainError::NotFound(super::error::Entity::Account))?;
    let mut url = url.trim().to_owned();
    if !url.ends_with('/') {
        url.push('/');
    }
    let gateway = SmsGateway {
        url,
        credentials,
        sender: sender.map(|s| s.trim().to_owned()),
        updated_at: super::model::now_millis(),
    };
    store.put_sms_gateway(account, &gateway)?;
    let warning = super::rules::private_host_warning("url", &host);
    Ok((gateway, warning))
}

pub fn sms_gateway(store: &Store, account: AccountId) -> DomainResult<Option<SmsGateway>> {
    Ok(store.sms_gateway(account)?)
}

/// The latest firings of a rule, newest first, with their deliveries (the rule's log).
pub fn rule_log(
    store: &Store,
    account: AccountId,
    rule: RuleId,
    limit: usize,
) -> DomainResult<Vec<(Firing, Vec<Delivery>)>> {
    let mut log = Vec::new();
    for firing in store.latest_firings(account, rule, limit)? {
        let mut deliveries = Vec::with_capacity(firing.deliveries.len());
        for id in &firing.deliveries {
            if let Some(delivery) = store.delivery(account, *id)? {
                deliveries.push(delivery);
            }
        }
        log.push((firing, deliveries));
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(retry_gap(1), 5_000);
        assert_eq!(retry_gap(2), 10_000);
        assert_eq!(retry_gap(3), 20_000);
        assert_eq!(retry_gap(12), MAX_RETRY_GAP);
        assert_eq!(retry_gap(u32::MAX), MAX_RETRY_GAP);
    }
}
