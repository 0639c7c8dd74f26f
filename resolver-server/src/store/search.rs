//! The contact search index of a sled store: the trigrams of every field a search looks in,
//! in a tantivy index in `search/` beside sled's files.
//!
//! The index is a filter, never the truth. A search takes the contacts one of whose fields
//! holds every trigram of the phrase (a superset of the matches), adds the contacts written
//! since the index last committed, reads them all from sled and keeps those that really match;
//! so the answer is exactly the scan's, and a stale entry costs a read, never a wrong result.
//! What must hold is the other direction: **every contact in sled has its current fields in
//! the index or among the pending writes.**
//!
//! How that holds:
//! - Every write to sled passes through the journal, which tells the index (under the
//!   journal's lock, so in sled's order) the contacts it touched ([`WriteObserver`]). They are
//!   pending until the indexing thread has read them back from sled, indexed them and
//!   committed; searches add the pending contacts to their candidates.
//! - The last commit's payload says whether the index held every write when it was made
//!   (`clean`: written by [`SearchIndex::flush_clean`], at a checkpoint of the whole store)
//!   or not (`open`: written before the first write that follows a clean commit). An index
//!   that opens as anything but clean (a crash, a missing or damaged directory, another schema)
//!   is rebuilt from sled in the background; searches scan meanwhile.

mod sorted;

use super::backend::{Tree, WriteObserver};
use super::{decode, keys, StoreError};
use crate::domain::{AccountId, Contact, ContactId, ContactSort, GroupFilter, Order};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tantivy::columnar::StrColumn;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED,
};
use tantivy::tokenizer::{NgramTokenizer, TextAnalyzer};
use tantivy::{DocId, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// Where the index lives, inside the data directory.
pub const SEARCH_DIR: &str = "search";

/// The schema's name: an index made by another version is rebuilt, not read.
const SCHEMA: &str = "ssrm-contacts-3";
/// The tokenizer of the text fields.
const TRIGRAM: &str = "trigram";
/// The group term of a contact in no group (group ids start at 1).
const NO_GROUP: u64 = 0;
/// The text fields, one per field a search looks in: the phone and e-mail as stored, then
/// [`Contact::searched_texts`] lower-cased. A candidate holds every trigram of the phrase in
/// one field, as a match holds the whole phrase in one.
const TEXT_FIELDS: [&str; 9] = [
    "phone",
    "email",
    "first_name",
    "last_name",
    "company",
    "tax_id",
    "address",
    "city",
    "description",
];
/// Memory the writer may fill before it writes a segment.
const WRITER_BYTES: usize = 64 * 1024 * 1024;
/// How often the indexing thread looks for pending writes.
const INDEX_EVERY: Duration = Duration::from_millis(200);
/// How long the indexing thread waits after a failure before it rebuilds.
const RETRY_AFTER: Duration = Duration::from_secs(5);

fn clean_payload() -> String {
    format!("{SCHEMA} clean")
}

fn open_payload() -> String {
    format!("{SCHEMA} open")
}

fn index_error(error: tantivy::TantivyError) -> StoreError {
    StoreError::Search(error.to_string())
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    account: Field,
    group: Field,
    /// [`TEXT_FIELDS`], in that order.
    texts: [Field; 9],
    /// The two words of [`sort_words`] of every [`ContactSort::ALL`] column, in that order.
    sorts: [(Field, Field); 9],
    /// The whole sort key of every [`ContactSort::ALL`] column, as a dictionary-coded column
    /// (its term ordinals are in key order within a segment).
    keys: [Field; 9],
}

/// The name of the fast field that holds a column's whole sort key.
fn sort_key_name(sort: ContactSort) -> String {
    format!("sort_{}", sort.name())
}

/// The names of the fast fields that hold a column's [`sort_words`].
fn sort_field_names(sort: ContactSort) -> (String, String) {
    let name = sort.name();
    (format!("sort_{name}_a"), format!("sort_{name}_b"))
}

/// The last byte of a sort key's second word when the key is longer than 15 bytes: keys with
/// equal words are then told apart by the whole key.
const LONG_KEY: u64 = 16;

/// A sort key's order in two words, compared as `(u64, u64)`: its first 15 bytes (zero-padded)
/// and, last, its length capped at [`LONG_KEY`]. Keys whose words differ compare as the words
/// do; equal words mean equal keys unless the length byte is `LONG_KEY`.
pub(crate) fn sort_words(key: &[u8]) -> (u64, u64) {
    let mut bytes = [0u8; 16];
    let kept = key.len().min(15);
    bytes[..kept].copy_from_slice(&key[..kept]);
    bytes[15] = key.len().min(LONG_KEY as usize) as u8;
    let (high, low) = bytes.split_at(8);
    let word = |half: &[u8]| u64::from_be_bytes(half.try_into().unwrap_or_default());
    (word(high), word(low))
}

impl Fields {
    fn schema() -> (Schema, Fields) {
        let mut builder = Schema::builder();
        let id = builder.add_u64_field("id", INDEXED | FAST);
        let account = builder.add_u64_field("account", INDEXED);
        let group = builder.add_u64_field("group", INDEXED);
        let texts = TEXT_FIELDS.map(|name| {
            builder.add_text_field(
                name,
                TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(TRIGRAM)
                        .set_index_option(IndexRecordOption::Basic),
                ),
            )
        });
        let sorts = ContactSort::ALL.map(|sort| {
            let (high, low) = sort_field_names(sort);
            (
                builder.add_u64_field(&high, FAST),
                builder.add_u64_field(&low, FAST),
            )
        });
        let keys = ContactSort::ALL.map(|sort| {
            builder.add_text_field(&sort_key_name(sort), TextOptions::default().set_fast("raw"))
        });
        let fields = Fields {
            id,
            account,
            group,
            texts,
            sorts,
            keys,
        };
        (builder.build(), fields)
    }

    /// The clause that keeps the documents of a group filter (none for every group).
    fn group_clause(&self, group: GroupFilter) -> Option<(Occur, Box<dyn Query>)> {
        match group {
            GroupFilter::Any => None,
            GroupFilter::NoGroup => Some(exact(Term::from_field_u64(self.group, NO_GROUP))),
            GroupFilter::Group(id) => Some(exact(Term::from_field_u64(self.group, id.0))),
        }
    }

    /// The document of `contact`: the texts a search looks in, as the search compares them
    /// (see `domain::contacts`: phone and e-mail as stored, the other fields lowercased).
    fn document(&self, account: AccountId, contact: &Contact) -> TantivyDocument {
        let mut document = TantivyDocument::default();
        document.add_u64(self.id, contact.id.0);
        document.add_u64(self.account, account.0);
        if contact.groups.is_empty() {
            document.add_u64(self.group, NO_GROUP);
        }
        for group in &contact.groups {
            document.add_u64(self.group, group.0);
        }
        let [phone, email, others @ ..] = self.texts;
        document.add_text(phone, contact.phone.as_str());
        if let Some(address) = &contact.email {
            document.add_text(email, address.as_str());
        }
        for (field, text) in others.into_iter().zip(contact.searched_texts()) {
            if !text.is_empty() {
                document.add_text(field, text.to_lowercase());
            }
        }
        for ((sort, (high, low)), whole) in
            ContactSort::ALL.into_iter().zip(self.sorts).zip(self.keys)
        {
            let key = sort.key(contact);
            let (first, second) = sort_words(key.as_bytes());
            document.add_u64(high, first);
            document.add_u64(low, second);
            if key.len() > 15 {
                // Only keys that words cannot tell apart are ever looked up.
                document.add_text(whole, key);
            }
        }
        document
    }
}

