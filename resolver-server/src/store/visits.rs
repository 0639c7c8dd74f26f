//! Page views and custom events under their visitor (each a visitor touch and the record, two
//! single-key writes, see `insert_page_view`; a page view also leaves its traffic tally, a
//! third), and the trackUser link, written in one transaction with the visitor record it
//! touches.

use super::backend::TransactionalTree;
use super::{decode, decode_tx, encode, fail, keys, traffic, Store, StoreError, Tx};
use crate::domain::{
    now_millis, AccountId, Contact, ContactId, DomainError, DomainResult, Entity, LinkCause,
    PageView, Suid, Tally, TrackedEvent, Visitor, VisitorLink,
};

impl Store {
    /// Creates the visitor if never seen and moves its `last_seen` to now, as one atomic
    /// single-key update (compare-and-swap, retried on a concurrent change) that can run while
    /// a flush does. `last_seen` never moves backwards.
    fn touch_visitor(&self, account: AccountId, suid: Suid) -> Result<(), StoreError> {
        let now = now_millis();
        let mut corrupt = None;
        self.data
            .fetch_and_update(keys::visitor(account, suid), |old| match old {
                None => Some(encode(&Visitor::new(suid, now))),
                Some(bytes) => match decode::<Visitor>(bytes) {
                    Ok(visitor) => Some(encode(&Visitor {
                        last_seen: visitor.last_seen.max(now),
                        ..visitor
                    })),
                    Err(error) => {
                        // Left as it is; the caller reports it.
                        corrupt = Some(error);
                        Some(bytes.to_vec())
                    }
                },
            })?;
        corrupt.map_or(Ok(()), Err)
    }

    /// The visitor is touched first and the page view written after it, each an atomic
    /// single-key write, not one transaction: sled's flush holds its global lock (shared) for
    /// the whole fsync and a transaction's commit needs it exclusively, so under load every
    /// transactional page view waited for a flush and only a few got between two flushes.
    /// Single-key writes proceed while a flush runs. A crash between the two leaves a touched
    /// visitor without this (unacknowledged) page view: a state a visitor can be in anyway.
    pub fn insert_page_view(&self, account: AccountId, view: &PageView) -> DomainResult<()> {
        let _guard = self.write_guard();
        self.touch_visitor(account, view.suid)?;
        self.data
            .insert(
                keys::page_view(account, view.suid, view.at, view.id),
                encode(view),
            )
            .map_err(StoreError::from)?;
        self.insert_tally(
            account,
            &Tally::PageView {
                suid: view.suid,
                at: view.at,
                id: view.id,
            },
        )?;
        crate::telemetry::page_view_stored();
        Ok(())
    }

    pub fn insert_tracked_event(
        &self,
        account: AccountId,
        event: &TrackedEvent,
    ) -> DomainResult<()> {
        // Outside a transaction, for the reason given at `insert_page_view`.
        let _guard = self.write_guard();
        self.touch_visitor(account, event.suid)?;
        self.data
            .insert(
                keys::tracked_event(account, event.suid, event.at, event.id),
                encode(event),
            )
            .map_err(StoreError::from)?;
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
            let had_suid = record.suid.is_some();
            tx_link_visitor(data, account, &mut record, suid, cause)?;
            if record.suid.is_none() {
                tx_link_visitor(data, account, &mut record, Suid::random(), cause)?;
            }
            let Some(canonical) = record.suid else {
                return fail(DomainError::NotFound(Entity::Contact));
            };
            // The record changes only when it gets its canonical suid: a returning customer's
            // link leaves it (and the search index, which follows every contact write) alone.
            if !had_suid {
                data.insert(key, encode(&record))?;
            }
            Ok(canonical)
        })
    }
}

impl Store {
    pub fn visitor(&self, account: AccountId, suid: Suid) -> Result<Option<Visitor>, StoreError> {
        self.get(keys::visitor(account, suid))
    }

    /// Every visitor of the account, in no particular order.
    pub fn visitors(&self, account: AccountId) -> Result<Vec<Visitor>, StoreError> {
        self.list(keys::all_visitors(account))
    }

    /// The visitors linked to a contact, through the contact→visitor index.
    pub fn contact_visitors(
        &self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Vec<Visitor>, StoreError> {
        let mut visitors = Vec::new();
        for key in self
            .data
            .scan_prefix(keys::contact_visitors(account, contact))
            .keys()
        {
            let key = key?;
            let suid = keys::trailing_suid(&key)
                .ok_or_else(|| StoreError::Corrupt("contact-visitor key without suid".into()))?;
            if let Some(visitor) = self.visitor(account, suid)? {
                if visitor.link.map(|link| link.contact) == Some(contact) {
                    visitors.push(visitor);
                }
            }
        }
        Ok(visitors)
    }
}

/// Links visitor `suid` (created if never seen) to `contact` unless it is already linked to a
/// different contact that still exists: only an anonymous visitor is merged into a contact.
/// The contact's canonical suid is set if it had none. Returns whether the link was made.
pub(super) fn tx_link_visitor(
    data: &TransactionalTree,
    account: AccountId,
    contact: &mut Contact,
    suid: Suid,
    cause: LinkCause,
) -> Tx<bool> {
    let now = crate::domain::now_millis();
    let key = keys::visitor(account, suid);
    let mut visitor = match data.get(&key)? {
        Some(bytes) => decode_tx::<Visitor>(&bytes)?,
        None => Visitor::new(suid, now),
    };
    if let Some(link) = visitor.link {
        if link.contact == contact.id {
            contact.suid.get_or_insert(suid);
            return Ok(true);
        }
        if data.get(keys::contact(account, link.contact))?.is_some() {
            return Ok(false);
        }
    }
    visitor.link = Some(VisitorLink {
        contact: contact.id,
        cause,
        at: now,
    });
    data.insert(key, encode(&visitor))?;
    data.insert(keys::contact_visitor(account, contact.id, suid), &[])?;
    traffic::tx_tally(
        data,
        account,
        &crate::domain::Tally::Linked {
            suid,
            cause,
            at: now,
        },
    )?;
    contact.suid.get_or_insert(suid);
    Ok(true)
}
