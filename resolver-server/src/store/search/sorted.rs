//! Pages of an account's whole list, or of its contacts in no group, in any order, without
//! reading the contacts before the page.
//!
//! A tantivy segment never changes once written, so each segment's documents of an account
//! are sorted once per list order ([`Orders::sorted`]) and kept. Which of them a list shows (the
//! live ones; for "no group", those in no group) is a bitmap over that order with running
//! counts ([`Kept`]), made again only when the segment's deletions change. A page is then the
//! kept entry of rank `skip`, found by halving the runs' ranges around pivots (a few hundred
//! comparisons), and the `take` kept entries that follow it, merged from the runs. Contacts
//! written since the searcher's last reload are left out of the runs and come as one more run,
//! read from the store by the caller.
//!
//! The order is the list's: sort key, then id. A run compares its entries by their two sort
//! words ([`super::sort_words`]); words that tie on a long key are told apart by the key's
//! ordinal in the segment's dictionary (within a run) or by the key's bytes (across runs).

use super::{index_error, Fields, NO_GROUP};
use crate::domain::{AccountId, ContactSort};
use crate::store::StoreError;
use parking_lot::Mutex;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Searcher, SegmentReader, Term, TERMINATED};

/// How many sorted documents the cache keeps (4 bytes each) before it drops the least recently
/// used orders: 64 MiB, the ten orders of 1,600,000 contacts.
const CACHED_DOCS: usize = 16 * 1024 * 1024;

/// Which contacts of the account a list shows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) enum Shown {
    Every,
    NoGroup,
}

/// A segment's documents of one account in one list order (`None`: by id).
type SortedKey = (SegmentId, AccountId, Option<ContactSort>);
/// The entries of a [`SortedKey`] a list shows, as of the segment's deletions.
type KeptKey = (
    SegmentId,
    Option<u64>,
    AccountId,
    Option<ContactSort>,
    Shown,
);

struct Cached<T> {
    value: Arc<T>,
    used: u64,
}

/// The sorted documents and kept bitmaps of the segments lists were asked of.
#[derive(Default)]
pub(super) struct Orders {
    sorted: Mutex<HashMap<SortedKey, Cached<Vec<DocId>>>>,
    kept: Mutex<HashMap<KeptKey, Cached<Kept>>>,
    clock: AtomicU64,
}

/// A contact written since the searcher's last reload, as the caller read it from the store.
pub(super) struct Loose {
    pub words: (u64, u64),
    pub id: u64,
    /// The whole sort key (empty in id order).
    pub key: Vec<u8>,
}

/// One bit per entry of a sorted run (set: the list shows it) and the number of set bits
/// before each 64-bit word.
#[derive(Clone, Default)]
struct Kept {
    bits: Vec<u64>,
    before: Vec<u32>,
}

impl Kept {
    fn new(len: usize, shown: impl Fn(usize) -> bool) -> Kept {
        let mut bits = vec![0u64; len.div_ceil(64)];
        for at in 0..len {
            if shown(at) {
                bits[at / 64] |= 1 << (at % 64);
            }
        }
        let mut kept = Kept {
            bits,
            before: Vec::new(),
        };
        kept.count();
        kept
    }

    fn count(&mut self) {
        self.before.clear();
        let mut total = 0u32;
        for word in &self.bits {
            self.before.push(total);
            total += word.count_ones();
        }
        self.before.push(total);
    }

    fn has(&self, at: usize) -> bool {
        self.bits[at / 64] & (1 << (at % 64)) != 0
    }

    /// How many entries before `at` are kept.
    fn rank(&self, at: usize) -> usize {
        let (word, bit) = (at / 64, at % 64);
        let within = match self.bits.get(word) {
            Some(bits) if bit > 0 => (bits & ((1u64 << bit) - 1)).count_ones(),
            _ => 0,
        };
        (self.before[word] + within) as usize
    }
}

/// A segment's columns an order is read from.
struct Columns {
    id: Column<u64>,
    /// The two sort words (none in id order).
    words: Option<(Column<u64>, Column<u64>)>,
    /// The whole sort keys of long keys.
    whole: Option<StrColumn>,
}

impl Columns {
    fn open(segment: &SegmentReader, sort: Option<ContactSort>) -> tantivy::Result<Columns> {
        let fast = segment.fast_fields();
        let (words, whole) = match sort {
            Some(sort) => {
                let (high, low) = super::sort_field_names(sort);
                (
                    Some((fast.u64(&high)?, fast.u64(&low)?)),
                    fast.str(&super::sort_key_name(sort))?,
                )
            }
            None => (None, None),
        };
        Ok(Columns {
            id: fast.u64("id")?,
            words,
            whole,
        })
    }