/// Contacts written since the last commit that searches see.
#[derive(Default)]
struct Pending {
    /// Written, not yet taken by the indexing thread.
    changed: HashSet<(AccountId, ContactId)>,
    /// Taken, indexed, not yet visible to searches.
    committing: HashSet<(AccountId, ContactId)>,
}

struct Inner {
    fields: Fields,
    index: Index,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    /// sled's `data` tree, where the contacts are read back from.
    data: Tree,
    pending: Mutex<Pending>,
    /// Whether the index holds every contact but the pending ones (false while it is built).
    ready: AtomicBool,
    /// Whether the last commit said `clean`: the next write must first commit `open`.
    clean: AtomicBool,
    /// Set when the store closes: a rebuild in progress gives up.
    stopping: AtomicBool,
    /// How many list pages are selected at once.
    selecting: Gate,
    /// Vectors that list pages selected in, kept for the next ones (at most one per turn of
    /// `selecting`): a million contacts make 32 MB that a fresh vector would fault in again.
    spare: Mutex<Vec<Vec<Entry>>>,
    /// Each segment's documents in the list orders asked for.
    orders: sorted::Orders,
    dir: PathBuf,
}

/// The search index of one sled store. Cheap to clone; dropping the last clone stops the
/// indexing thread, after it has indexed what was written and committed `clean`.
#[derive(Clone)]
pub struct SearchIndex(Arc<Handle>);

/// The index and its indexing thread.
struct Handle {
    inner: Arc<Inner>,
    /// Dropping the sender stops the thread.
    thread: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        if let Some((stop, thread)) = self.thread.take() {
            drop(stop);
            if thread.join().is_err() {
                tracing::error!("search index: the indexing thread panicked");
            }
        }
        // No write can come any more (the store is gone), so whatever is pending is the last.
        if let Err(error) = SearchIndex::flush_inner(&self.inner) {
            tracing::error!(%error, "search index: not closed clean; it is rebuilt on next open");
        }
    }
}

/// The accounts whose contacts a rebuild reads: all of them, found from the data tree.
fn accounts_with_contacts(data: &Tree) -> Result<Vec<AccountId>, StoreError> {
    let mut accounts = Vec::new();
    let mut from = 0u64;
    loop {
        let Some(first) = data.range(from.to_be_bytes()..).keys().next() else {
            return Ok(accounts);
        };
        let key = first?;
        let Some(account) = key.get(..8).and_then(|id| id.try_into().ok()) else {
            return Ok(accounts);
        };
        let account = u64::from_be_bytes(account);
        accounts.push(AccountId(account));
        match account.checked_add(1) {
            Some(next) => from = next,
            None => return Ok(accounts),
        }
    }
}

