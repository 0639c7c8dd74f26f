//! The blacklist's storage: one entry per phone (by E.164) per account, and the `blacklist`
//! flag of the contacts with that phone, changed in the same transaction.

use super::backend::TransactionalTree;
use super::{decode_tx, encode, fail, keys, Store, StoreError, Tx, MAX_RETRIES};
use crate::domain::{
    AccountId, BlacklistEntry, Contact, ContactId, DomainError, DomainResult, Entity,
};

impl Store {
    pub fn blacklist_entry(
        &self,
        account: AccountId,
        e164: &str,
    ) -> Result<Option<BlacklistEntry>, StoreError> {
        self.get(keys::blacklist_entry(account, e164))
    }

    /// The account's blacklist in phone order.
    pub fn blacklist(&self, account: AccountId) -> Result<Vec<BlacklistEntry>, StoreError> {
        self.list(keys::blacklist(account))
    }

    /// Stores `entry` unless its phone is listed already, and marks the phone's contacts.
    /// Returns the stored entry (the earlier one if there was one).
    pub fn insert_blacklist_entry(
        &self,
        account: AccountId,
        entry: &BlacklistEntry,
    ) -> DomainResult<BlacklistEntry> {
        let Some(e164) = entry.phone.e164() else {
            return Err(DomainError::InvalidPhone { field: "phone" });
        };
        self.with_phone_contacts(account, e164, |data, contacts| {
            let key = keys::blacklist_entry(account, e164);
            let stored = match data.get(&key)? {
                Some(bytes) => decode_tx(&bytes)?,
                None => {
                    data.insert(key, encode(entry))?;
                    entry.clone()
                }
            };
            tx_mark_contacts(data, account, e164, contacts, true)?;
            Ok(stored)
        })
    }

    /// Removes the phone from the blacklist and clears its contacts' mark.
    pub fn delete_blacklist_entry(&self, account: AccountId, e164: &str) -> DomainResult<()> {
        self.with_phone_contacts(account, e164, |data, contacts| {
            if data.remove(keys::blacklist_entry(account, e164))?.is_none() {
                return fail(DomainError::NotFound(Entity::BlacklistedPhone));
            }
            tx_mark_contacts(data, account, e164, contacts, false)
        })
    }

    /// Runs `body` in a transaction with the ids of the contacts holding `e164`, read first
    /// (sled transactions cannot scan). If a contact with that phone appeared meanwhile, the
    /// (idempotent) body runs again with it, so no contact keeps a stale mark.
    fn with_phone_contacts<T>(
        &self,
        account: AccountId,
        e164: &str,
        body: impl Fn(&TransactionalTree, &[ContactId]) -> Tx<T>,
    ) -> DomainResult<T> {
        for _ in 0..MAX_RETRIES {
            let before = self.phone_contact_ids(account, e164)?;
            let outcome = self.transaction(|data, _| body(data, &before))?;
            if self.phone_contact_ids(account, e164)? == before {
                return Ok(outcome);
            }
        }
        Err(DomainError::Store(StoreError::Busy))
    }

    fn phone_contact_ids(
        &self,
        account: AccountId,
        e164: &str,
    ) -> Result<Vec<ContactId>, StoreError> {
        self.ids_under(keys::phone_index(account, e164))
            .map(|id| id.map(ContactId))
            .collect()
    }
}

fn tx_mark_contacts(
    data: &TransactionalTree,
    account: AccountId,
    e164: &str,
    contacts: &[ContactId],
    listed: bool,
) -> Tx<()> {
    for id in contacts {
        let key = keys::contact(account, *id);
        let Some(bytes) = data.get(&key)? else {
            continue;
        };
        let mut contact: Contact = decode_tx(&bytes)?;
        if contact.phone.e164() == Some(e164) && contact.blacklist != listed {
            contact.blacklist = listed;
            data.insert(key, encode(&contact))?;
        }
    }
    Ok(())
}
