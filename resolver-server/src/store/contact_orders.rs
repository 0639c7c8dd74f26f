//! Sorted contact lists on PostgreSQL: an order entry per contact and sort column
//! (`keys::contact_order`), written in the same transaction as the contact, so that page N of
//! any order is a walk of the primary key's B-tree to entry N, not a read of the account.
//! (On sled the search index pages lists, see `search.rs`.)
//!
//! Entries hold a sort key's first bytes only; among contacts whose keys were cut and agree
//! in those bytes (two keys longer than [`keys::ORDER_KEY_BYTES`] bytes that agree in all of
//! them: rare), entries fall in id order. A page sorts such a run inside it by the whole keys
//! from the records it reads anyway; a run across the page's edge is read whole, sorted, and
//! its members put in their places.
//!
//! A database written before order entries existed (or copied from sled by `migrate-store`)
//! has none: [`Store::build_contact_orders`] writes them, once, and until it has, lists scan.

use super::backend::{prefix_end_key as end_of, IVec, TransactionalTree};
use super::*;
use crate::domain::{ContactSort, GroupFilter, Order};
use std::sync::atomic::Ordering;

/// Set in the meta tree once every contact has its order entries (the "2": with those of
/// contacts in no group).
const BUILT: &[u8] = b"contact-orders-built-2";

/// Changes a contact counter may hold before a count folds them into it.
const FOLD_AFTER: u64 = 256;

/// Contacts read and given their entries per transaction while building.
const BUILD_CHUNK: u64 = 1_000;

/// The contact counters: every contact, and those in no group.
const EVERY: u8 = 0;
const UNGROUPED: u8 = 1;

/// Contacts in no group have their entries a second time from this column on (their own
/// list), with the id order as one more column.
const UNGROUPED_COLUMNS: u8 = 0x10;
const ID_COLUMN: u8 = ContactSort::ALL.len() as u8;

fn column(sort: ContactSort) -> u8 {
    ContactSort::ALL
        .iter()
        .position(|known| *known == sort)
        .expect("ALL holds every sort") as u8
}

/// The order entries of `contact`: one per sort column, and when it is in no group, one per
/// column of that list too.
fn order_keys(account: AccountId, contact: &Contact) -> Vec<Vec<u8>> {
    let entry = |column: u8, key: &str| keys::contact_order(account, column, key, contact.id);
    let mut keys: Vec<Vec<u8>> = ContactSort::ALL
        .iter()
        .map(|sort| entry(column(*sort), &sort.key(contact)))
        .collect();
    if contact.groups.is_empty() {
        keys.extend(
            ContactSort::ALL
                .iter()
                .map(|sort| entry(UNGROUPED_COLUMNS + column(*sort), &sort.key(contact))),
        );
        keys.push(entry(UNGROUPED_COLUMNS + ID_COLUMN, ""));
    }
    keys
}

/// Writes `new`'s order entries in place of `old`'s (those that changed) and counts it, on
/// PostgreSQL.
pub(super) fn tx_put_orders(
    data: &TransactionalTree,
    account: AccountId,
    old: Option<&Contact>,
    new: &Contact,
) -> Tx<()> {
    if data.as_pg().is_none() {
        return Ok(());
    }
    let before: std::collections::BTreeSet<Vec<u8>> = old
        .map(|old| order_keys(account, old))
        .unwrap_or_default()
        .into_iter()
        .collect();
    let after: std::collections::BTreeSet<Vec<u8>> = order_keys(account, new).into_iter().collect();
    for gone in before.difference(&after) {
        data.discard(gone.as_slice())?;
    }
    for added in after.difference(&before) {
        data.insert(added.as_slice(), &[])?;
    }
    if old.is_none() {
        tx_count(data, account, EVERY, 1)?;
    }
    let was_ungrouped = old.is_some_and(|old| old.groups.is_empty());
    match (was_ungrouped, new.groups.is_empty()) {
        (false, true) => tx_count(data, account, UNGROUPED, 1),
        (true, false) => tx_count(data, account, UNGROUPED, -1),
        _ => Ok(()),
    }
}