impl SearchIndex {
    /// Opens the index in `dir` over the contacts of `data`; when it was not closed clean (or
    /// is missing, damaged or of another schema) it is made anew from `data` by the indexing
    /// thread, and [`SearchIndex::candidates`] answers `None` until it is done.
    pub(crate) fn open(dir: &Path, data: Tree) -> Result<SearchIndex, StoreError> {
        let (schema, fields) = Fields::schema();
        let opened = Index::open_in_dir(dir).ok().filter(|index| {
            index.schema() == schema
                && index
                    .load_metas()
                    .is_ok_and(|metas| metas.payload.as_deref() == Some(&clean_payload()))
        });
        let ready = opened.is_some();
        let index = match opened {
            Some(index) => index,
            None => {
                if dir.exists() {
                    std::fs::remove_dir_all(dir).map_err(|error| {
                        StoreError::Search(format!("cannot remove {}: {error}", dir.display()))
                    })?;
                }
                std::fs::create_dir_all(dir).map_err(|error| {
                    StoreError::Search(format!("cannot create {}: {error}", dir.display()))
                })?;
                Index::create_in_dir(dir, schema).map_err(index_error)?
            }
        };
        let trigrams = NgramTokenizer::new(3, 3, false).map_err(index_error)?;
        index
            .tokenizers()
            .register(TRIGRAM, TextAnalyzer::from(trigrams));
        let writer = index
            .writer_with_num_threads(1, WRITER_BYTES)
            .map_err(index_error)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_error)?;
        let inner = Arc::new(Inner {
            fields,
            index,
            writer: Mutex::new(writer),
            reader,
            data,
            pending: Mutex::new(Pending::default()),
            ready: AtomicBool::new(ready),
            clean: AtomicBool::new(ready),
            stopping: AtomicBool::new(false),
            selecting: Gate::new(std::thread::available_parallelism().map_or(2, usize::from)),
            spare: Mutex::new(Vec::new()),
            orders: sorted::Orders::default(),
            dir: dir.to_owned(),
        });
        if !ready {
            // Debug: every command line run on a new data directory comes here.
            tracing::debug!(dir = %dir.display(), "search index: building from the store");
            inner.commit(&open_payload())?;
        }
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let indexed = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("ssrm-search".into())
            .spawn(move || index_loop(&indexed, &stopped))
            .map_err(|error| StoreError::Search(format!("cannot start: {error}")))?;
        Ok(SearchIndex(Arc::new(Handle {
            inner,
            thread: Some((stop, thread)),
        })))
    }

    /// What the journal tells of every write: the index itself, weakly (it reads the store, so
    /// a strong reference from the store's journal would keep both open forever).
    pub(crate) fn observer(&self) -> Weak<dyn WriteObserver> {
        let observer: Arc<dyn WriteObserver> = self.0.inner.clone();
        Arc::downgrade(&observer)
    }

    /// How many segment orders list pages keep sorted (diagnostics, tests).
    pub fn sorted_orders(&self) -> usize {
        self.0.inner.orders.len()
    }

    /// Whether the index answers searches (false while it is being built).
    pub fn is_ready(&self) -> bool {
        self.0.inner.ready.load(Ordering::SeqCst)
    }

    /// The contacts of `account` (in `group`) that may contain `phrase`: a superset of those
    /// whose searched texts contain it, in id order. `None` when the index cannot tell: while
    /// it is being built, or for a phrase under three characters (it has no trigram).
    pub fn candidates(
        &self,
        account: AccountId,
        phrase: &str,
        group: GroupFilter,
    ) -> Result<Option<Vec<ContactId>>, StoreError> {
        let inner = &self.0.inner;
        if !self.is_ready() {
            return Ok(None);
        }
        let mut analyzer = inner
            .index
            .tokenizer_for_field(inner.fields.texts[0])
            .map_err(index_error)?;
        let mut trigrams = Vec::new();
        let mut stream = analyzer.token_stream(phrase);
        while stream.advance() {
            trigrams.push(stream.token().text.clone());
        }
        trigrams.sort_unstable();
        trigrams.dedup();
        if trigrams.is_empty() {
            return Ok(None);
        }
        // Every trigram in one field, in any of the fields.
        let in_one_field = inner
            .fields
            .texts
            .iter()
            .map(|field| -> (Occur, Box<dyn Query>) {
                let all = trigrams
                    .iter()
                    .map(|trigram| exact(Term::from_field_text(*field, trigram)))
                    .collect();
                (Occur::Should, Box::new(BooleanQuery::new(all)))
            })
            .collect();
        let mut clauses = vec![exact(Term::from_field_u64(inner.fields.account, account.0))];
        clauses.extend(inner.fields.group_clause(group));
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(in_one_field))));
        // Pending first, then the searcher: a contact leaves the pending set only after the
        // reader was reloaded with it.
        let mut ids: Vec<u64> = inner.pending_of(account).into_iter().collect();
        let searcher = inner.reader.searcher();
        let mut found = Vec::new();
        collect_entries(&searcher, &BooleanQuery::new(clauses), None, &mut found)
            .map_err(index_error)?;
        ids.extend(found.iter().map(|entry| entry.id));
        ids.sort_unstable();
        ids.dedup();
        Ok(Some(ids.into_iter().map(ContactId).collect()))
    }

    /// Page `skip..skip + take` of the contacts of `account` (in `group`) sorted by `sort`, then
    /// by id (by id alone when `None`), the whole list reversed for [`Order::Descending`]; and
    /// how many there are in all. It reads two words per contact from the index's columns,
    /// never the contacts before the page: the page is selected among them
    /// ([`select_page`]), and only contacts whose words tie at its edges (keys longer than 15
    /// bytes that share their first 15) are read from the store. `None` while the index is
    /// being built.
    pub fn page(
        &self,
        account: AccountId,
        group: GroupFilter,
        sort: Option<ContactSort>,
        order: Order,
        skip: u64,
        take: u64,
    ) -> Result<Option<(u64, Vec<ContactId>)>, StoreError> {
        let inner = &self.0.inner;
        if !self.is_ready() {
            return Ok(None);
        }
        // Pending first, then the searcher (as in `candidates`): a pending contact's document
        // may be stale or gone, so it is left out and its record read instead.
        let _turn = inner.selecting.enter();
        let pending = inner.pending_of(account);
        let shown = match group {
            GroupFilter::Any => Some(sorted::Shown::Every),
            GroupFilter::NoGroup => Some(sorted::Shown::NoGroup),
            GroupFilter::Group(_) => None,
        };
        if let Some(shown) = shown {
            let mut loose = Vec::new();
            for id in &pending {
                if let Some(contact) = inner.contact(account, ContactId(*id))? {
                    if group.admits(&contact) {
                        loose.push(sorted::Loose {
                            words: Entry::of(&contact, sort).words,
                            id: *id,
                            key: sort
                                .map(|sort| sort.key(&contact).into_bytes())
                                .unwrap_or_default(),
                        });
                    }
                }
            }
            let searcher = inner.reader.searcher();
            let request = sorted::Request {
                account,
                shown,
                sort,
                descending: order == Order::Descending,
                skip,
                take,
                pending: &pending,
                loose,
            };
            let (total, ids) = inner.orders.page(&searcher, &inner.fields, request)?;
            return Ok(Some((total, ids.into_iter().map(ContactId).collect())));
        }
        let mut clauses = vec![exact(Term::from_field_u64(inner.fields.account, account.0))];
        clauses.extend(inner.fields.group_clause(group));
        let columns = sort.map(sort_field_names);
        let searcher = inner.reader.searcher();
        // A vector a page before this one selected in (its pages are gone by now).
        let mut entries = inner.spare.lock().pop().unwrap_or_default();
        entries.clear();
        collect_entries(
            &searcher,
            &BooleanQuery::new(clauses),
            columns.as_ref(),
            &mut entries,
        )
        .map_err(index_error)?;
        if !pending.is_empty() {
            entries.retain(|entry| !pending.contains(&entry.id));
            for id in &pending {
                if let Some(contact) = inner.contact(account, ContactId(*id))? {
                    if group.admits(&contact) {
                        entries.push(Entry::of(&contact, sort));
                    }
                }
            }
        }
        let total = entries.len() as u64;
        let from = usize::try_from(skip.min(total)).unwrap_or(usize::MAX);
        let to = usize::try_from(skip.saturating_add(take).min(total)).unwrap_or(usize::MAX);
        let descending = order == Order::Descending;
        // Each segment's dictionary column, opened for the first group of long keys.
        let mut opened: Option<Vec<Option<StrColumn>>> = None;
        let ids = select_page(&mut entries, from..to, descending, |members| {
            let Some(sort) = sort else {
                return Ok(vec![0; members.len()]);
            };
            let columns = match &mut opened {
                Some(columns) => columns,
                None => {
                    let mut columns = Vec::new();
                    for segment in searcher.segment_readers() {
                        let fast = segment.fast_fields();
                        columns.push(fast.str(&sort_key_name(sort)).map_err(index_error)?);
                    }
                    opened.insert(columns)
                }
            };
            // Each distinct key once: by its term ordinal in its segment's dictionary (a
            // pending contact's from its record).
            let mut distinct: HashMap<(u64, u64), usize> = HashMap::new();
            let mut keys: Vec<Vec<u8>> = Vec::new();
            let mut found = Vec::with_capacity(members.len());
            for member in members {
                let place = match member.at {
                    PENDING => (PENDING, member.id),
                    at => {
                        let column = columns.get((at >> 32) as usize).and_then(Option::as_ref);
                        let ord = column.and_then(|column| column.term_ords(at as u32).next());
                        (at >> 32, ord.unwrap_or(u64::MAX))
                    }
                };
                let slot = match distinct.entry(place) {
                    std::collections::hash_map::Entry::Occupied(known) => *known.get(),
                    std::collections::hash_map::Entry::Vacant(vacant) => {
                        let mut key = Vec::new();
                        if place.0 == PENDING {
                            if let Some(contact) = inner.contact(account, ContactId(member.id))? {
                                key = sort.key(&contact).into_bytes();
                            }
                        } else if let Some(column) = columns[place.0 as usize].as_ref() {
                            column
                                .ord_to_bytes(place.1, &mut key)
                                .map_err(|error| StoreError::Search(error.to_string()))?;
                        }
                        keys.push(key);
                        *vacant.insert(keys.len() - 1)
                    }
                };
                found.push(slot);
            }
            let ranks = dense_ranks(&keys);
            Ok(found.into_iter().map(|slot| ranks[slot]).collect())
        })?;
        inner.spare.lock().push(entries);
        Ok(Some((total, ids.into_iter().map(ContactId).collect())))
    }

    /// Makes the documents of `account` again from the store (`resolver-server reindex`), and
    /// returns once searches see them.
    pub fn reindex(&self, account: AccountId) -> Result<u64, StoreError> {
        let inner = &self.0.inner;
        let writer = inner.writer.lock();
        writer.delete_term(Term::from_field_u64(inner.fields.account, account.0));
        let indexed = inner.add_account(&writer, account)?;
        drop(writer);
        inner.commit(&open_payload())?;
        Ok(indexed)
    }

    /// Indexes every pending write and commits `clean` when no write came meanwhile: what a
    /// checkpoint of the store calls, so an index closed with its store opens ready.
    pub fn flush_clean(&self) -> Result<(), StoreError> {
        SearchIndex::flush_inner(&self.0.inner)
    }

    fn flush_inner(inner: &Inner) -> Result<(), StoreError> {
        if !inner.ready.load(Ordering::SeqCst) {
            return Ok(());
        }
        // Held throughout: a write observed meanwhile waits, so `clean` is never written while
        // a write is missing from it.
        let mut pending = inner.pending.lock();
        let changed: Vec<_> = pending.changed.drain().collect();
        inner.index_contacts(&changed)?;
        inner.commit(&clean_payload())?;
        pending.committing.clear();
        inner.clean.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// A clause every matching document must satisfy: holding `term`.
fn exact(term: Term) -> (Occur, Box<dyn Query>) {
    (
        Occur::Must,
        Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
    )
}

impl Inner {
    /// The ids of the contacts of `account` written since the searcher's last reload (their
    /// documents may be stale or gone). Taken before the searcher: a contact leaves the set
    /// only after the reader was reloaded with it.
    fn pending_of(&self, account: AccountId) -> HashSet<u64> {
        let pending = self.pending.lock();
        pending
            .changed
            .iter()
            .chain(&pending.committing)
            .filter(|(owner, _)| *owner == account)
            .map(|(_, id)| id.0)
            .collect()
    }

    /// The contact as the store holds it now.
    fn contact(&self, account: AccountId, id: ContactId) -> Result<Option<Contact>, StoreError> {
        self.data
            .get(keys::contact(account, id))?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Commits what the writer holds with `payload` and shows it to searches.
    fn commit(&self, payload: &str) -> Result<(), StoreError> {
        let mut writer = self.writer.lock();
        let mut prepared = writer.prepare_commit().map_err(index_error)?;
        prepared.set_payload(payload);
        prepared.commit().map_err(index_error)?;
        drop(writer);
        self.reader.reload().map_err(index_error)?;
        self.orders.warm(&self.reader.searcher(), &self.fields)
    }

    /// Replaces the documents of `contacts` with what the store holds now (none for a contact
    /// that is gone).
    fn index_contacts(&self, contacts: &[(AccountId, ContactId)]) -> Result<(), StoreError> {
        let writer = self.writer.lock();
        for (account, id) in contacts {
            writer.delete_term(Term::from_field_u64(self.fields.id, id.0));
            if let Some(contact) = self.contact(*account, *id)? {
                writer
                    .add_document(self.fields.document(*account, &contact))
                    .map_err(index_error)?;
            }
        }
        Ok(())
    }

    /// Adds a document for every contact of `account` in the store.
    fn add_account(&self, writer: &IndexWriter, account: AccountId) -> Result<u64, StoreError> {
        let mut indexed = 0;
        for value in self.data.scan_prefix(keys::contacts(account)).values() {
            if indexed % 4096 == 0 && self.stopping.load(Ordering::SeqCst) {
                return Err(StoreError::Search("the store is closing".into()));
            }
            let contact: Contact = decode(&value?)?;
            writer
                .add_document(self.fields.document(account, &contact))
                .map_err(index_error)?;
            indexed += 1;
        }
        Ok(indexed)
    }

    /// Makes the whole index from the store.
    fn rebuild(&self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let mut indexed = 0;
        {
            let writer = self.writer.lock();
            writer.delete_all_documents().map_err(index_error)?;
            for account in accounts_with_contacts(&self.data)? {
                indexed += self.add_account(&writer, account)?;
            }
        }
        self.commit(&open_payload())?;
        self.ready.store(true, Ordering::SeqCst);
        if indexed > 0 {
            tracing::info!(
                contacts = indexed,
                seconds = started.elapsed().as_secs_f64(),
                "search index: rebuilt from the store"
            );
        }
        Ok(())
    }

    /// Indexes and commits what was written since the last time; true when there was any.
    fn index_pending(&self) -> Result<bool, StoreError> {
        let changed: Vec<_> = {
            let mut pending = self.pending.lock();
            let changed: Vec<_> = pending.changed.drain().collect();
            pending.committing.extend(changed.iter().copied());
            changed
        };
        if changed.is_empty() {
            return Ok(false);
        }
        self.index_contacts(&changed)?;
        self.commit(&open_payload())?;
        let mut pending = self.pending.lock();
        for contact in &changed {
            pending.committing.remove(contact);
        }
        Ok(true)
    }
}

impl WriteObserver for Inner {
    fn written(&self, tree: &[u8], key: &[u8]) {
        if tree != super::DATA_TREE.as_bytes() {
            return;
        }
        let Some(contact) = keys::contact_of(key) else {
            return;
        };
        let inner = self;
        inner.pending.lock().changed.insert(contact);
        if inner.clean.swap(false, Ordering::SeqCst) {
            // The first write after a clean commit: from now on a crash must rebuild.
            if let Err(error) = inner.commit(&open_payload()) {
                tracing::error!(%error, "search index: cannot mark it open; it will be rebuilt");
                inner.ready.store(false, Ordering::SeqCst);
                let meta = inner.dir.join("meta.json");
                if let Err(error) = std::fs::remove_file(&meta) {
                    tracing::error!(%error, path = %meta.display(), "search index: cannot remove");
                }
            }
        }
    }
}

/// The indexing thread: builds the index when it must, then indexes pending writes until the
/// store closes (`stopped` disconnects).
fn index_loop(inner: &Inner, stopped: &std::sync::mpsc::Receiver<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut wait = INDEX_EVERY;
    // The searcher generation whose segments were last sorted in every list order.
    let mut sorted = None;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
        let outcome = if inner.ready.load(Ordering::SeqCst) {
            inner.index_pending()
        } else {
            inner.rebuild().map(|()| true)
        };
        if matches!(outcome, Ok(false)) {
            // Idle, with segments not yet sorted (after a start, an import, a merge): every
            // list order of the largest accounts, so that no first page of an order pays for
            // sorting a million documents. Segments already sorted cost a look-up.
            let searcher = inner.reader.searcher();
            let generation = searcher.generation().generation_id();
            if sorted != Some(generation) {
                sorted = Some(generation);
                let prepared = accounts_with_contacts(&inner.data).and_then(|accounts| {
                    let stopping = || inner.stopping.load(Ordering::SeqCst);
                    inner
                        .orders
                        .prepare(&searcher, &inner.fields, &accounts, &stopping)
                });
                if let Err(error) = prepared {
                    tracing::warn!(%error, "search index: list orders not prepared");
                }
            }
        }
        let outcome = outcome.map(|_| ());
        wait = match outcome {
            Ok(()) => INDEX_EVERY,
            Err(_) if inner.stopping.load(Ordering::SeqCst) => return,
            Err(error) => {
                tracing::error!(%error, "search index: indexing failed; searches scan the store");
                inner.ready.store(false, Ordering::SeqCst);
                RETRY_AFTER
            }
        };
    }
}

/// The SQL `ILIKE` pattern that PostgreSQL's contact search uses for `phrase` (lowercased),
/// matched against a contact record's JSON: it must match every record a field of which
/// contains the phrase once lower-cased as Rust does, so it is looser where PostgreSQL's
/// case folding may differ from Rust's. `ILIKE` folds ASCII letters only (in any locale), so
/// every other character becomes `_` (any one character), as do `k` and `i`, which the Kelvin
/// sign and `İ` lower-case to. `None` when no pattern can be sure to match: a phrase with a
/// character that JSON escapes (`"`, `\`, control characters), or with U+0307, which `İ`
/// lower-cases to together with `i` (one character stored, two in the phrase), or with no
/// three literal characters in a row for the trigram index to use: the caller scans.
pub(crate) fn like_pattern(phrase: &str) -> Option<String> {
    let mut pattern = String::from("%");
    let (mut run, mut longest) = (0, 0);
    for character in phrase.chars() {
        match character {
            '"' | '\\' | '\u{307}' => return None,
            character if character.is_control() => return None,
            'k' | 'i' => {
                pattern.push('_');
                run = 0;
            }
            character if character.is_ascii() => {
                if matches!(character, '%' | '_') {
                    pattern.push('\\');
                }
                pattern.push(character);
                run += 1;
                longest = longest.max(run);
            }
            _ => {
                pattern.push('_');
                run = 0;
            }
        }
    }
    pattern.push('%');
    (longest >= 3).then_some(pattern)
}

/// Lets at most so many threads in at once; the others wait their turn. A list page holds a
/// vector of every contact of its filter (32 bytes each) while it selects: more pages at once
/// than cores only thrash the caches (`scripts/load.sh`, 32 connections on two cores: 7 pages
/// a second, against about 30 one at a time).
struct Gate {
    limit: usize,
    inside: Mutex<usize>,
    left: parking_lot::Condvar,
}

/// A thread's turn inside a [`Gate`], until dropped.
struct Turn<'a>(&'a Gate);

