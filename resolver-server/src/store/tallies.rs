//! trackUser calls' tallies are gathered in memory and written together by the next flush,
//! not one sled write each.
//!
//! A trackUser call that finds nobody writes nothing but its tally, so that single-key write
//! was the whole write cost of the path (at a million contacts it halved the calls a second
//! and put p99 at 13 ms). Now it is a push onto a vector; the group-commit flusher writes what
//! was gathered *before* its sync, the calls of one site, outcome and day as one
//! tally with their count. So every flush covers the tallies gathered before it started: a
//! call that found its contact (and waits for a flush before it answers) has its tally on
//! disk when it is answered, as before. Tallies of calls that wait for no flush (not found,
//! refused) are written by the next flush anyone asks for, or by the journal's thread within
//! half a second: a crash loses at most those, as it lost unflushed writes before. Counting
//! ([`super::Store::fold_traffic`]), `Store::flush` and closing write them first.
//!
//! A page view's tally is written at once, with the page view: its request waits for a flush
//! anyway, and gathered they lengthened every flush by their writes (fewer page views a
//! second). Only a sled store gathers; on PostgreSQL each tally is its own insert.

use super::backend::Tree;
use super::{encode, StoreError};
use crate::domain::{day_of, AccountId, Day, IdentityOutcome, Tally};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// Gathered tallies past which the writer that adds one writes them all itself.
const WRITE_AT: usize = 4096;

pub(super) struct Tallies {
    data: Tree,
    /// The store's write barrier (see `Store::backup_to`).
    barrier: Arc<RwLock<()>>,
    gathered: Mutex<Vec<(AccountId, Tally)>>,
    /// Held for a whole write: a flush that starts while another thread writes what it took
    /// waits for that write, so it covers every tally gathered before it started.
    writing: Mutex<()>,
}

impl Tallies {
    pub(super) fn new(data: Tree, barrier: Arc<RwLock<()>>) -> Tallies {
        Tallies {
            data,
            barrier,
            gathered: Mutex::new(Vec::new()),
            writing: Mutex::new(()),
        }
    }

    pub(super) fn add(&self, account: AccountId, tally: Tally) -> Result<(), StoreError> {
        let full = {
            let mut gathered = lock(&self.gathered);
            gathered.push((account, tally));
            gathered.len() >= WRITE_AT
        };
        if full {
            self.write()?;
        }
        Ok(())
    }

    /// Writes every tally gathered so far. On failure those not yet written stay gathered.
    ///
    /// Each tally is its own single-key write, not one batch: a batch takes sled's global lock
    /// exclusively, so the group-commit flusher (which calls this before each sync) would wait
    /// out every journal checkpoint, and with it every acknowledgement. Tallies need no
    /// atomicity among themselves: each counts its own calls.
    pub(super) fn write(&self) -> Result<(), StoreError> {
        let _writing = lock(&self.writing);
        let taken = std::mem::take(&mut *lock(&self.gathered));
        if taken.is_empty() {
            return Ok(());
        }
        let _guard = self
            .barrier
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut merged = merged(&taken).into_iter();
        while let Some((account, tally)) = merged.next() {
            let key = super::traffic::tally_key(account);
            if let Err(error) = self.data.insert(key, encode(&tally)) {
                let mut gathered = lock(&self.gathered);
                gathered.push((account, tally));
                gathered.extend(merged);
                return Err(error.into());
            }
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A vector (or nothing) behind the lock: consistent whatever panicked while holding it.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `tallies` with the trackUser calls of one account, site, outcome and day as one tally
/// counting them; the others as they are.
fn merged(tallies: &[(AccountId, Tally)]) -> Vec<(AccountId, Tally)> {
    let mut calls: HashMap<(AccountId, &str, IdentityOutcome, Day), usize> = HashMap::new();
    let mut merged: Vec<(AccountId, Tally)> = Vec::with_capacity(tallies.len());
    for (account, tally) in tallies {
        if let Tally::TrackUser {
            domain,
            outcome,
            at,
            count,
        } = tally
        {
            match calls.entry((*account, domain.as_str(), *outcome, day_of(*at))) {
                std::collections::hash_map::Entry::Occupied(known) => {
                    if let (_, Tally::TrackUser { count: total, .. }) = &mut merged[*known.get()] {
                        *total += count;
                    }
                    continue;
                }
                std::collections::hash_map::Entry::Vacant(vacant) => {
                    vacant.insert(merged.len());
                }
            }
        }
        merged.push((*account, tally.clone()));
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Suid;

    fn call(domain: &str, outcome: IdentityOutcome, at: i64) -> Tally {
        Tally::TrackUser {
            domain: domain.into(),
            outcome,
            at,
            count: 1,
        }
    }

    #[test]
    fn track_user_calls_of_one_site_outcome_and_day_become_one_tally() {
        const DAY: i64 = 86_400_000;
        let (shop, other) = (AccountId(1), AccountId(2));
        let view = Tally::PageView {
            suid: Suid(uuid::Uuid::new_v4()),
            at: 5,
            id: 9,
        };
        let tallies = vec![
            (shop, call("a.pl", IdentityOutcome::NotFound, 10)),
            (shop, view.clone()),
            (shop, call("a.pl", IdentityOutcome::NotFound, 20)),
            (shop, call("a.pl", IdentityOutcome::Found, 30)),
            (shop, call("b.pl", IdentityOutcome::NotFound, 40)),
            (other, call("a.pl", IdentityOutcome::NotFound, 50)),
            (shop, call("a.pl", IdentityOutcome::NotFound, DAY + 1)),
            (shop, view.clone()),
        ];
        let counted = |tally: &Tally| match tally {
            Tally::TrackUser { count, at, .. } => (*count, *at),
            _ => (0, 0),
        };
        let merged = merged(&tallies);
        assert_eq!(
            merged
                .iter()
                .map(|(account, tally)| (*account, counted(tally)))
                .collect::<Vec<_>>(),
            vec![
                (shop, (2, 10)),
                (shop, (0, 0)),
                (shop, (1, 30)),
                (shop, (1, 40)),
                (other, (1, 50)),
                (shop, (1, DAY + 1)),
                (shop, (0, 0)),
            ]
        );
        assert_eq!(merged[1].1, view);
    }
}