    /// A document's place in the order: its words, its long key's ordinal (0 for keys the
    /// words tell apart), its id.
    fn key(&self, doc: DocId) -> ((u64, u64), u64, u64) {
        let id = self.id.first(doc).unwrap_or(0);
        let words = match &self.words {
            Some((high, low)) => (high.first(doc).unwrap_or(0), low.first(doc).unwrap_or(0)),
            None => (id, 0),
        };
        let ord = match &self.whole {
            Some(whole) if long(words) => whole.term_ords(doc).next().unwrap_or(u64::MAX),
            _ => 0,
        };
        (words, ord, id)
    }
}

/// Where an entry's order is read from: one per segment, and the loose contacts.
enum Run<'a> {
    Segment {
        docs: Arc<Vec<DocId>>,
        kept: Arc<Kept>,
        columns: Box<Columns>,
    },
    Loose {
        loose: &'a [Loose],
        /// Each loose contact's key's rank among theirs (equal keys: equal ranks).
        ranks: Vec<u64>,
    },
}

/// An entry's place in the order: its words, id, and where its whole key is found.
#[derive(Clone, Copy)]
struct Key {
    words: (u64, u64),
    id: u64,
    run: usize,
    /// The key's ordinal in its segment's dictionary (its rank among the loose contacts'),
    /// read only for words that tie on a long key.
    ord: u64,
    at: usize,
}

impl Run<'_> {
    fn len(&self) -> usize {
        match self {
            Run::Segment { docs, .. } => docs.len(),
            Run::Loose { loose, .. } => loose.len(),
        }
    }

    fn has(&self, at: usize) -> bool {
        match self {
            Run::Segment { kept, .. } => kept.has(at),
            Run::Loose { .. } => true,
        }
    }

    fn rank(&self, at: usize) -> usize {
        match self {
            Run::Segment { kept, .. } => kept.rank(at),
            Run::Loose { .. } => at,
        }
    }

    fn key(&self, run: usize, at: usize) -> Key {
        match self {
            Run::Segment { docs, columns, .. } => {
                let (words, ord, id) = columns.key(docs[at]);
                Key {
                    words,
                    id,
                    run,
                    ord,
                    at,
                }
            }
            Run::Loose { loose, ranks } => Key {
                words: loose[at].words,
                id: loose[at].id,
                run,
                ord: ranks[at],
                at,
            },
        }
    }

    fn whole(&self, key: &Key) -> Vec<u8> {
        match self {
            Run::Segment { columns, .. } => {
                let mut bytes = Vec::new();
                if let Some(whole) = &columns.whole {
                    // An unreadable ordinal leaves the key empty: a wrong place, not a failure.
                    let _ = whole.ord_to_bytes(key.ord, &mut bytes);
                }
                bytes
            }
            Run::Loose { loose, .. } => loose[key.at].key.clone(),
        }
    }
}

/// Whether words may still differ by their whole keys (see [`super::LONG_KEY`]).
pub(super) fn long(words: (u64, u64)) -> bool {
    words.1 & 0xff == super::LONG_KEY
}

/// The list's order of two entries.
fn compare(runs: &[Run], a: &Key, b: &Key) -> Ordering {
    a.words
        .cmp(&b.words)
        .then_with(|| {
            if !long(a.words) {
                Ordering::Equal
            } else if a.run == b.run {
                a.ord.cmp(&b.ord)
            } else {
                runs[a.run].whole(a).cmp(&runs[b.run].whole(b))
            }
        })
        .then(a.id.cmp(&b.id))
}