impl Gate {
    fn new(limit: usize) -> Gate {
        Gate {
            limit: limit.max(1),
            inside: Mutex::new(0),
            left: parking_lot::Condvar::new(),
        }
    }

    fn enter(&self) -> Turn<'_> {
        let mut inside = self.inside.lock();
        while *inside >= self.limit {
            self.left.wait(&mut inside);
        }
        *inside += 1;
        Turn(self)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.inside.lock() -= 1;
        self.0.left.notify_one();
    }
}

/// A contact in a list being paged: its [`sort_words`] (its id and zero for id order) and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    words: (u64, u64),
    id: u64,
    /// Its document: segment ordinal (high half) and doc id; [`PENDING`] for a contact read
    /// from the store.
    at: u64,
}

/// The [`Entry::at`] of a contact read from the store.
const PENDING: u64 = u64::MAX;

impl Entry {
    fn of(contact: &Contact, sort: Option<ContactSort>) -> Entry {
        let id = contact.id.0;
        let words = match sort {
            Some(sort) => sort_words(sort.key(contact).as_bytes()),
            None => (id, 0),
        };
        Entry {
            words,
            id,
            at: PENDING,
        }
    }

    /// Whether entries with these words may still differ by their whole keys.
    fn long(&self) -> bool {
        sorted::long(self.words)
    }
}

