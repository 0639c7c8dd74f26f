//! Erasure, the audit log and retention. Erasing a contact removes, in the transaction that
//! deletes it, every visitor linked to it with all their page views and events, its
//! activities, campaign records, rule firings and marks, and its deliveries (a pending one
//! leaves the outbox). sled transactions cannot scan, so what to erase is read first
//! ([`Store::plan_erasure`]); the transaction re-checks each visitor's link, and a sweep after it
//! removes what a page view racing the delete added under an erased suid before the erasure.

use super::backend::{Batch, IVec, TransactionalTree};
use super::{decode, decode_tx, encode, keys, Store, StoreError, Tx};
use crate::domain::{
    AccountId, AuditEntry, ContactId, Delivery, DeliveryId, Firing, Millis, PrivacySettings,
    Purged, Suid, Visitor,
};
use std::collections::HashSet;

/// Everything stored about a set of contacts outside their own records and indexes.
#[derive(Default)]
pub(super) struct Erasure {
    /// Each contact's visitors (through the contact→visitor index).
    visitors: Vec<(ContactId, Suid)>,
    /// Keys removed as they are: page views, events, activities, campaign records, firing
    /// marks and log entries, contact→delivery entries.
    keys: Vec<Vec<u8>>,
    deliveries: Vec<DeliveryId>,
}

impl Erasure {
    /// The suids whose history this erasure removes.
    pub(super) fn suids(&self) -> impl Iterator<Item = Suid> + '_ {
        self.visitors.iter().map(|(_, suid)| *suid)
    }
}

impl Store {
    /// Reads what erasing `ids` must remove.
    pub(super) fn plan_erasure(
        &self,
        account: AccountId,
        ids: &[ContactId],
    ) -> Result<Erasure, StoreError> {
        let wanted: HashSet<ContactId> = ids.iter().copied().collect();
        let mut plan = Erasure::default();
        let push_prefix = |plan: &mut Erasure, prefix: Vec<u8>| -> Result<(), StoreError> {
            for key in self.data.scan_prefix(prefix).keys() {
                plan.keys.push(key?.to_vec());
            }
            Ok(())
        };
        for id in &wanted {
            for key in self
                .data
                .scan_prefix(keys::contact_visitors(account, *id))
                .keys()
            {
                let key = key?;
                let suid = keys::trailing_suid(&key).ok_or_else(|| {
                    StoreError::Corrupt("contact-visitor key without suid".into())
                })?;
                plan.keys.push(key.to_vec());
                let linked = self
                    .get::<Visitor>(keys::visitor(account, suid))?
                    .and_then(|visitor| visitor.link)
                    .is_some_and(|link| link.contact == *id);
                if linked {
                    plan.visitors.push((*id, suid));
                    push_prefix(&mut plan, keys::page_views(account, suid))?;
                    push_prefix(&mut plan, keys::tracked_events(account, suid))?;
                }
            }
            push_prefix(&mut plan, keys::activities(account, *id))?;
            for key in self
                .data
                .scan_prefix(keys::contact_deliveries(account, *id))
                .keys()
            {
                let key = key?;
                let delivery = keys::trailing_id(&key)
                    .ok_or_else(|| StoreError::Corrupt("contact-delivery key without id".into()))?;
                plan.deliveries.push(DeliveryId(delivery));
                plan.keys.push(key.to_vec());
            }
        }
        let ends_with_contact =
            |key: &[u8]| keys::trailing_id(key).is_some_and(|id| wanted.contains(&ContactId(id)));
        for prefix in [
            keys::campaign_records(account),
            keys::all_firing_marks(account),
        ] {
            for key in self.data.scan_prefix(prefix).keys() {
                let key = key?;
                if ends_with_contact(&key) {
                    plan.keys.push(key.to_vec());
                }
            }
        }
        for entry in self.data.scan_prefix(keys::all_firings(account)) {
            let (key, value) = entry?;
            let firing: Firing = decode(&value)?;
            if wanted.contains(&firing.contact) {
                plan.keys.push(key.to_vec());
            }
        }
        Ok(plan)
    }

    /// Removes what a write racing an erasure stored under an erased suid up to `at` (the
    /// erasure's time): views and events after it belong to a new anonymous visitor.
    pub(super) fn sweep_erased(
        &self,
        account: AccountId,
        suids: &[Suid],
        at: Millis,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard();
        let mut batch = Batch::default();
        for suid in suids {
            for prefix in [
                keys::page_views(account, *suid),
                keys::tracked_events(account, *suid),
            ] {
                let end = keys::visitor_range_end(&prefix, at);
                for key in self.data.range(prefix..end).keys() {
                    batch.remove(key?);
                }
            }
        }
        self.data.apply_batch(batch)?;
        Ok(())
    }

