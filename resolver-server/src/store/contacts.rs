//! Contacts with their indexes (phone, last digits, dialed digits, e-mail, group
//! membership), written with their record in one transaction.

use super::*;

impl Store {
    pub fn contact(
        &self,
        account: AccountId,
        id: ContactId,
    ) -> Result<Option<Contact>, StoreError> {
        self.get(keys::contact(account, id))
    }

    fn contacts_under(
        &self,
        account: AccountId,
        prefix: Vec<u8>,
    ) -> Result<Vec<Contact>, StoreError> {
        let mut contacts = Vec::new();
        for id in self.ids_under(prefix) {
            if let Some(contact) = self.contact(account, ContactId(id?))? {
                contacts.push(contact);
            }
        }
        Ok(contacts)
    }

    /// Contacts whose phone is `phone`, oldest first, through the phone index.
    pub fn contacts_by_phone(
        &self,
        account: AccountId,
        phone: &Phone,
    ) -> Result<Vec<Contact>, StoreError> {
        self.contacts_under(account, keys::phone_index(account, phone.as_str()))
    }

    /// Contacts whose phone ends with these digits (the last nine of a number), oldest first,
    /// through the phone-tail index.
    pub fn contacts_by_phone_tail(
        &self,
        account: AccountId,
        tail: &str,
    ) -> Result<Vec<Contact>, StoreError> {
        self.contacts_under(account, keys::phone_tail_index(account, tail))
    }

    /// Contacts whose phone was typed with these digits (no `+`) in a form other than E.164,
    /// oldest first, through the dialed-digits index.
    pub fn contacts_by_dialed_digits(
        &self,
        account: AccountId,
        digits: &str,
    ) -> Result<Vec<Contact>, StoreError> {
        self.contacts_under(account, keys::dialed_index(account, digits))
    }

    /// Contacts whose e-mail is `email`, oldest first, through the e-mail index.
    pub fn contacts_by_email(
        &self,
        account: AccountId,
        email: &Email,
    ) -> Result<Vec<Contact>, StoreError> {
        self.contacts_under(account, keys::email_index(account, email.as_str()))
    }

    /// The contacts of `account` (in `group`) whose searched texts may contain `phrase`
    /// (lowercased): a superset of the matches, in id order, that the caller checks against
    /// each contact. `None` when no index can answer: sled without one, an index being built,
    /// a phrase under three characters, or the index failed (logged); the caller scans.
    /// sled asks the search index (`search.rs`); PostgreSQL its trigram index (migration V2).
    pub fn contact_candidates(
        &self,
        account: AccountId,
        phrase: &str,
        group: crate::domain::GroupFilter,
    ) -> Result<Option<Vec<Contact>>, StoreError> {
        if self.scan_only {
            return Ok(None);
        }
        if let Some(pg) = self.db.as_pg() {
            let Some(pattern) = search::like_pattern(phrase) else {
                return Ok(None);
            };
            return pg
                .contact_records_like(&keys::contacts(account), &pattern)?
                .iter()
                .map(|value| decode(value))
                .collect::<Result<Vec<Contact>, _>>()
                .map(Some);
        }
        let Some(index) = self.search.as_ref() else {
            return Ok(None);
        };
        match index_answer(index.candidates(account, phrase, group)) {
            Some(ids) => self.contacts_of(account, ids).map(Some),
            None => Ok(None),
        }
    }

    /// The contacts of `ids` that exist, in that order.
    fn contacts_of(
        &self,
        account: AccountId,
        ids: Vec<ContactId>,
    ) -> Result<Vec<Contact>, StoreError> {
        let mut contacts = Vec::with_capacity(ids.len());
        for id in ids {
            contacts.extend(self.contact(account, id)?);
        }
        Ok(contacts)
    }