/// The first place in `run`'s `from..to` whose entry is not below `pivot` (`strictly`: is
/// above it).
fn bound(runs: &[Run], run: usize, from: usize, to: usize, pivot: &Key, strictly: bool) -> usize {
    let (mut low, mut high) = (from, to);
    while low < high {
        let middle = low + (high - low) / 2;
        let order = compare(runs, &runs[run].key(run, middle), pivot);
        let before = if strictly {
            order != Ordering::Greater
        } else {
            order == Ordering::Less
        };
        if before {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

/// The ids of the kept entries of ranks `skip..skip + take` in the runs' merged order.
fn select(runs: &[Run], skip: usize, take: usize) -> Vec<u64> {
    // Narrow each run's range around the entry of rank `skip` until a pivot is that entry:
    // every entry before a run's range is below it, every entry from the range's end above.
    let mut low = vec![0; runs.len()];
    let mut high: Vec<usize> = runs.iter().map(Run::len).collect();
    let start = loop {
        let Some((widest, width)) = (0..runs.len())
            .map(|run| (run, high[run] - low[run]))
            .max_by_key(|(_, width)| *width)
            .filter(|(_, width)| *width > 0)
        else {
            // No entry of that rank (`skip` is past the end).
            return Vec::new();
        };
        let pivot = runs[widest].key(widest, low[widest] + width / 2);
        let below: Vec<usize> = (0..runs.len())
            .map(|run| bound(runs, run, low[run], high[run], &pivot, false))
            .collect();
        let through: Vec<usize> = (0..runs.len())
            .map(|run| bound(runs, run, below[run], high[run], &pivot, true))
            .collect();
        let less: usize = (0..runs.len()).map(|run| runs[run].rank(below[run])).sum();
        let upto: usize = (0..runs.len())
            .map(|run| runs[run].rank(through[run]))
            .sum();
        if skip < less {
            high = below;
        } else if skip < upto {
            break below;
        } else {
            low = through;
        }
    };
    // Merge from there: the smallest kept head, `take` times.
    let mut at = start;
    let mut heads: Vec<Option<Key>> = (0..runs.len())
        .map(|run| next_kept(runs, run, &mut at[run]))
        .collect();
    let mut page = Vec::with_capacity(take);
    while page.len() < take {
        let mut smallest: Option<Key> = None;
        for head in heads.iter().flatten() {
            if smallest
                .as_ref()
                .is_none_or(|best| compare(runs, head, best) == Ordering::Less)
            {
                smallest = Some(*head);
            }
        }
        let Some(key) = smallest else {
            break;
        };
        page.push(key.id);
        at[key.run] += 1;
        heads[key.run] = next_kept(runs, key.run, &mut at[key.run]);
    }
    page
}

/// The key of the first kept entry of `run` from `at` on (moving `at` to it).
fn next_kept(runs: &[Run], run: usize, at: &mut usize) -> Option<Key> {
    while *at < runs[run].len() && !runs[run].has(*at) {
        *at += 1;
    }
    (*at < runs[run].len()).then(|| runs[run].key(run, *at))
}

/// The documents of one segment holding `term`, deleted ones too.
fn docs_with(segment: &SegmentReader, term: &Term) -> tantivy::Result<Vec<DocId>> {
    let mut docs = Vec::new();
    let inverted = segment.inverted_index(term.field())?;
    if let Some(mut postings) = inverted.read_postings(term, IndexRecordOption::Basic)? {
        while postings.doc() != TERMINATED {
            docs.push(postings.doc());
            postings.advance();
        }
    }
    Ok(docs)
}

/// A list page's request.
pub(super) struct Request<'a> {
    pub account: AccountId,
    pub shown: Shown,
    pub sort: Option<ContactSort>,
    pub descending: bool,
    pub skip: u64,
    pub take: u64,
    /// The account's contacts written since the searcher's last reload: left out of the
    /// segments.
    pub pending: &'a HashSet<u64>,
    /// Those of them the list shows, read from the store.
    pub loose: Vec<Loose>,
}

impl Orders {
    /// How many contacts the list holds, and the ids of its page.
    pub(super) fn page(
        &self,
        searcher: &Searcher,
        fields: &Fields,
        mut request: Request,
    ) -> Result<(u64, Vec<u64>), StoreError> {
        let mut runs = Vec::new();
        for segment in searcher.segment_readers() {
            runs.push(self.run(segment, fields, &request).map_err(index_error)?);
        }
        // The whole key where the words tie on a long one, as the runs compare.
        let whole = |entry: &Loose| (entry.words, long(entry.words).then(|| entry.key.clone()));
        let mut loose = std::mem::take(&mut request.loose);
        loose.sort_by_cached_key(|entry| (whole(entry), entry.id));
        let keys: Vec<_> = loose.iter().map(whole).collect();
        let ranks = super::dense_ranks(&keys);
        runs.push(Run::Loose {
            loose: &loose,
            ranks,
        });
        let total: usize = runs.iter().map(|run| run.rank(run.len())).sum();
        let end = usize::try_from(request.skip.saturating_add(request.take))
            .unwrap_or(usize::MAX)
            .min(total);
        let skip = usize::try_from(request.skip).unwrap_or(usize::MAX).min(end);
        let ids = if request.descending {
            let mut ids = select(&runs, total - end, end - skip);
            ids.reverse();
            ids
        } else {
            select(&runs, skip, end - skip)
        };
        self.forget_gone(searcher);
        Ok((total as u64, ids))
    }

    /// A segment's run for `request`: its sorted documents, and which of them the list shows.
    fn run<'a>(
        &self,
        segment: &SegmentReader,
        fields: &Fields,
        request: &Request,
    ) -> tantivy::Result<Run<'a>> {
        let columns = Columns::open(segment, request.sort)?;
        let docs = self.sorted(segment, fields, request.account, request.sort, &columns)?;
        let kept = self.kept(segment, fields, request, &docs)?;
        // Contacts written since the reload: their documents here may be stale.
        let mut hidden = Vec::new();
        for contact in request.pending {
            for doc in docs_with(segment, &Term::from_field_u64(fields.id, *contact))? {
                if let Some(at) = place_of(&docs, &columns, doc) {
                    hidden.push(at);
                }
            }
        }
        let kept = if hidden.is_empty() {
            kept
        } else {
            let mut changed = (*kept).clone();
            for at in hidden {
                changed.bits[at / 64] &= !(1 << (at % 64));
            }
            changed.count();
            Arc::new(changed)
        };
        Ok(Run::Segment {
            docs,
            kept,
            columns: Box::new(columns),
        })
    }

    /// The segment's documents of the account in the order's sort, made once per segment.
    fn sorted(
        &self,
        segment: &SegmentReader,
        fields: &Fields,
        account: AccountId,
        sort: Option<ContactSort>,
        columns: &Columns,
    ) -> tantivy::Result<Arc<Vec<DocId>>> {
        let key = (segment.segment_id(), account, sort);
        let now = self.tick();
        if let Some(cached) = self.sorted.lock().get_mut(&key) {
            cached.used = now;
            return Ok(Arc::clone(&cached.value));
        }
        let docs = docs_with(segment, &Term::from_field_u64(fields.account, account.0))?;
        let mut ordered: Vec<((u64, u64), u64, u64, DocId)> = docs
            .into_iter()
            .map(|doc| {
                let (words, ord, id) = columns.key(doc);
                (words, ord, id, doc)
            })
            .collect();
        ordered.sort_unstable();
        let docs = Arc::new(ordered.into_iter().map(|(.., doc)| doc).collect::<Vec<_>>());
        let mut sorted = self.sorted.lock();
        sorted.insert(
            key,
            Cached {
                value: Arc::clone(&docs),
                used: now,
            },
        );
        // Over the budget: the least recently used orders go.
        while sorted
            .values()
            .map(|cached| cached.value.len())
            .sum::<usize>()
            > CACHED_DOCS
            && sorted.len() > 1
        {
            let Some(oldest) = sorted
                .iter()
                .filter(|(other, _)| **other != key)
                .min_by_key(|(_, cached)| cached.used)
                .map(|(other, _)| *other)
            else {
                break;
            };
            sorted.remove(&oldest);
        }
        Ok(docs)
    }

    /// Which of `docs` the list shows (live, and in no group for [`Shown::NoGroup`]), made
    /// again when the segment's deletions change.
    fn kept(
        &self,
        segment: &SegmentReader,
        fields: &Fields,
        request: &Request,
        docs: &[DocId],
    ) -> tantivy::Result<Arc<Kept>> {
        let key = (
            segment.segment_id(),
            segment.delete_opstamp(),
            request.account,
            request.sort,
            request.shown,
        );
        let now = self.tick();
        if let Some(cached) = self.kept.lock().get_mut(&key) {
            cached.used = now;
            return Ok(Arc::clone(&cached.value));
        }
        let alive = segment.alive_bitset();
        let in_no_group = match request.shown {
            Shown::Every => None,
            Shown::NoGroup => {
                let mut set = vec![false; segment.max_doc() as usize];
                for doc in docs_with(segment, &Term::from_field_u64(fields.group, NO_GROUP))? {
                    set[doc as usize] = true;
                }
                Some(set)
            }
        };
        let kept = Arc::new(Kept::new(docs.len(), |at| {
            let doc = docs[at];
            alive.is_none_or(|alive| alive.is_alive(doc))
                && in_no_group
                    .as_ref()
                    .is_none_or(|set| set.get(doc as usize).copied().unwrap_or(false))
        }));
        let mut cached = self.kept.lock();
        // An older state of the same segment's deletions is of no more use.
        cached.retain(|(segment, _, account, sort, shown), _| {
            (*segment, *account, *sort, *shown) != (key.0, key.2, key.3, key.4)
        });
        cached.insert(
            key,
            Cached {
                value: Arc::clone(&kept),
                used: now,
            },
        );
        Ok(kept)
    }

    /// Drops what was kept of segments the searcher no longer has (merged away).
    fn forget_gone(&self, searcher: &Searcher) {
        let current: HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(SegmentReader::segment_id)
            .collect();
        self.sorted
            .lock()
            .retain(|(segment, ..), _| current.contains(segment));
        self.kept
            .lock()
            .retain(|(segment, ..), _| current.contains(segment));
    }

    /// Makes the orders lists were asked in for the segments `searcher` has and the cache has
    /// not, so that a new segment costs the indexing thread, not the next page.
    pub(super) fn warm(&self, searcher: &Searcher, fields: &Fields) -> Result<(), StoreError> {
        let asked: HashSet<(AccountId, Option<ContactSort>)> = self
            .sorted
            .lock()
            .keys()
            .map(|(_, account, sort)| (*account, *sort))
            .collect();
        for (account, sort) in asked {
            self.sort_segments(searcher, fields, account, sort)?;
        }
        self.forget_gone(searcher);
        Ok(())
    }

    /// Sorts every segment in every list order of the accounts with the most documents, as
    /// many accounts as fit in the cache's budget (the indexing thread, when it is idle and the
    /// segments changed). Gives up between two orders once `stopping` says so.
    pub(super) fn prepare(
        &self,
        searcher: &Searcher,
        fields: &Fields,
        accounts: &[AccountId],
        stopping: &dyn Fn() -> bool,
    ) -> Result<(), StoreError> {
        let mut largest = Vec::new();
        for account in accounts {
            let term = Term::from_field_u64(fields.account, account.0);
            largest.push((*account, searcher.doc_freq(&term).map_err(index_error)?));
        }
        largest.sort_by_key(|(account, documents)| (std::cmp::Reverse(*documents), *account));
        // The default order and every column.
        let orders: Vec<Option<ContactSort>> = std::iter::once(None)
            .chain(ContactSort::ALL.map(Some))
            .collect();
        let mut budget = CACHED_DOCS as u64;
        for (account, documents) in largest {
            let needed = documents.saturating_mul(orders.len() as u64);
            if needed > budget {
                break;
            }
            budget -= needed;
            for &sort in &orders {
                if stopping() {
                    return Ok(());
                }
                self.sort_segments(searcher, fields, account, sort)?;
            }
        }
        self.forget_gone(searcher);
        Ok(())
    }

    /// Every segment of `searcher` sorted in `sort` for `account` (a look-up where it is kept).
    fn sort_segments(
        &self,
        searcher: &Searcher,
        fields: &Fields,
        account: AccountId,
        sort: Option<ContactSort>,
    ) -> Result<(), StoreError> {
        for segment in searcher.segment_readers() {
            let columns = Columns::open(segment, sort).map_err(index_error)?;
            self.sorted(segment, fields, account, sort, &columns)
                .map_err(index_error)?;
        }
        Ok(())
    }

    /// How many segment orders are kept.
    pub(super) fn len(&self) -> usize {
        self.sorted.lock().len()
    }

    fn tick(&self) -> u64 {
        self.clock
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// The place of `doc` among `docs` (sorted by [`Columns::key`]), found by its key.
fn place_of(docs: &[DocId], columns: &Columns, doc: DocId) -> Option<usize> {
    let key = columns.key(doc);
    let first = docs.partition_point(|other| columns.key(*other) < key);
    (first..docs.len())
        .take_while(|at| columns.key(docs[*at]) == key)
        .find(|at| docs[*at] == doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_ranks_count_the_set_bits_before_a_place() {
        let shown = |at: usize| at.is_multiple_of(3) || at == 130;
        let kept = Kept::new(200, shown);
        for at in 0..=200 {
            let expected = (0..at).filter(|before| shown(*before)).count();
            assert_eq!(kept.rank(at), expected, "rank at {at}");
        }
        assert!(kept.has(130) && !kept.has(131));
    }
}
