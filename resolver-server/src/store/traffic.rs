//! The traffic aggregates (`domain::traffic`) in the `data` tree: pending tallies
//! (`traffic_pending`), one aggregate record per day and site (`traffic_day`) and a seen mark
//! per day, visitor and site (`traffic_seen`).
//!
//! A tally is written with what it counts, as one more single-key insert of a key nobody else
//! writes (a page view stays two-plus-one single-key writes, outside a transaction, see
//! `insert_page_view`), or inside the transaction that links a visitor or records a firing.
//! [`Store::fold_traffic`] then adds pending tallies to the aggregates and removes them in one
//! atomic write per batch, one fold at a time: no count is lost or added twice, whatever runs
//! concurrently, and a crash leaves every tally either pending or counted.
//!
//! On sled the fold reads what it needs before that write and writes one batch: only the fold
//! writes aggregates and marks or removes pending tallies, and folds run one at a time in the
//! one process that owns the directory, so nothing it read can change before its batch. (A
//! visitor linked meanwhile is counted as the link's own tally says, as if the fold had come
//! first. The sweep removes only marks of days past, which a late tally's fold may write back
//! for the next sweep to remove, as it could before.) A sled transaction would hold sled's
//! lock exclusively while it reads, and every page view waited for it: about a quarter of a
//! page-view run. On PostgreSQL several nodes may fold at once, so each batch is a
//! transaction.

use super::backend::{Batch, ConflictableTransactionError, IVec, TransactionalTree};
use super::{decode, decode_tx, encode, keys, Store, StoreError, Tx};
use crate::domain::{
    self, day_of, AccountId, Day, DayStats, DomainError, DomainResult, LinkCause, PageView,
    SeenMark, Tally, Visitor,
};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Pending tallies added to the aggregates per atomic write (a sled batch, a transaction).
const FOLD_BATCH: usize = 100;

/// One fold at a time (the traffic task and dashboards asking at once): a tally is read,
/// counted and removed by one folder only.
static FOLDING: Mutex<()> = Mutex::new(());

/// Seen marks are kept this many days (today included), long enough for tallies folded late.
pub const SEEN_MARK_DAYS: u32 = 3;

pub(super) fn tally_key(account: AccountId) -> Vec<u8> {
    keys::traffic_pending(account, uuid::Uuid::new_v4().as_bytes())
}

/// Writes `tally` inside a transaction (a visitor's link, a rule firing).
pub(super) fn tx_tally(data: &TransactionalTree, account: AccountId, tally: &Tally) -> Tx<()> {
    data.insert(tally_key(account), encode(tally))?;
    Ok(())
}

/// How a fold reads a key: inside its transaction, or (sled) straight from the tree.
type Read<'a> = dyn Fn(&[u8]) -> Tx<Option<IVec>> + 'a;

/// The aggregates and marks a fold batch changes, read once and written once.
#[derive(Default)]
struct FoldState {
    days: BTreeMap<Vec<u8>, DayStats>,
    /// `None`: no mark stored.
    marks: BTreeMap<Vec<u8>, Option<SeenMark>>,
}

impl FoldState {
    fn stats(
        &mut self,
        read: &Read<'_>,
        account: AccountId,
        day: Day,
        site: &str,
    ) -> Tx<&mut DayStats> {
        let key = keys::traffic_day(account, day, site);
        if !self.days.contains_key(&key) {
            let stored = match read(&key)? {
                Some(bytes) => decode_tx(&bytes)?,
                None => DayStats::default(),
            };
            self.days.insert(key.clone(), stored);
        }
        Ok(self.days.entry(key).or_default())
    }

    fn mark(&mut self, read: &Read<'_>, key: &[u8]) -> Tx<Option<SeenMark>> {
        if let Some(mark) = self.marks.get(key) {
            return Ok(*mark);
        }
        let stored = match read(key)? {
            Some(bytes) => Some(decode_tx(&bytes)?),
            None => None,
        };
        self.marks.insert(key.to_vec(), stored);
        Ok(stored)
    }

    /// What the batch leaves behind: every aggregate it read, and every mark it set.
    fn written(&self) -> impl Iterator<Item = (&[u8], Vec<u8>)> {
        let days = self
            .days
            .iter()
            .map(|(key, stats)| (key.as_slice(), encode(stats)));
        let marks = self
            .marks
            .iter()
            .filter_map(|(key, mark)| mark.as_ref().map(|mark| (key.as_slice(), encode(mark))));
        days.chain(marks)
    }
}

/// What a fold reads before its transaction (which cannot scan).
enum Prepared {
    /// The page view, with its site; `None` if it is gone (erased, purged).
    PageView(Option<(PageView, String)>),
    /// The marks the visitor already had on the day of the link, with their sites.
    Linked(Vec<(Vec<u8>, String)>),
    Other,
}