    /// Page `skip..skip + take` of the contacts of `account` in `group`, sorted (see
    /// [`search::SearchIndex::page`]), and how many there are in all, from sled's search index
    /// or PostgreSQL's order entries (`contact_orders.rs`); `None` when the caller must read
    /// the list: an index being built, or what the entries do not answer.
    pub fn contact_page(
        &self,
        account: AccountId,
        group: crate::domain::GroupFilter,
        sort: Option<crate::domain::ContactSort>,
        order: crate::domain::Order,
        skip: u64,
        take: u64,
    ) -> Result<Option<(u64, Vec<Contact>)>, StoreError> {
        if self.scan_only {
            return Ok(None);
        }
        if self.data.as_pg().is_some() {
            let page = self.pg_contact_page(account, group, sort, order, (skip, take));
            return Ok(index_answer(page));
        }
        let Some(index) = self.search.as_ref() else {
            return Ok(None);
        };
        match index_answer(index.page(account, group, sort, order, skip, take)) {
            Some((total, ids)) => Ok(Some((total, self.contacts_of(account, ids)?))),
            None => Ok(None),
        }
    }

    /// Makes the search index's entries of `account` again from its contacts and returns how
    /// many there are, once searches see them; `None` on a store without an index.
    pub fn reindex_contacts(&self, account: AccountId) -> Result<Option<u64>, StoreError> {
        self.search
            .as_ref()
            .map(|index| index.reindex(account))
            .transpose()
    }

    /// Whether searches are answered by the index now (false on a store without one, and
    /// while it is built).
    pub fn search_ready(&self) -> bool {
        self.search.as_ref().is_some_and(|index| index.is_ready())
    }

    /// How many (index segment, account, list order) the search index keeps sorted for list
    /// pages (`store/search/sorted.rs`; 0 without an index): diagnostics and tests.
    pub fn sorted_list_orders(&self) -> usize {
        self.search
            .as_ref()
            .map_or(0, |index| index.sorted_orders())
    }

    /// This store with every search reading the whole account (no index of sled's or
    /// PostgreSQL's): for comparing the index with the scan (tests, benchmarks). Writes through
    /// it still reach the index.
    pub fn scan_only(&self) -> Store {
        Store {
            scan_only: true,
            ..self.clone()
        }
    }