/// The ids at `range` of `entries` ordered by their whole keys, then ids (the reverse when
/// `descending`), where `ranks` gives, for entries whose words tie, numbers in the order of
/// their whole keys (equal for equal keys). `entries` is reordered in place: two selections
/// (O(n)) put the page's entries in place by words and ids, which is the order except inside
/// a group of long keys with equal words; each such group that the page holds is then ranked
/// and ordered, whole when it crosses the page's edge.
fn select_page(
    entries: &mut [Entry],
    range: std::ops::Range<usize>,
    descending: bool,
    mut ranks: impl FnMut(&[Entry]) -> Result<Vec<u64>, StoreError>,
) -> Result<Vec<u64>, StoreError> {
    let (from, to) = (range.start, range.end);
    if from >= to {
        return Ok(Vec::new());
    }
    let directed = |ordering: std::cmp::Ordering| {
        if descending {
            ordering.reverse()
        } else {
            ordering
        }
    };
    let coarse = |a: &Entry, b: &Entry| directed((a.words, a.id).cmp(&(b.words, b.id)));
    entries.select_nth_unstable_by(from, coarse);
    let rest = &mut entries[from..];
    if to - from < rest.len() {
        rest.select_nth_unstable_by(to - from, coarse);
    }
    entries[from..to].sort_unstable_by(coarse);
    let mut page: Vec<u64> = entries[from..to].iter().map(|entry| entry.id).collect();
    let mut start = from;
    while start < to {
        let words = entries[start].words;
        let end = start + entries[start..to].partition_point(|entry| entry.words == words);
        if entries[start].long() {
            // The group, with its members beyond the page's edges, and the rank of its first.
            let same = |entry: &&Entry| entry.words == words;
            let mut members: Vec<Entry> = entries[start..end].to_vec();
            let mut first = start;
            if start == from {
                let count = members.len();
                members.extend(entries[..from].iter().filter(same));
                first -= members.len() - count;
            }
            if end == to {
                members.extend(entries[to..].iter().filter(same));
            }
            let mut ranked: Vec<(u64, u64)> = ranks(&members)?
                .into_iter()
                .zip(members.iter().map(|member| member.id))
                .collect();
            ranked.sort_unstable_by(|a, b| directed(a.cmp(b)));
            for (rank, (_, id)) in (first..).zip(ranked) {
                if (start..end).contains(&rank) {
                    page[rank - from] = id;
                }
            }
        }
        start = end;
    }
    Ok(page)
}

