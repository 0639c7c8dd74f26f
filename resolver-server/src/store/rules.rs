//! Rules, their firings and the outbox. A firing is queued in the `outbox` tree with one
//! single-key write; laying it out (its mark, its log entry, its deliveries, the due entries
//! and the rule's counts) is one transaction over the `data` and `outbox` trees, and so is each
//! delivery attempt: a delivery is never queued without its firing, nor lost between attempts. Each account's enabled rules are cached in memory; every rule write drops the
//! account's entry.

use super::backend::pg::Invalidation;
use super::backend::{self, TransactionError, TransactionalTree};
use super::{decode, decode_tx, encode, fail, keys, traffic, Store, StoreError, Tx};
use crate::domain::{
    AccountId, ContactId, Delivery, DeliveryId, DeliveryState, DomainError, DomainResult, Firing,
    FiringMark, Millis, QueuedFiring, Rule, RuleId, RuleSet, RuleStats, SmsGateway, Suid, Tally,
    TrackedEvent,
};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

/// How long a node that claimed a delivery on PostgreSQL has to record its attempt before
/// another node may attempt it (longer than any attempt's timeouts).
const CLAIM_LEASE: Millis = 120_000;

/// Enabled rules per account, filled on first use.
#[derive(Clone, Default)]
pub(super) struct RuleCache(Arc<RwLock<HashMap<AccountId, Arc<RuleSet>>>>);

impl RuleCache {
    fn get(&self, account: AccountId) -> Option<Arc<RuleSet>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&account)
            .cloned()
    }

    fn put(&self, account: AccountId, rules: Arc<RuleSet>) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account, rules);
    }

    fn forget(&self, account: AccountId) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&account);
    }

    fn clear(&self) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// The notification a rule change sends to the other nodes (PostgreSQL only; see
/// [`Store::listen_for_invalidations`]).
fn rules_changed(account: AccountId) -> String {
    format!("rules:{}", account.0)
}

fn get_tx<T: DeserializeOwned>(tree: &TransactionalTree, key: &[u8]) -> Tx<Option<T>> {
    tree.get(key)?.map(|bytes| decode_tx(&bytes)).transpose()
}

fn adjust_stats(
    data: &TransactionalTree,
    account: AccountId,
    rule: RuleId,
    change: impl Fn(&mut RuleStats),
) -> Tx<()> {
    let key = keys::rule_stats(account, rule);
    let mut stats: RuleStats = get_tx(data, &key)?.unwrap_or_default();
    change(&mut stats);
    data.insert(key, encode(&stats))?;
    Ok(())
}

/// How many queued firings one transaction lays out.
const SETTLE_BATCH: usize = 200;

/// Lays out one queued firing inside a transaction (see [`Store::settle_firings`]); whether it
/// fired.
fn lay_out(
    data: &TransactionalTree,
    outbox: &TransactionalTree,
    account: AccountId,
    queued: &QueuedFiring,
) -> Tx<bool> {
    let QueuedFiring {
        previous,
        mark,
        firing,
        deliveries,
    } = queued;
    let mark_key = keys::firing_mark(account, firing.rule, firing.contact);
    if get_tx::<FiringMark>(data, &mark_key)? != *previous
        || data.get(keys::contact(account, firing.contact))?.is_none()
    {
        return Ok(false);
    }
    data.insert(mark_key, encode(mark))?;
    data.insert(
        keys::firing(account, firing.rule, firing.id),
        encode(firing),
    )?;
    for delivery in deliveries {
        data.insert(keys::delivery(account, delivery.id), encode(delivery))?;
        data.insert(
            keys::contact_delivery(account, firing.contact, delivery.id),
            &[],
        )?;
        if let Some(at) = delivery.next_at {
            outbox.insert(keys::outbox::due(at, account, delivery.id), &[])?;
        }
    }
    traffic::tx_tally(data, account, &Tally::RuleFired { at: firing.at })?;
    adjust_stats(data, account, firing.rule, |stats| {
        stats.fired += 1;
        stats.last_fired_at = Some(firing.at);
    })?;
    Ok(true)
}

impl Store {
    pub(super) fn outbox_transaction<T>(
        &self,
        body: impl Fn(&TransactionalTree, &TransactionalTree) -> Tx<T>,
    ) -> DomainResult<T> {
        let _guard = self.write_guard();
        backend::transaction(&self.data, &self.outbox, body).map_err(|error| match error {
            TransactionError::Abort(error) => error,
            TransactionError::Storage(error) => DomainError::Store(error),
        })
    }