/// Adds `change` to one of the account's contact counters (a fresh key: no conflict with
/// another writer).
fn tx_count(data: &TransactionalTree, account: AccountId, scope: u8, change: i64) -> Tx<()> {
    let key = keys::contact_count_change(account, scope, rand::random());
    data.insert(key, &change.to_be_bytes()[..])?;
    Ok(())
}

/// Removes `contact`'s order entries and counts it out, on PostgreSQL.
pub(super) fn tx_remove_orders(
    data: &TransactionalTree,
    account: AccountId,
    contact: &Contact,
) -> Tx<()> {
    if data.as_pg().is_some() {
        for key in order_keys(account, contact) {
            data.discard(key)?;
        }
        tx_count(data, account, EVERY, -1)?;
        if contact.groups.is_empty() {
            tx_count(data, account, UNGROUPED, -1)?;
        }
    }
    Ok(())
}

/// Keys `offset..offset + limit` of `lo..hi` (which holds `total` keys) in key order or its
/// reverse, walking from whichever end is nearer: the database steps over at most half the
/// keys, not all those before the page.
fn window(
    tree: &super::backend::pg::PgTree,
    (lo, hi): (&[u8], &[u8]),
    descending: bool,
    total: u64,
    (offset, limit): (u64, u64),
) -> Result<Vec<IVec>, StoreError> {
    if offset.saturating_mul(2) <= total {
        return tree.window(lo, hi, descending, (offset, limit));
    }
    // Positions p..q from one end are n-q..n-p from the other.
    let far = offset.saturating_add(limit).min(total);
    let mut keys = tree.window(
        lo,
        hi,
        !descending,
        (total - far, far.saturating_sub(offset)),
    )?;
    keys.reverse();
    Ok(keys)
}

impl Store {
    /// Adds the order entries of `contacts` (new ones, as stored) to `batch`, and counts
    /// them, when the store is on PostgreSQL.
    pub(super) fn batch_orders(&self, batch: &mut Batch, account: AccountId, contacts: &[Contact]) {
        if self.data.as_pg().is_none() || contacts.is_empty() {
            return;
        }
        let mut ungrouped = 0;
        for contact in contacts {
            for key in order_keys(account, contact) {
                batch.insert(key, &[]);
            }
            ungrouped += i64::from(contact.groups.is_empty());
        }
        let every = i64::try_from(contacts.len()).unwrap_or(i64::MAX);
        for (scope, change) in [(EVERY, every), (UNGROUPED, ungrouped)] {
            if change != 0 {
                let key = keys::contact_count_change(account, scope, rand::random());
                batch.insert(key, &change.to_be_bytes()[..]);
            }
        }
    }

    /// A contact counter: its key and the first key past its changes.
    fn counter_keys(account: AccountId, scope: u8) -> (Vec<u8>, Vec<u8>) {
        let base = keys::contact_count(account, scope);
        let end = end_of(&base);
        (base, end)
    }

    /// How many contacts of the account `scope` covers, from its counter (folding the
    /// counter's changes into it once there are many).
    fn pg_contact_count(
        &self,
        tree: &super::backend::pg::PgTree,
        account: AccountId,
        scope: u8,
    ) -> Result<u64, StoreError> {
        let (base, end) = Store::counter_keys(account, scope);
        let (count, changes) = tree.counter(&base, &end)?;
        if changes > FOLD_AFTER {
            tree.fold_counter(&base, &end, None)?;
        }
        Ok(count.max(0) as u64)
    }

    /// Whether every contact has its order entries (read from the database until it says yes).
    fn orders_built(&self) -> Result<bool, StoreError> {
        if self.orders_built.load(Ordering::Acquire) {
            return Ok(true);
        }
        let built = self.meta.get(BUILT)?.is_some();
        if built {
            self.orders_built.store(true, Ordering::Release);
        }
        Ok(built)
    }