impl Store {
    /// Writes `tally` on its own (a single-key insert of a fresh key).
    /// On sled a trackUser call's tally is gathered and written by the next flush
    /// (`store/tallies.rs`); a page view's is written at once, as its request waits for a
    /// flush anyway (gathered, they lengthened every flush by their writes).
    pub fn insert_tally(&self, account: AccountId, tally: &Tally) -> Result<(), StoreError> {
        if let (Some(tallies), Tally::TrackUser { .. }) = (&self.tallies, tally) {
            return tallies.add(account, tally.clone());
        }
        let _guard = self.write_guard();
        self.data.insert(tally_key(account), encode(tally))?;
        Ok(())
    }

    /// Writes the tallies gathered for the next flush now.
    pub(super) fn write_tallies(&self) -> Result<(), StoreError> {
        match &self.tallies {
            Some(tallies) => tallies.write(),
            None => Ok(()),
        }
    }

    /// Adds the pending tallies of `account` to the aggregates, oldest batches first, until
    /// none is left or at least `at_most` were counted (`domains`: the account's site names,
    /// to find a page's site). Answers how many tallies it counted.
    pub fn fold_traffic(
        &self,
        account: AccountId,
        domains: &[String],
        at_most: u64,
    ) -> DomainResult<u64> {
        // Queued firings tally when they are laid out.
        self.settled()?;
        self.write_tallies()?;
        let _one_fold = FOLDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut folded = 0;
        loop {
            let mut batch = Vec::with_capacity(FOLD_BATCH);
            for entry in self
                .data
                .scan_prefix(keys::all_traffic_pending(account))
                .take(FOLD_BATCH)
            {
                let (key, value) = entry.map_err(StoreError::from)?;
                let tally: Tally = decode(&value)?;
                let prepared = self.prepare(account, &tally, domains)?;
                batch.push((key, tally, prepared));
            }
            if batch.is_empty() || folded >= at_most {
                return Ok(folded);
            }
            if self.db.as_sled().is_some() {
                self.fold_batch_read_first(account, &batch)?;
            } else {
                self.transaction(|data, _| {
                    let mut state = FoldState::default();
                    let read = |key: &[u8]| Ok(data.get(key)?);
                    for (key, tally, prepared) in &batch {
                        if data.remove(key)?.is_none() {
                            continue;
                        }
                        fold_one(&read, account, &mut state, tally, prepared)?;
                    }
                    for (key, value) in state.written() {
                        data.insert(key, value)?;
                    }
                    Ok(())
                })?;
            }
            folded += batch.len() as u64;
        }
    }

    /// Folds `batch` on sled: reads first, then one batch removes the tallies and writes what
    /// they changed (see the module's comment for why nothing read can change meanwhile).
    fn fold_batch_read_first(
        &self,
        account: AccountId,
        batch: &[(IVec, Tally, Prepared)],
    ) -> DomainResult<()> {
        let read = |key: &[u8]| {
            self.data
                .get(key)
                .map_err(|error| ConflictableTransactionError::Storage(error.into()))
        };
        let mut state = FoldState::default();
        let mut write = Batch::default();
        for (key, tally, prepared) in batch {
            fold_one(&read, account, &mut state, tally, prepared).map_err(|error| match error {
                ConflictableTransactionError::Abort(error) => error,
                ConflictableTransactionError::Storage(error) => DomainError::Store(error),
                ConflictableTransactionError::Conflict => {
                    DomainError::Store(StoreError::Corrupt("a fold read conflicted".into()))
                }
            })?;
            write.remove(key.clone());
        }
        for (key, value) in state.written() {
            write.insert(key, value);
        }
        let _guard = self.write_guard();
        self.data.apply_batch(write).map_err(StoreError::from)?;
        Ok(())
    }

    fn prepare(
        &self,
        account: AccountId,
        tally: &Tally,
        domains: &[String],
    ) -> Result<Prepared, StoreError> {
        Ok(match tally {
            Tally::PageView { suid, at, id } => {
                let view: Option<PageView> = self.get(keys::page_view(account, *suid, *at, *id))?;
                Prepared::PageView(view.map(|view| {
                    let site = domain::site_of(&view.url, domains);
                    (view, site)
                }))
            }
            Tally::Linked { suid, at, .. } => {
                let prefix = keys::traffic_seen_visitor(account, day_of(*at), *suid);
                let mut marks = Vec::new();
                for key in self.data.scan_prefix(&prefix).keys() {
                    let key = key?;
                    let site = key
                        .get(prefix.len()..key.len().saturating_sub(1))
                        .and_then(|site| std::str::from_utf8(site).ok())
                        .unwrap_or_default()
                        .to_owned();
                    marks.push((key.to_vec(), site));
                }
                Prepared::Linked(marks)
            }
            Tally::TrackUser { .. } | Tally::RuleFired { .. } => Prepared::Other,
        })
    }