    /// Every firing of any rule (deleted rules included) for `contact`, oldest first.
    pub fn contact_firings(
        &self,
        account: AccountId,
        contact: ContactId,
    ) -> crate::domain::DomainResult<Vec<Firing>> {
        self.settled()?;
        let mut found = Vec::new();
        for value in self.data.scan_prefix(keys::all_firings(account)).values() {
            let firing: Firing = decode(&value.map_err(StoreError::from)?)?;
            if firing.contact == contact {
                found.push(firing);
            }
        }
        found.sort_by_key(|firing| (firing.at, firing.id));
        Ok(found)
    }

    /// The account's data-protection settings, if ever set.
    pub fn privacy_settings(
        &self,
        account: AccountId,
    ) -> Result<Option<PrivacySettings>, StoreError> {
        self.get(keys::privacy_settings(account))
    }

    pub fn put_privacy_settings(
        &self,
        account: AccountId,
        settings: &PrivacySettings,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard();
        self.data
            .insert(keys::privacy_settings(account), encode(settings))?;
        Ok(())
    }

    /// Deletes the account's page views and events from before `cutoff`, and anonymous
    /// visitors last seen before it, `batch` keys per write (the write barrier is taken per
    /// batch, so requests and backups interleave).
    pub fn purge_before(
        &self,
        account: AccountId,
        cutoff: Millis,
        batch: usize,
    ) -> Result<Purged, StoreError> {
        let mut purged = Purged::default();
        for (prefix, count) in [
            (keys::all_page_views(account), &mut purged.page_views),
            (keys::all_tracked_events(account), &mut purged.events),
        ] {
            let mut pending = Vec::with_capacity(batch);
            for key in self.data.scan_prefix(prefix).keys() {
                let key = key?;
                if keys::visitor_entry_time(&key).is_some_and(|at| at < cutoff) {
                    pending.push(key);
                }
                if pending.len() >= batch {
                    *count += self.remove_all(&mut pending)?;
                }
            }
            *count += self.remove_all(&mut pending)?;
        }
        let mut stale = Vec::new();
        for value in self.data.scan_prefix(keys::all_visitors(account)).values() {
            let visitor: Visitor = decode(&value?)?;
            if visitor.link.is_none() && visitor.last_seen < cutoff {
                stale.push(visitor.suid);
            }
        }
        for suid in stale {
            // Re-checked in a transaction: a page view may have just touched the visitor.
            let removed = self.transaction(|data, _| {
                let key = keys::visitor(account, suid);
                let Some(bytes) = data.get(&key)? else {
                    return Ok(false);
                };
                let visitor: Visitor = decode_tx(&bytes)?;
                if visitor.link.is_some() || visitor.last_seen >= cutoff {
                    return Ok(false);
                }
                data.remove(key)?;
                Ok(true)
            });
            match removed {
                Ok(true) => purged.visitors += 1,
                Ok(false) => {}
                Err(crate::domain::DomainError::Store(error)) => return Err(error),
                Err(error) => return Err(StoreError::Corrupt(error.to_string())),
            }
        }
        Ok(purged)
    }

    fn remove_all(&self, keys: &mut Vec<IVec>) -> Result<u64, StoreError> {
        let _guard = self.write_guard();
        let mut batch = Batch::default();
        let count = keys.len() as u64;
        for key in keys.drain(..) {
            batch.remove(key);
        }
        self.data.apply_batch(batch)?;
        Ok(count)
    }

    /// The account's audit log, oldest first.
    pub fn audit_log(&self, account: AccountId) -> Result<Vec<AuditEntry>, StoreError> {
        self.list(keys::audit_log(account))
    }
}

/// Carries out `plan` inside a transaction over `data` and `outbox`.
pub(super) fn tx_erase(
    data: &TransactionalTree,
    outbox: &TransactionalTree,
    account: AccountId,
    plan: &Erasure,
) -> Tx<()> {
    for (contact, suid) in &plan.visitors {
        let key = keys::visitor(account, *suid);
        if let Some(bytes) = data.get(&key)? {
            let visitor: Visitor = decode_tx(&bytes)?;
            if visitor.link.is_some_and(|link| link.contact == *contact) {
                data.remove(key)?;
            }
        }
    }
    for key in &plan.keys {
        data.remove(key.as_slice())?;
    }
    for id in &plan.deliveries {
        let key = keys::delivery(account, *id);
        if let Some(bytes) = data.get(&key)? {
            let delivery: Delivery = decode_tx(&bytes)?;
            if let Some(at) = delivery.next_at {
                outbox.remove(keys::outbox::due(at, account, *id))?;
            }
            data.remove(key)?;
        }
    }
    Ok(())
}

/// Writes one audit entry.
pub(super) fn tx_audit(data: &TransactionalTree, account: AccountId, entry: &AuditEntry) -> Tx<()> {
    data.insert(
        keys::audit_entry(account, entry.at, entry.contact.0),
        encode(entry),
    )?;
    Ok(())
}