    /// Gives every contact its order entries, a thousand contacts per transaction (each reads
    /// its contacts and writes their entries; a concurrent change to one of them runs it
    /// again, so no entry is left for a key a contact no longer has), then records that the
    /// entries are complete. How many contacts it visited; `None` on sled, where there are
    /// none, and when another node is building them now. Safe to run at any time, and again.
    pub fn build_contact_orders(&self) -> Result<Option<u64>, StoreError> {
        let Some(tree) = self.data.as_pg() else {
            return Ok(None);
        };
        if self.orders_built()? {
            return Ok(Some(0));
        }
        let Some(_building) = self.exclusive_job(Job::ContactOrders)? else {
            return Ok(None);
        };
        let mut visited = 0;
        for account in self.accounts()? {
            let prefix = keys::contacts(account.id);
            let end = end_of(&prefix);
            let mut from = prefix;
            loop {
                let chunk = self
                    .transaction(|data, _| {
                        let tx = data.as_pg().expect("a PostgreSQL store");
                        let rows = tx.range(&from, &end, BUILD_CHUNK)?;
                        for (_, value) in &rows {
                            let contact: Contact = decode_tx(value)?;
                            for key in order_keys(account.id, &contact) {
                                data.insert(key, &[])?;
                            }
                        }
                        Ok((rows.len() as u64, rows.last().map(|(key, _)| key.clone())))
                    })
                    .map_err(|error| match error {
                        DomainError::Store(error) => error,
                        other => StoreError::Corrupt(other.to_string()),
                    })?;
                visited += chunk.0;
                match chunk.1 {
                    Some(last) => {
                        from = last.to_vec();
                        from.push(0);
                    }
                    None => break,
                }
            }
            let contacts = keys::contacts(account.id);
            let ungrouped = keys::contact_orders(account.id, UNGROUPED_COLUMNS + ID_COLUMN);
            for (scope, counted) in [(EVERY, contacts), (UNGROUPED, ungrouped)] {
                let (base, counter_end) = Store::counter_keys(account.id, scope);
                tree.fold_counter(&base, &counter_end, Some((&counted, &end_of(&counted))))?;
            }
        }
        {
            let _guard = self.write_guard();
            self.meta.insert(BUILT, &b"1"[..])?;
        }
        self.orders_built.store(true, Ordering::Release);
        Ok(Some(visited))
    }