    /// Drops cached rules when another node (or this one) changed them: each committed rule
    /// change notifies the account on PostgreSQL, and a lost listening connection drops every
    /// account's rules, since notifications may have been missed.
    pub(super) fn listen_for_invalidations(&self, pg: &backend::pg::Pg) {
        let cache = self.rule_cache.clone();
        pg.on_invalidation(move |what| match what {
            Invalidation::Everything => cache.clear(),
            Invalidation::Payload(payload) => {
                if let Some(account) = payload
                    .strip_prefix("rules:")
                    .and_then(|id| id.parse().ok())
                {
                    cache.forget(AccountId(account));
                }
            }
        });
    }

    /// Stores a rule (new or changed).
    pub fn insert_rule(&self, account: AccountId, rule: &Rule) -> DomainResult<()> {
        self.transaction(|data, _| {
            data.insert(keys::rule(account, rule.id), encode(rule))?;
            data.notify(rules_changed(account));
            Ok(())
        })?;
        self.rule_cache.forget(account);
        Ok(())
    }

    /// Deletes a rule, its counts and its firing marks (its log and deliveries stay: they are
    /// the record of what was done).
    pub fn delete_rule(&self, account: AccountId, id: RuleId) -> DomainResult<()> {
        let marks: Vec<backend::IVec> = self
            .data
            .scan_prefix(keys::firing_marks(account, id))
            .keys()
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)?;
        self.transaction(|data, _| {
            data.remove(keys::rule(account, id))?;
            data.remove(keys::rule_stats(account, id))?;
            for key in &marks {
                data.remove(key)?;
            }
            data.notify(rules_changed(account));
            Ok(())
        })?;
        self.rule_cache.forget(account);
        Ok(())
    }

    pub fn rule(&self, account: AccountId, id: RuleId) -> Result<Option<Rule>, StoreError> {
        self.get(keys::rule(account, id))
    }

    /// Every rule of the account, oldest first.
    pub fn rules(&self, account: AccountId) -> Result<Vec<Rule>, StoreError> {
        self.list(keys::rules(account))
    }

    /// The account's enabled rules, from memory after the first call.
    pub fn enabled_rules(&self, account: AccountId) -> Result<Arc<RuleSet>, StoreError> {
        if let Some(rules) = self.rule_cache.get(account) {
            return Ok(rules);
        }
        let rules = Arc::new(RuleSet::new(
            self.rules(account)?
                .into_iter()
                .filter(|rule| rule.spec.enabled)
                .collect(),
        ));
        self.rule_cache.put(account, rules.clone());
        Ok(rules)
    }

    pub fn rule_stats(&self, account: AccountId, id: RuleId) -> DomainResult<RuleStats> {
        self.settled()?;
        Ok(self.get(keys::rule_stats(account, id))?.unwrap_or_default())
    }

    pub fn firing_mark(
        &self,
        account: AccountId,
        rule: RuleId,
        contact: ContactId,
    ) -> Result<Option<FiringMark>, StoreError> {
        self.get(keys::firing_mark(account, rule, contact))
    }

    /// Queues a firing decided on the request path: one single-key write, which proceeds while
    /// a flush runs (a transaction would wait for it), so rules firing during a burst of page
    /// views do not stall ingest. Wakes the delivery worker, which lays it out.
    pub fn queue_firing(
        &self,
        account: AccountId,
        queued: &QueuedFiring,
    ) -> Result<(), StoreError> {
        {
            let _guard = self.write_guard();
            self.outbox.insert(
                keys::outbox::queued_firing(account, queued.firing.id),
                encode(queued),
            )?;
        }
        self.outbox_signal.notify_one();
        Ok(())
    }

    /// Lays out up to `limit` queued firings in one transaction: each whose rule mark for the
    /// contact is still the one it was decided on, and whose contact still exists, gets its
    /// mark, log entry, deliveries, due entries and counts; the others (a concurrent firing won,
    /// or the contact was erased meanwhile) are dropped. Returns how many were taken.
    pub fn settle_firings(&self, limit: usize) -> DomainResult<usize> {
        let queued = self
            .outbox
            .scan_prefix(keys::outbox::QUEUED_FIRINGS)
            .keys()
            .take(limit)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| DomainError::Store(error.into()))?;
        if queued.is_empty() {
            return Ok(0);
        }
        let fired = self.outbox_transaction(|data, outbox| {
            let mut fired = Vec::new();
            for key in &queued {
                // Another node may have taken it since the scan.
                let Some(bytes) = outbox.remove(key.as_ref())? else {
                    continue;
                };
                let queued: QueuedFiring = decode_tx(&bytes)?;
                let Some(account) = keys::outbox::parse_queued_firing(key) else {
                    return fail(DomainError::Store(StoreError::Corrupt(
                        "malformed queued firing key".into(),
                    )));
                };
                if lay_out(data, outbox, account, &queued)? {
                    fired.push((queued.firing.rule, queued.firing.contact));
                }
            }
            Ok(fired)
        })?;
        for (rule, contact) in &fired {
            tracing::info!(rule = rule.0, contact = contact.0, "rule fired");
        }
        if !fired.is_empty() {
            self.outbox_signal.notify_one();
        }
        Ok(queued.len())
    }

    /// Settles every queued firing, so a read of firings, deliveries or rule counts sees each
    /// firing whose triggering call was acknowledged.
    pub(super) fn settled(&self) -> DomainResult<()> {
        while self.settle_firings(SETTLE_BATCH)? == SETTLE_BATCH {}
        Ok(())
    }

    /// Wakes whoever waits for new deliveries (the worker).
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_signal.clone()
    }

    /// The first `limit` waiting deliveries with their due times, earliest first.
    pub fn waiting_deliveries(
        &self,
        limit: usize,
    ) -> Result<Vec<(Millis, AccountId, DeliveryId)>, StoreError> {
        let mut due = Vec::new();
        let due_entries = self.outbox.range(..keys::outbox::QUEUED_FIRINGS.to_vec());
        for key in due_entries.keys().take(limit) {
            let key = key?;
            due.push(
                keys::outbox::parse_due(&key)
                    .ok_or_else(|| StoreError::Corrupt("malformed outbox key".into()))?,
            );
        }
        Ok(due)
    }

    /// Drops an outbox entry whose delivery is no longer pending (or no longer exists).
    pub fn remove_due(
        &self,
        at: Millis,
        account: AccountId,
        id: DeliveryId,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard();
        self.outbox.remove(keys::outbox::due(at, account, id))?;
        Ok(())
    }

    /// Takes the delivery behind the outbox entry `due` for an attempt: `None` (and the entry
    /// dropped) when it is no longer pending at that time. On PostgreSQL, where several nodes
    /// run workers, the claim also moves the entry (and the delivery's due time) to
    /// `now + CLAIM_LEASE` in the same transaction, so no other node attempts it meanwhile and
    /// another one does if this node dies before recording the attempt. On sled one process
    /// owns the outbox and nothing moves.
    pub fn claim_delivery(
        &self,
        due: Millis,
        account: AccountId,
        id: DeliveryId,
        now: Millis,
    ) -> DomainResult<Option<Delivery>> {
        let shared = self.is_shared();
        self.outbox_transaction(|data, outbox| {
            let due_key = keys::outbox::due(due, account, id);
            let key = keys::delivery(account, id);
            let mut delivery = match get_tx::<Delivery>(data, &key)? {
                Some(delivery)
                    if delivery.state == DeliveryState::Pending
                        && delivery.next_at == Some(due) =>
                {
                    delivery
                }
                _ => {
                    outbox.remove(due_key)?;
                    return Ok(None);
                }
            };
            if shared {
                let until = now + CLAIM_LEASE;
                outbox.remove(due_key)?;
                outbox.insert(keys::outbox::due(until, account, id), &[])?;
                delivery.next_at = Some(until);
                data.insert(key, encode(&delivery))?;
            }
            Ok(Some(delivery))
        })
    }

    pub fn delivery(
        &self,
        account: AccountId,
        id: DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get(keys::delivery(account, id))
    }

    /// Applies `change` to a pending delivery and moves its outbox entry to its new due time
    /// (or removes it once delivered or failed), counting the outcome on the rule, in one
    /// transaction. A delivery no longer pending is left as it is.
    pub fn update_delivery(
        &self,
        account: AccountId,
        id: DeliveryId,
        change: impl Fn(&mut Delivery),
    ) -> DomainResult<Option<Delivery>> {
        self.outbox_transaction(|data, outbox| {
            let key = keys::delivery(account, id);
            let Some(mut delivery) = get_tx::<Delivery>(data, &key)? else {
                return Ok(None);
            };
            if delivery.state != DeliveryState::Pending {
                return Ok(Some(delivery));
            }
            if let Some(at) = delivery.next_at {
                outbox.remove(keys::outbox::due(at, account, id))?;
            }
            change(&mut delivery);
            match delivery.state {
                DeliveryState::Pending => {
                    let Some(at) = delivery.next_at else {
                        return fail(DomainError::Store(StoreError::Corrupt(
                            "pending delivery without a due time".into(),
                        )));
                    };
                    outbox.insert(keys::outbox::due(at, account, id), &[])?;
                }
                DeliveryState::Delivered => {
                    adjust_stats(data, account, delivery.rule, |s| s.delivered += 1)?;
                }
                DeliveryState::Failed => {
                    adjust_stats(data, account, delivery.rule, |s| s.failed += 1)?;
                }
            }
            data.insert(key, encode(&delivery))?;
            Ok(Some(delivery))
        })
    }

    /// A contact's deliveries, oldest first.
    pub fn contact_deliveries(
        &self,
        account: AccountId,
        contact: ContactId,
    ) -> DomainResult<Vec<Delivery>> {
        self.settled()?;
        let mut deliveries = Vec::new();
        for id in self.ids_under(keys::contact_deliveries(account, contact)) {
            if let Some(delivery) = self.delivery(account, DeliveryId(id?))? {
                deliveries.push(delivery);
            }
        }
        Ok(deliveries)
    }

    /// A rule's latest firings, newest first.
    pub fn latest_firings(
        &self,
        account: AccountId,
        rule: RuleId,
        limit: usize,
    ) -> DomainResult<Vec<Firing>> {
        self.settled()?;
        Ok(self
            .data
            .scan_prefix(keys::firings(account, rule))
            .values()
            .rev()
            .take(limit)
            .map(|value| decode(&value?))
            .collect::<Result<_, StoreError>>()?)
    }

    /// How many of a visitor's page views at or after `since` have a URL that satisfies
    /// `keep`, counting no further than `enough`. Only the URL is decoded: this runs on the
    /// tracker's hot path whenever a rule's pattern matches.
    pub fn count_page_views_since(
        &self,
        account: AccountId,
        suid: Suid,
        since: Millis,
        enough: usize,
        keep: impl Fn(&str) -> bool,
    ) -> Result<usize, StoreError> {
        #[derive(serde::Deserialize)]
        struct Url<'a> {
            #[serde(borrow)]
            url: std::borrow::Cow<'a, str>,
        }
        let prefix = keys::page_views(account, suid);
        let mut count = 0;
        for entry in self.data.range(keys::page_view(account, suid, since, 0)..) {
            let (key, value) = entry?;
            if !key.starts_with(&prefix) || count >= enough {
                break;
            }
            let view: Url<'_> = serde_json::from_slice(&value)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            if keep(&view.url) {
                count += 1;
            }
        }
        Ok(count)
    }

    /// How many of a visitor's events at or after `since` satisfy `keep`, counting no further
    /// than `enough`.
    pub fn count_events_since(
        &self,
        account: AccountId,
        suid: Suid,
        since: Millis,
        enough: usize,
        keep: impl Fn(&TrackedEvent) -> bool,
    ) -> Result<usize, StoreError> {
        self.count_since(
            keys::tracked_events(account, suid),
            keys::tracked_event(account, suid, since, 0),
            enough,
            keep,
        )
    }

    fn count_since<T: DeserializeOwned>(
        &self,
        prefix: Vec<u8>,
        start: Vec<u8>,
        enough: usize,
        keep: impl Fn(&T) -> bool,
    ) -> Result<usize, StoreError> {
        let mut count = 0;
        for entry in self.data.range(start..) {
            let (key, value) = entry?;
            if !key.starts_with(&prefix) || count >= enough {
                break;
            }
            if keep(&decode(&value)?) {
                count += 1;
            }
        }
        Ok(count)
    }

    /// Deliveries waiting in the outbox (walks the tree: for metrics, not a request path).
    pub fn outbox_depth(&self) -> u64 {
        self.outbox.len().unwrap_or(0) as u64
    }

    pub fn put_sms_gateway(&self, account: AccountId, gateway: &SmsGateway) -> DomainResult<()> {
        let _guard = self.write_guard();
        self.data
            .insert(keys::sms_gateway(account), encode(gateway))
            .map_err(StoreError::from)?;
        Ok(())
    }

    pub fn sms_gateway(&self, account: AccountId) -> Result<Option<SmsGateway>, StoreError> {
        self.get(keys::sms_gateway(account))
    }
}