/// For each of `keys`, a number in their order: equal keys get equal numbers.
fn dense_ranks<K: Ord>(keys: &[K]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_unstable_by(|a, b| keys[*a].cmp(&keys[*b]));
    let mut ranks = vec![0; keys.len()];
    let mut rank = 0;
    for (at, slot) in order.iter().enumerate() {
        if at > 0 && keys[order[at - 1]] != keys[*slot] {
            rank += 1;
        }
        ranks[*slot] = rank;
    }
    ranks
}

/// Appends an [`Entry`] for every live document matching `query` to `into`: its id and the
/// two sort-word columns named in `words` (the id alone when `None`). Reads a block of
/// documents at a time from each column.
fn collect_entries(
    searcher: &tantivy::Searcher,
    query: &dyn Query,
    words: Option<&(String, String)>,
    into: &mut Vec<Entry>,
) -> tantivy::Result<()> {
    let weight = query.weight(tantivy::query::EnableScoring::disabled_from_searcher(
        searcher,
    ))?;
    let mut live: Vec<DocId> = Vec::new();
    let [mut ids, mut highs, mut lows]: [Vec<Option<u64>>; 3] = Default::default();
    for (segment, reader) in (0u64..).zip(searcher.segment_readers()) {
        let fast = reader.fast_fields();
        let id_column = fast.u64("id")?;
        let word_columns = match words {
            Some((high, low)) => Some((fast.u64(high)?, fast.u64(low)?)),
            None => None,
        };
        let alive = reader.alive_bitset();
        into.reserve(reader.num_docs() as usize);
        weight.for_each_no_score(reader, &mut |docs| {
            live.clear();
            live.extend(
                docs.iter()
                    .filter(|doc| alive.is_none_or(|alive| alive.is_alive(**doc))),
            );
            for buffer in [&mut ids, &mut highs, &mut lows] {
                buffer.clear();
                buffer.resize(live.len(), None);
            }
            id_column.first_vals(&live, &mut ids);
            if let Some((high, low)) = &word_columns {
                high.first_vals(&live, &mut highs);
                low.first_vals(&live, &mut lows);
            }
            for (at, doc) in live.iter().enumerate() {
                let Some(id) = ids[at] else { continue };
                let words = match &word_columns {
                    Some(_) => (highs[at].unwrap_or(0), lows[at].unwrap_or(0)),
                    None => (id, 0),
                };
                into.push(Entry {
                    words,
                    id,
                    at: segment << 32 | u64::from(*doc),
                });
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_are_looser_than_rust_lowercasing() {
        assert_eq!(like_pattern("nowak").as_deref(), Some("%nowa_%"));
        assert_eq!(like_pattern("kowalski").as_deref(), Some("%_owals__%"));
        assert_eq!(like_pattern("łódź 12").as_deref(), Some("%__d_ 12%"));
        assert_eq!(like_pattern("50%_off").as_deref(), Some("%50\\%\\_off%"));
        assert_eq!(
            like_pattern("@example.com").as_deref(),
            Some("%@example.com%")
        );
        assert_eq!(like_pattern("say \"hi\""), None, "JSON escapes quotes");
        assert_eq!(like_pattern("i\u{307}stanbul"), None);
        assert_eq!(like_pattern("kik"), None, "no three literal characters");
        assert_eq!(like_pattern("łó"), None);
    }

    /// Keys from a small alphabet, short and long, so that words tie often and long keys
    /// share their first 15 bytes.
    fn key_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            "[ab]{0,4}",
            "[ab\\x00]{0,17}",
            "aaaaaaaaaaaaaaa[ab]{0,3}",
            "[ab]{14,17}",
        ]
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config())]

        #[test]
        fn sort_words_order_as_keys_do(a in key_strategy(), b in key_strategy()) {
            let (words_a, words_b) = (sort_words(a.as_bytes()), sort_words(b.as_bytes()));
            if words_a != words_b {
                proptest::prop_assert_eq!(words_a.cmp(&words_b), a.cmp(&b));
            } else if words_a.1 & 0xff != LONG_KEY {
                proptest::prop_assert_eq!(&a, &b);
            }
        }

        #[test]
        fn pages_are_the_sorted_list_cut(
            keys in proptest::collection::vec(key_strategy(), 0..120),
            skip in 0usize..130,
            take in 1usize..40,
            descending: bool,
        ) {
            let mut sorted: Vec<(String, u64)> =
                keys.iter().cloned().zip(1u64..).collect();
            sorted.sort();
            if descending {
                sorted.reverse();
            }
            let expected: Vec<u64> =
                sorted.iter().skip(skip).take(take).map(|(_, id)| *id).collect();
            let mut entries: Vec<Entry> = keys
                .iter()
                .zip(1u64..)
                .map(|(key, id)| Entry { words: sort_words(key.as_bytes()), id, at: PENDING })
                .collect();
            let from = skip.min(keys.len());
            let to = (skip + take).min(keys.len());
            let mut read = 0;
            let page = select_page(&mut entries, from..to, descending, |members| {
                read += members.len();
                let of_members: Vec<&String> =
                    members.iter().map(|member| &keys[member.id as usize - 1]).collect();
                Ok(dense_ranks(&of_members))
            })
            .expect("page");
            proptest::prop_assert_eq!(page, expected);
            proptest::prop_assert!(
                read <= keys.iter().filter(|key| key.len() > 15).count(),
                "only long keys are read"
            );
        }
    }

    #[test]
    fn a_gate_lets_no_more_than_its_limit_in() {
        let gate = std::sync::Arc::new(Gate::new(2));
        let inside = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (gate, inside, most) = (gate.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let _turn = gate.enter();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        let most = most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} inside at once");
    }
}