    /// Page `skip..skip + take` of the account's contacts in `sort`/`order` and how many
    /// there are, from the order entries (PostgreSQL); `None` when the caller must read the
    /// list: a group filter (a group's list reads its members), or entries not built yet.
    pub(super) fn pg_contact_page(
        &self,
        account: AccountId,
        group: GroupFilter,
        sort: Option<ContactSort>,
        order: Order,
        (skip, take): (u64, u64),
    ) -> Result<Option<(u64, Vec<Contact>)>, StoreError> {
        let Some(tree) = self.data.as_pg() else {
            return Ok(None);
        };
        // The list's counter and the column of its entries (`None`: the records' own keys).
        let (scope, entries_column) = match group {
            GroupFilter::Any => (EVERY, sort.map(column)),
            GroupFilter::NoGroup => (
                UNGROUPED,
                Some(UNGROUPED_COLUMNS + sort.map_or(ID_COLUMN, column)),
            ),
            GroupFilter::Group(_) => return Ok(None),
        };
        let built = self.orders_built()?;
        if entries_column.is_some() && !built {
            return Ok(None);
        }
        let descending = order == Order::Descending;
        let contacts = keys::contacts(account);
        let contacts_end = end_of(&contacts);
        let total = if built {
            self.pg_contact_count(tree, account, scope)?
        } else {
            tree.count_between(&contacts, &contacts_end)?
        };
        if take == 0 || skip >= total {
            return Ok(Some((total, Vec::new())));
        }
        let Some(entries_column) = entries_column else {
            // Id order is the records' own key order: keys only while stepping over the
            // entries before the page (an index-only scan), then the page's records.
            let rows = window(
                tree,
                (&contacts, &contacts_end),
                descending,
                total,
                (skip, take),
            )?;
            let ids: Vec<ContactId> = rows
                .iter()
                .filter_map(|key| keys::contact_of(key).map(|(_, id)| id))
                .collect();
            let page = self.pg_contacts(tree, account, &ids)?;
            return Ok(Some((total, page.into_iter().flatten().collect())));
        };
        let prefix = keys::contact_orders(account, entries_column);
        let prefix_end = end_of(&prefix);
        // One entry either side of the page, to see whether a run of cut keys crosses an edge.
        let before = u64::from(skip > 0);
        let rows = window(
            tree,
            (&prefix, &prefix_end),
            descending,
            total,
            (skip - before, take + before + 1),
        )?;
        let entries = rows
            .iter()
            .map(|key| {
                keys::order_entry_of(key)
                    .ok_or_else(|| StoreError::Corrupt("an order entry without its parts".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tied = |a: usize, b: usize| {
            let ((a_key, a_cut, _), (b_key, b_cut, _)) = (entries[a], entries[b]);
            a_cut && b_cut && a_key == b_key
        };
        let first = before as usize;
        let end = (first + take as usize).min(entries.len());
        if first >= end {
            return Ok(Some((total, Vec::new())));
        }
        let mut ids: Vec<ContactId> = entries[first..end].iter().map(|entry| entry.2).collect();
        // A run across an edge: which of its contacts fall on this page depends on the whole
        // keys of all of them, so the run is read whole and put in place.
        let mut crossing = Vec::new();
        if first == 1 && tied(0, 1) {
            crossing.push(entries[1].0);
        }
        if end < entries.len() && tied(end - 1, end) && crossing.last() != Some(&entries[end].0) {
            crossing.push(entries[end].0);
        }
        for escaped in crossing {
            let (at, run) = self.pg_run(tree, account, (sort, descending), &prefix, escaped)?;
            for (n, id) in run.into_iter().enumerate() {
                let position = at + n as u64;
                if (skip..skip + ids.len() as u64).contains(&position) {
                    ids[(position - skip) as usize] = id;
                }
            }
        }
        let mut page = self.pg_contacts(tree, account, &ids)?;
        // Runs of cut keys inside the page: in id order in the entries, sorted here by the
        // whole keys (a crossing run's part is already in order, and stays so).
        let mut run = first;
        while run < end {
            let mut run_end = run + 1;
            while run_end < end && tied(run_end - 1, run_end) {
                run_end += 1;
            }
            let slice = &mut page[run - first..run_end - first];
            slice.sort_by_cached_key(|contact| {
                contact
                    .as_ref()
                    .map(|contact| (sort.map(|sort| sort.key(contact)), contact.id))
            });
            if descending {
                slice.reverse();
            }
            run = run_end;
        }
        let page = page.into_iter().flatten().collect();
        Ok(Some((total, page)))
    }

    /// The run of cut keys `escaped` in the order of `sort` (`descending` or not; a run needs a
    /// sort key, so `sort` is there): its first position in that order and its contacts' ids,
    /// sorted by their whole keys.
    fn pg_run(
        &self,
        tree: &super::backend::pg::PgTree,
        account: AccountId,
        (sort, descending): (Option<ContactSort>, bool),
        prefix: &[u8],
        escaped: &[u8],
    ) -> Result<(u64, Vec<ContactId>), StoreError> {
        let mut start = prefix.to_vec();
        start.extend_from_slice(escaped);
        let mut end = start.clone();
        start.extend_from_slice(&[0, 2]);
        end.extend_from_slice(&[0, 3]);
        let at = if descending {
            tree.count_between(&end, &end_of(prefix))?
        } else {
            tree.count_between(prefix, &start)?
        };
        let run = tree.window(&start, &end, false, (0, u64::MAX))?;
        let ids: Vec<ContactId> = run
            .iter()
            .filter_map(|key| keys::order_entry_of(key).map(|entry| entry.2))
            .collect();
        let mut members: Vec<Contact> = self
            .pg_contacts(tree, account, &ids)?
            .into_iter()
            .flatten()
            .collect();
        members.sort_by_cached_key(|contact| (sort.map(|sort| sort.key(contact)), contact.id));
        if descending {
            members.reverse();
        }
        Ok((at, members.into_iter().map(|contact| contact.id).collect()))
    }

    /// The contacts `ids`, in that order, in one round trip (`None` for one deleted since its
    /// entry was read).
    fn pg_contacts(
        &self,
        tree: &super::backend::pg::PgTree,
        account: AccountId,
        ids: &[ContactId],
    ) -> Result<Vec<Option<Contact>>, StoreError> {
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| keys::contact(account, *id)).collect();
        let found: std::collections::HashMap<IVec, IVec> =
            tree.get_many(&keys)?.into_iter().collect();
        keys.iter()
            .map(|key| {
                found
                    .get(key.as_slice())
                    .map(|value| decode(value))
                    .transpose()
            })
            .collect()
    }
}
