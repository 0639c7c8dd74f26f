//! Page views and custom events under their visitor, and the trackUser link, each written in
//! one transaction with the visitor record it touches.

use super::{decode, decode_tx, encode, fail, keys, tx_link_visitor, Store, StoreError};
use crate::domain::{
    now_millis, AccountId, Contact, ContactId, DomainError, DomainResult, Entity, LinkCause,
    PageView, Suid, TrackedEvent, Visitor,
};
use sled::transaction::TransactionalTree;

/// Creates the visitor if never seen and moves its `last_seen` to now.
fn tx_touch_visitor(data: &TransactionalTree, account: AccountId, suid: Suid) -> super::Tx<()> {
    let key = keys::visitor(account, suid);
    let now = now_millis();
    let visitor = match data.get(&key)? {
        Some(bytes) => Visitor {
            last_seen: now,
            ..decode_tx::<Visitor>(&bytes)?
        },
        None => Visitor::new(suid, now),
    };
    data.insert(key, encode(&visitor))?;
    Ok(())
}

impl Store {
    pub fn insert_page_view(&self, account: AccountId, view: &PageView) -> DomainResult<()> {
        self.transaction(|data, _| {
            tx_touch_visitor(data, account, view.suid)?;
            data.insert(
                keys::page_view(account, view.suid, view.at, view.id),
                encode(view),
            )?;
            Ok(())
        })?;
        crate::telemetry::page_view_stored();
        Ok(())
    }

    pub fn insert_tracked_event(
        &self,
        account: AccountId,
        event: &TrackedEvent,
    ) -> DomainResult<()> {
        self.transaction(|data, _| {
            tx_touch_visitor(data, account, event.suid)?;
            data.insert(
                keys::tracked_event(account, event.suid, event.at, event.id),
                encode(event),
            )?;
            Ok(())
        })?;
        crate::telemetry::event_stored();
        Ok(())
    }

    /// A visitor's page views, oldest first.
    pub fn page_views(&self, account: AccountId, suid: Suid) -> Result<Vec<PageView>, StoreError> {
        self.data
            .scan_prefix(keys::page_views(account, suid))
            .values()
            .map(|value| decode(&value?))
            .collect()
    }

    /// A visitor's custom events, oldest first.
    pub fn tracked_events(
        &self,
        account: AccountId,
        suid: Suid,
    ) -> Result<Vec<TrackedEvent>, StoreError> {
        self.data
            .scan_prefix(keys::tracked_events(account, suid))
            .values()
            .map(|value| decode(&value?))
            .collect()
    }

    /// Links visitor `suid` to `contact` if the visitor is anonymous, and returns the contact's
    /// canonical suid (the visitor's, if the contact had none; a fresh one if the visitor
    /// belongs to another contact and this contact has none). One transaction.
    pub fn link_visitor(
        &self,
        account: AccountId,
        contact: ContactId,
        suid: Suid,
        cause: LinkCause,
    ) -> DomainResult<Suid> {
        self.transaction(|data, _| {
            let key = keys::contact(account, contact);
            let Some(bytes) = data.get(&key)? else {
                return fail(DomainError::NotFound(Entity::Contact));
            };
            let mut record: Contact = decode_tx(&bytes)?;
            tx_link_visitor(data, account, &mut record, suid, cause)?;
            if record.suid.is_none() {
                tx_link_visitor(data, account, &mut record, Suid::random(), cause)?;
            }
            let Some(canonical) = record.suid else {
                return fail(DomainError::NotFound(Entity::Contact));
            };
            data.insert(key, encode(&record))?;
            Ok(canonical)
        })
    }
}