    /// Every contact of the account in id order (oldest first).
    pub fn contacts(
        &self,
        account: AccountId,
    ) -> impl Iterator<Item = Result<Contact, StoreError>> + '_ {
        self.data
            .scan_prefix(keys::contacts(account))
            .values()
            .map(|value| decode(&value?))
    }

    /// The contacts in a group, in id order (on PostgreSQL in one round trip).
    pub fn group_contacts(
        &self,
        account: AccountId,
        group: GroupId,
    ) -> Result<Vec<Contact>, StoreError> {
        let Some(tree) = self.data.as_pg() else {
            let mut contacts = Vec::new();
            for id in self.group_member_ids(account, group) {
                contacts.extend(self.contact(account, id?)?);
            }
            return Ok(contacts);
        };
        let members = keys::group_members(account, group);
        let end = backend::prefix_end_key(&members);
        tree.values_of_entries(&members, &end, &keys::contacts(account))?
            .iter()
            .map(|value| decode(value))
            .collect()
    }

    /// Ids of the contacts in a group, in id order.
    pub fn group_member_ids(
        &self,
        account: AccountId,
        group: GroupId,
    ) -> impl Iterator<Item = Result<ContactId, StoreError>> + '_ {
        self.ids_under(keys::group_members(account, group))
            .map(|id| id.map(ContactId))
    }

    /// Stores a new contact with its indexes and group memberships (unknown groups are dropped)
    /// and, when `link` names a visitor, links that visitor to it. Returns the stored contact.
    pub fn insert_contact(
        &self,
        account: AccountId,
        contact: &Contact,
        link: Option<(Suid, LinkCause)>,
    ) -> DomainResult<Contact> {
        self.transaction(|data, _| {
            let mut contact = contact.clone();
            if let Some((suid, cause)) = link {
                tx_link_visitor(data, account, &mut contact, suid, cause)?;
            }
            tx_put_contact(data, account, None, contact)
        })
    }

    /// Creates `group` and stores `contacts` (new, with fresh ids) in it with their indexes,
    /// all or nothing. A new group and fresh ids leave nothing to read or to conflict with, so
    /// this is one atomic sled batch rather than a transaction: a transaction of 5,000
    /// contacts re-read and re-wrote the group's count for each contact.
    pub fn insert_group_with_contacts(
        &self,
        account: AccountId,
        group: &Group,
        contacts: &[Contact],
    ) -> DomainResult<()> {
        let mut batch = Batch::default();
        let mut group = group.clone();
        group.count = contacts.len() as u64;
        // The account's blacklist read once (keys only), not one read per contact: on
        // PostgreSQL each read is a round trip.
        let listed: std::collections::HashSet<backend::IVec> = self
            .data
            .scan_prefix(keys::blacklist(account))
            .keys()
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)?;
        batch.insert(keys::group(account, group.id), encode(&group));
        let mut stored = Vec::with_capacity(contacts.len());
        for contact in contacts {
            let mut contact = contact.clone();
            contact.groups = vec![group.id];
            // The flag mirrors the account's blacklist, as in `tx_put_contact`.
            contact.blacklist = contact.phone.e164().is_some_and(|e164| {
                listed.contains(keys::blacklist_entry(account, e164).as_slice())
            });
            batch.insert(keys::group_member(account, group.id, contact.id), &[]);
            for key in index_keys(account, &contact) {
                batch.insert(key, &[]);
            }
            batch.insert(keys::contact(account, contact.id), encode(&contact));
            stored.push(contact);
        }
        self.batch_orders(&mut batch, account, &stored);
        let _guard = self.write_guard();
        self.data.apply_batch(batch).map_err(StoreError::from)?;
        Ok(())
    }

    /// Reads contact `id`, lets `change` compute its new state, and stores that with its
    /// indexes, in one transaction (`change` may run more than once if a concurrent write
    /// wins a race). With `link`, also links that visitor.
    pub fn update_contact(
        &self,
        account: AccountId,
        id: ContactId,
        change: impl Fn(&Contact) -> DomainResult<Contact>,
        link: Option<(Suid, LinkCause)>,
    ) -> DomainResult<Contact> {
        self.transaction(|data, _| {
            let Some(bytes) = data.get(keys::contact(account, id))? else {
                return fail(DomainError::NotFound(Entity::Contact));
            };
            let old: Contact = decode_tx(&bytes)?;
            let mut new = change(&old).map_err(ConflictableTransactionError::Abort)?;
            new.id = old.id;
            if let Some((suid, cause)) = link {
                tx_link_visitor(data, account, &mut new, suid, cause)?;
            }
            tx_put_contact(data, account, Some(&old), new)
        })
    }

    /// Deletes the contacts, all or none: one unknown id fails the whole call. Everything
    /// stored about them goes in the same transaction (see `store/privacy.rs`), with one audit
    /// entry per contact made by `audit`.
    pub fn delete_contacts(
        &self,
        account: AccountId,
        ids: &[ContactId],
        audit: &dyn Fn(ContactId) -> AuditEntry,
    ) -> DomainResult<()> {
        let plan = self.plan_erasure(account, ids)?;
        let at = crate::domain::now_millis();
        self.outbox_transaction(|data, outbox| {
            for id in ids {
                let Some(bytes) = data.get(keys::contact(account, *id))? else {
                    return fail(DomainError::NotFound(Entity::Contact));
                };
                tx_remove_contact(data, account, &decode_tx(&bytes)?)?;
                privacy::tx_audit(data, account, &audit(*id))?;
            }
            privacy::tx_erase(data, outbox, account, &plan)
        })?;
        let suids: Vec<Suid> = plan.suids().collect();
        self.sweep_erased(account, &suids, at)?;
        Ok(())
    }
}