    /// The aggregates of days `first..=last`, every site, in day order.
    pub fn traffic_days(
        &self,
        account: AccountId,
        first: Day,
        last: Day,
    ) -> Result<Vec<(Day, String, DayStats)>, StoreError> {
        let mut days = Vec::new();
        let end = keys::traffic_days_from(account, last.saturating_add(1));
        for entry in self
            .data
            .range(keys::traffic_days_from(account, first)..end)
        {
            let (key, value) = entry?;
            let (day, site) = keys::parse_traffic_day(&key)
                .ok_or_else(|| StoreError::Corrupt("traffic key without day and site".into()))?;
            days.push((day, site, decode(&value)?));
        }
        Ok(days)
    }

    /// Removes the seen marks of days before `today - SEEN_MARK_DAYS + 1`: they only serve to
    /// count a visitor once a day. Answers how many it removed.
    pub fn sweep_seen_marks(&self, account: AccountId, today: Day) -> Result<u64, StoreError> {
        let end = keys::traffic_seen_from(account, today.saturating_sub(SEEN_MARK_DAYS - 1));
        let mut removed = 0;
        loop {
            let old: Vec<_> = self
                .data
                .range(keys::all_traffic_seen(account)..end.clone())
                .keys()
                .take(FOLD_BATCH)
                .collect::<Result<_, _>>()?;
            if old.is_empty() {
                return Ok(removed);
            }
            let mut batch = Batch::default();
            for key in &old {
                batch.remove(key.clone());
            }
            let _guard = self.write_guard();
            self.data.apply_batch(batch)?;
            removed += old.len() as u64;
        }
    }
}

fn fold_one(
    read: &Read<'_>,
    account: AccountId,
    state: &mut FoldState,
    tally: &Tally,
    prepared: &Prepared,
) -> Tx<()> {
    match (tally, prepared) {
        (Tally::PageView { suid, at, .. }, Prepared::PageView(Some((view, site)))) => {
            let day = day_of(*at);
            let mark_key = keys::traffic_seen(account, day, *suid, site);
            let mark = state.mark(read, &mark_key)?;
            let link = match mark {
                Some(SeenMark {
                    identified: Some(cause),
                }) => Some(cause),
                _ => visitor_link(read, account, view)?,
            };
            let stats = state.stats(read, account, day, site)?;
            let mark = domain::count_page_view(stats, view, site, mark, link);
            state.marks.insert(mark_key, Some(mark));
        }
        (Tally::Linked { suid, cause, at }, Prepared::Linked(stored)) => {
            let day = day_of(*at);
            let prefix = keys::traffic_seen_visitor(account, day, *suid);
            // Marks this batch wrote are not among those read before it.
            let mut sites: Vec<(Vec<u8>, String)> = stored.clone();
            for key in state.marks.keys() {
                if key.starts_with(&prefix) && !sites.iter().any(|(known, _)| known == key) {
                    let site = key
                        .get(prefix.len()..key.len().saturating_sub(1))
                        .and_then(|site| std::str::from_utf8(site).ok())
                        .unwrap_or_default()
                        .to_owned();
                    sites.push((key.clone(), site));
                }
            }
            for (key, site) in sites {
                if let Some(mark) = state.mark(read, &key)? {
                    let stats = state.stats(read, account, day, &site)?;
                    let mark = domain::count_link(stats, mark, *cause);
                    state.marks.insert(key, Some(mark));
                }
            }
        }
        (
            Tally::TrackUser {
                domain: site,
                outcome,
                at,
                count,
            },
            _,
        ) => domain::count_track_user(
            state.stats(read, account, day_of(*at), site)?,
            *outcome,
            *count,
        ),
        (Tally::RuleFired { at }, _) => {
            domain::count_rule_firing(state.stats(read, account, day_of(*at), "")?)
        }
        // A page view gone before it was counted (erased, purged) counts for nothing.
        (Tally::PageView { .. } | Tally::Linked { .. }, _) => {}
    }
    Ok(())
}

/// The cause of the link of the visitor who made `view`, if it is linked.
fn visitor_link(read: &Read<'_>, account: AccountId, view: &PageView) -> Tx<Option<LinkCause>> {
    Ok(match read(&keys::visitor(account, view.suid))? {
        Some(bytes) => decode_tx::<Visitor>(&bytes)?.link.map(|link| link.cause),
        None => None,
    })
}
