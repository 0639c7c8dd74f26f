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

use super::backend::{Tree, WriteObserver};
use super::{decode, keys, StoreError};
use crate::domain::{AccountId, Contact, ContactId, GroupFilter};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED,
};
use tantivy::tokenizer::{NgramTokenizer, TextAnalyzer};
use tantivy::{DocId, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// Where the index lives, inside the data directory.
pub const SEARCH_DIR: &str = "search";

/// The schema's name: an index made by another version is rebuilt, not read.
const SCHEMA: &str = "ssrm-contacts-2";
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
        let fields = Fields {
            id,
            account,
            group,
            texts,
        };
        (builder.build(), fields)
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
        let term = |term: Term| -> (Occur, Box<dyn Query>) {
            (
                Occur::Must,
                Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
            )
        };
        // Every trigram in one field, in any of the fields.
        let in_one_field = inner
            .fields
            .texts
            .iter()
            .map(|field| -> (Occur, Box<dyn Query>) {
                let all = trigrams
                    .iter()
                    .map(|trigram| term(Term::from_field_text(*field, trigram)))
                    .collect();
                (Occur::Should, Box::new(BooleanQuery::new(all)))
            })
            .collect();
        let mut clauses = vec![term(Term::from_field_u64(inner.fields.account, account.0))];
        match group {
            GroupFilter::Any => {}
            GroupFilter::NoGroup => {
                clauses.push(term(Term::from_field_u64(inner.fields.group, NO_GROUP)))
            }
            GroupFilter::Group(id) => {
                clauses.push(term(Term::from_field_u64(inner.fields.group, id.0)))
            }
        }
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(in_one_field))));
        // Pending first, then the searcher: a contact leaves the pending set only after the
        // reader was reloaded with it.
        let mut ids: Vec<u64> = {
            let pending = inner.pending.lock();
            pending
                .changed
                .iter()
                .chain(&pending.committing)
                .filter(|(owner, _)| *owner == account)
                .map(|(_, id)| id.0)
                .collect()
        };
        let searcher = inner.reader.searcher();
        ids.extend(
            searcher
                .search(&BooleanQuery::new(clauses), &Ids)
                .map_err(index_error)?,
        );
        ids.sort_unstable();
        ids.dedup();
        Ok(Some(ids.into_iter().map(ContactId).collect()))
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

impl Inner {
    /// Commits what the writer holds with `payload` and shows it to searches.
    fn commit(&self, payload: &str) -> Result<(), StoreError> {
        let mut writer = self.writer.lock();
        let mut prepared = writer.prepare_commit().map_err(index_error)?;
        prepared.set_payload(payload);
        prepared.commit().map_err(index_error)?;
        drop(writer);
        self.reader.reload().map_err(index_error)
    }

    /// Replaces the documents of `contacts` with what the store holds now (none for a contact
    /// that is gone).
    fn index_contacts(&self, contacts: &[(AccountId, ContactId)]) -> Result<(), StoreError> {
        let writer = self.writer.lock();
        for (account, id) in contacts {
            writer.delete_term(Term::from_field_u64(self.fields.id, id.0));
            if let Some(bytes) = self.data.get(keys::contact(*account, *id))? {
                let contact: Contact = decode(&bytes)?;
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
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
        let outcome = if inner.ready.load(Ordering::SeqCst) {
            inner.index_pending().map(|_| ())
        } else {
            inner.rebuild()
        };
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

/// Collects the `id` of every matching document.
struct Ids;

struct SegmentIds {
    ids: Column<u64>,
    found: Vec<u64>,
}

impl Collector for Ids {
    type Fruit = Vec<u64>;
    type Child = SegmentIds;

    fn for_segment(
        &self,
        _segment: u32,
        reader: &tantivy::SegmentReader,
    ) -> tantivy::Result<SegmentIds> {
        Ok(SegmentIds {
            ids: reader.fast_fields().u64("id")?,
            found: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        Ok(fruits.concat())
    }
}

impl SegmentCollector for SegmentIds {
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _score: tantivy::Score) {
        self.found.extend(self.ids.first(doc));
    }

    fn harvest(self) -> Vec<u64> {
        self.found
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

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
}