/// Writes `new` (replacing `old`) with every index entry it implies, keeping group counts.
/// Groups that do not exist in the account are dropped from `new.groups`.
pub(super) fn tx_put_contact(
    data: &TransactionalTree,
    account: AccountId,
    old: Option<&Contact>,
    mut new: Contact,
) -> Tx<Contact> {
    new.groups.sort_unstable();
    new.groups.dedup();
    let mut kept = Vec::with_capacity(new.groups.len());
    for group in &new.groups {
        let already = old.is_some_and(|old| old.groups.contains(group));
        if already || data.get(keys::group(account, *group))?.is_some() {
            kept.push(*group);
        }
    }
    new.groups = kept;

    let empty = Vec::new();
    let old_groups = old.map_or(&empty, |old| &old.groups);
    for group in old_groups.iter().filter(|g| !new.groups.contains(g)) {
        data.remove(keys::group_member(account, *group, new.id))?;
        tx_adjust_group_count(data, account, *group, -1)?;
    }
    for group in new.groups.iter().filter(|g| !old_groups.contains(g)) {
        data.insert(keys::group_member(account, *group, new.id), &[])?;
        tx_adjust_group_count(data, account, *group, 1)?;
    }

    // The flag mirrors the account's blacklist, kept in the same transaction as the record.
    new.blacklist = match new.phone.e164() {
        Some(e164) => data.get(keys::blacklist_entry(account, e164))?.is_some(),
        None => false,
    };
    if let Some(old) = old {
        if old.phone != new.phone {
            data.remove(keys::phone_entry(account, old.phone.as_str(), old.id))?;
            data.remove(keys::phone_tail_entry(account, old.phone.tail(), old.id))?;
            if let Some(digits) = dialed_digits(&old.phone) {
                data.remove(keys::dialed_entry(account, digits, old.id))?;
            }
        }
        if let Some(email) = old
            .email
            .as_ref()
            .filter(|email| new.email.as_ref() != Some(*email))
        {
            data.remove(keys::email_entry(account, email.as_str(), old.id))?;
        }
    }
    for key in index_keys(account, &new) {
        data.insert(key, &[])?;
    }
    contact_orders::tx_put_orders(data, account, old, &new)?;
    data.insert(keys::contact(account, new.id), encode(&new))?;
    Ok(new)
}

/// The look-up entries of a contact: its phone, the phone's last digits, the digits as dialled
/// (when they differ from E.164) and its e-mail.
/// What the search index answered; `None` (the caller scans) when it cannot tell or failed: a
/// failure is logged, never the caller's error.
fn index_answer<T>(answer: Result<Option<T>, StoreError>) -> Option<T> {
    answer.unwrap_or_else(|error| {
        tracing::error!(%error, "search index failed; scanning instead");
        None
    })
}

pub(super) fn index_keys(account: AccountId, contact: &Contact) -> impl Iterator<Item = Vec<u8>> {
    [
        Some(keys::phone_entry(
            account,
            contact.phone.as_str(),
            contact.id,
        )),
        Some(keys::phone_tail_entry(
            account,
            contact.phone.tail(),
            contact.id,
        )),
        contact
            .email
            .as_ref()
            .map(|email| keys::email_entry(account, email.as_str(), contact.id)),
        dialed_digits(&contact.phone).map(|digits| keys::dialed_entry(account, digits, contact.id)),
    ]
    .into_iter()
    .flatten()
}

/// The digits of a phone typed in another form than its E.164 one: the key of its
/// dialed-digits entry. Numbers read strictly have none.
pub(super) fn dialed_digits(phone: &Phone) -> Option<&str> {
    let dialed = phone.dialed();
    (phone.e164() != Some(dialed)).then(|| dialed.strip_prefix('+').unwrap_or(dialed))
}

/// Removes a contact, its index entries and memberships.
pub(super) fn tx_remove_contact(
    data: &TransactionalTree,
    account: AccountId,
    contact: &Contact,
) -> Tx<()> {
    for group in &contact.groups {
        data.remove(keys::group_member(account, *group, contact.id))?;
        tx_adjust_group_count(data, account, *group, -1)?;
    }
    data.remove(keys::phone_entry(
        account,
        contact.phone.as_str(),
        contact.id,
    ))?;
    data.remove(keys::phone_tail_entry(
        account,
        contact.phone.tail(),
        contact.id,
    ))?;
    if let Some(digits) = dialed_digits(&contact.phone) {
        data.remove(keys::dialed_entry(account, digits, contact.id))?;
    }
    if let Some(email) = &contact.email {
        data.remove(keys::email_entry(account, email.as_str(), contact.id))?;
    }
    contact_orders::tx_remove_orders(data, account, contact)?;
    data.remove(keys::contact(account, contact.id))?;
    Ok(())
}
