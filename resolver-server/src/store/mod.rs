//! The storage interface: the only code that touches sled.
//!
//! Methods are named for what the domain needs. Every method that writes keeps a record and all
//! of its index entries in one sled transaction, so an index can never disagree with its
//! records. Writes are not flushed here: the caller that acknowledges a write calls
//! [`Store::flush`] first.

mod accounts;
mod activities;
pub(crate) mod backend;
pub mod backup;
mod blacklist;
mod campaigns;
mod commit;
mod contact_orders;
mod contacts;
mod groups;
pub mod keys;
pub mod migrate;
mod privacy;
mod rules;
pub mod search;
mod sessions;
mod tallies;
mod traffic;
mod visits;

use contacts::{tx_put_contact, tx_remove_contact};
use groups::tx_adjust_group_count;
use visits::tx_link_visitor;

pub use campaigns::RecordInsert;

use crate::domain::{
    Account, AccountId, ApiToken, ApiUser, AuditEntry, Contact, ContactId, DomainError,
    DomainResult, Email, Entity, Group, GroupId, LinkCause, Millis, Phone, SiteDomain, Suid,
};
use backend::{
    Batch, ConflictableTransactionError, ConflictableTransactionResult, Db, TransactionError,
    TransactionalTree, Tree,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sled::Error),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("too many concurrent changes to the same records; try again")]
    Busy,
    #[error("flush failed: {0}")]
    Flush(String),
    /// The contact search index (`store/search.rs`) failed; searches fall back to a scan.
    #[error("search index: {0}")]
    Search(String),
    /// PostgreSQL could not be reached or refused the statement (a lost connection, a
    /// restarting server): the request fails with the API's storage error, the pool reconnects.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(
        "the database's schema is version {applied}, newer than this binary knows ({known}); \
         run a newer resolver-server"
    )]
    SchemaTooNew { applied: i64, known: i64 },
}

pub(crate) type Tx<T> = ConflictableTransactionResult<T, DomainError>;

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records are plain data and always serialise")
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn decode_tx<T: DeserializeOwned>(bytes: &[u8]) -> Tx<T> {
    decode(bytes).map_err(|error| ConflictableTransactionError::Abort(DomainError::Store(error)))
}

fn fail<T>(error: DomainError) -> Tx<T> {
    Err(ConflictableTransactionError::Abort(error))
}

fn account_id_value(account: AccountId) -> [u8; 8] {
    account.0.to_be_bytes()
}

fn account_id_from(value: &[u8]) -> Result<AccountId, StoreError> {
    let bytes: [u8; 8] = value
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt("auth entry shorter than an account id".into()))?;
    Ok(AccountId(u64::from_be_bytes(bytes)))
}

/// The tree of tenant records (`keys`), the one the search index follows.
const DATA_TREE: &str = "data";

/// The store, on sled or PostgreSQL (`store/backend/`). Cheap to clone; clones share the
/// database and its flusher.
#[derive(Clone)]
pub struct Store {
    db: Db,
    data: Tree,
    auth: Tree,
    /// sled's default tree (the readiness probe).
    meta: Tree,
    /// sled's group commit; `None` on PostgreSQL, where a commit is durable when it returns.
    committer: Option<Arc<commit::GroupCommit>>,
    /// The database directory (`None` for a temporary database).
    dir: Option<PathBuf>,
    /// Every write holds this shared; a backup holds it exclusively while it copies the files,
    /// so the copy is of one moment ([`Store::backup_to`]).
    barrier: Arc<RwLock<()>>,
    /// Deliveries waiting for an attempt (`keys::outbox`).
    outbox: Tree,
    /// Each account's enabled rules, read once and dropped whenever a rule changes.
    rule_cache: rules::RuleCache,
    /// Woken whenever a delivery is queued, so the worker need not poll.
    outbox_signal: std::sync::Arc<tokio::sync::Notify>,
    /// The contact search index of a sled store in a directory (`None`: temporary or
    /// PostgreSQL, where searches scan).
    search: Option<search::SearchIndex>,
    /// Searches read every contact, whatever index there is ([`Store::scan_only`]).
    scan_only: bool,
    /// Every contact has its PostgreSQL order entries (`contact_orders.rs`), as far as this
    /// process has seen.
    orders_built: Arc<std::sync::atomic::AtomicBool>,
    /// Tallies gathered for the next flush (`tallies.rs`); `None` on PostgreSQL.
    tallies: Option<Arc<tallies::Tallies>>,
}

pub use backend::pg::DEFAULT_POOL;

/// Background work that one node at a time does ([`Store::exclusive_job`]); the value is the
/// PostgreSQL advisory lock's key.
#[derive(Clone, Copy, Debug)]
pub enum Job {
    Retention = 0x5352_4d01,
    /// Giving every contact its order entries ([`Store::build_contact_orders`]).
    ContactOrders = 0x5352_4d02,
}

/// Held while this process does a [`Job`].
pub struct JobGuard(#[allow(dead_code)] Option<backend::pg::JobLock>);

/// sled's page cache when nothing else is asked for (`serve --cache-mb`).
pub const DEFAULT_CACHE_MB: u64 = 256;

/// How many times a write that lost a race to a concurrent one is retried before
/// [`StoreError::Busy`].
const MAX_RETRIES: usize = 16;

impl Store {
    /// Opens (creating if needed) the database in `dir`. sled allows one process per directory:
    /// a second open fails with a clear error instead of corrupting data.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(dir, DEFAULT_CACHE_MB)
    }

    /// Like [`Store::open`], with sled's page cache limited to `cache_mb` megabytes (sled's
    /// own default is 1 GiB; the cache is most of the server's memory).
    pub fn open_with_cache(dir: &Path, cache_mb: u64) -> Result<Store, StoreError> {
        let mut store = Store::open_sled(dir, cache_mb)?;
        let index = search::SearchIndex::open(&dir.join(search::SEARCH_DIR), store.data.clone())?;
        store.db.observe_writes(index.observer());
        store.search = Some(index);
        Ok(store)
    }

    /// Like [`Store::open`] without the contact search index: every search reads the whole
    /// account. For measuring what the index costs (benchmarks). The directory's index is
    /// deleted, as it would fall behind; the next [`Store::open`] builds it again.
    pub fn open_unindexed(dir: &Path) -> Result<Store, StoreError> {
        let index = dir.join(search::SEARCH_DIR);
        if index.exists() {
            std::fs::remove_dir_all(&index).map_err(|error| {
                StoreError::Search(format!("cannot remove {}: {error}", index.display()))
            })?;
        }
        Store::open_sled(dir, DEFAULT_CACHE_MB)
    }

    fn open_sled(dir: &Path, cache_mb: u64) -> Result<Store, StoreError> {
        // No periodic flush of sled's own: the journal makes writes durable (see
        // `backend/journal.rs`), and a sled flush stalls every transaction while it runs.
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_mb.saturating_mul(1024 * 1024))
            .flush_every_ms(None)
            .open()?;
        Store::from_db(Db::sled(db, Some(dir))?, Some(dir.to_owned()))
    }

    /// A database that lives only as long as this value (tests, benchmarks).
    pub fn open_temporary() -> Result<Store, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        Store::from_db(Db::sled(db, None)?, None)
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://…`) with at most `pool`
    /// connections, and applies the embedded migrations (refusing a schema newer than this
    /// binary knows). Several servers may share one database.
    pub fn connect(url: &str, pool: usize) -> Result<Store, StoreError> {
        let pg = Arc::new(backend::pg::Pg::connect(url, pool)?);
        let store = Store::from_backend(Db::Pg(pg.clone()), None, None)?;
        store.listen_for_invalidations(&pg);
        Ok(store)
    }

    fn from_db(db: Db, dir: Option<PathBuf>) -> Result<Store, StoreError> {
        let barrier = Arc::new(RwLock::new(()));
        let tallies = Arc::new(tallies::Tallies::new(
            db.open_tree(DATA_TREE)?,
            Arc::clone(&barrier),
        ));
        let written = Arc::clone(&tallies);
        let committer = Arc::new(commit::GroupCommit::start(
            db.clone(),
            Box::new(move || written.write()),
        )?);
        let mut store = Store::from_backend(db, dir, Some(committer))?;
        store.barrier = barrier;
        store.tallies = Some(tallies);
        Ok(store)
    }

    fn from_backend(
        db: Db,
        dir: Option<PathBuf>,
        committer: Option<Arc<commit::GroupCommit>>,
    ) -> Result<Store, StoreError> {
        let data = db.open_tree(DATA_TREE)?;
        let auth = db.open_tree("auth")?;
        let meta = db.open_tree("")?;
        let outbox = db.open_tree("outbox")?;
        Ok(Store {
            db,
            data,
            auth,
            meta,
            committer,
            dir,
            barrier: Arc::new(RwLock::new(())),
            outbox,
            rule_cache: rules::RuleCache::default(),
            outbox_signal: std::sync::Arc::default(),
            search: None,
            scan_only: false,
            orders_built: Arc::default(),
            tallies: None,
        })
    }

    /// Held (shared) by every write; see [`Store::backup_to`].
    fn write_guard(&self) -> RwLockReadGuard<'_, ()> {
        self.barrier
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes every write so far durable (the CLI, before it exits).
    pub fn flush(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        self.write_tallies()?;
        self.db.flush()?;
        if let Some(search) = &self.search {
            search.flush_clean()?;
        }
        crate::telemetry::store_flushed(started.elapsed());
        Ok(())
    }

    /// Makes every write this caller completed so far durable, sharing the flush with
    /// concurrent callers (group commit, see `store/commit.rs`). What the server awaits
    /// before it acknowledges a write.
    pub async fn flush_shared(&self) -> Result<(), StoreError> {
        match &self.committer {
            Some(committer) => committer.commit().await,
            None => Ok(()),
        }
    }

    /// Becomes the one process doing `job` until the returned guard is dropped; `None` when
    /// another node sharing the database does it now (a PostgreSQL advisory lock; on sled one
    /// process owns the database and always gets it).
    pub fn exclusive_job(&self, job: Job) -> Result<Option<JobGuard>, StoreError> {
        match self.db.as_pg() {
            None => Ok(Some(JobGuard(None))),
            Some(pg) => Ok(pg.try_lock(job as i64)?.map(|lock| JobGuard(Some(lock)))),
        }
    }

    /// Whether this store is on PostgreSQL (several nodes may share it) rather than sled.
    pub fn is_shared(&self) -> bool {
        self.db.as_pg().is_some()
    }

    /// The readiness check: a write, a read of it back, and making it durable.
    pub fn probe(&self) -> Result<(), StoreError> {
        let stamp = time::OffsetDateTime::now_utc()
            .unix_timestamp_nanos()
            .to_be_bytes();
        {
            let _guard = self.write_guard();
            self.meta.insert(keys::READINESS_PROBE, &stamp)?;
        }
        let read = self.meta.get(keys::READINESS_PROBE)?;
        if read.as_deref() != Some(&stamp[..]) {
            return Err(StoreError::Corrupt(
                "the readiness probe did not read back what it wrote".into(),
            ));
        }
        // The path acknowledged writes take (the journal's sync on sled), not a checkpoint:
        // a probe every few seconds must not stall writers behind sled's flush.
        self.db.sync()
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk()
    }

    /// A new id, unique across the whole database and never reused.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        let _guard = self.write_guard();
        Ok(self.db.generate_id()? + 1)
    }

    /// Reads the record at `key`, changes it and writes it back, in one transaction (so a
    /// concurrent change is never lost); `NotFound(what)` when there is none. For records
    /// without indexes: a change that moves an index entry needs its own transaction.
    fn change_record<T: Serialize + DeserializeOwned>(
        &self,
        key: Vec<u8>,
        what: Entity,
        change: impl Fn(&mut T),
    ) -> DomainResult<T> {
        self.transaction(|data, _| {
            let Some(bytes) = data.get(&key)? else {
                return fail(DomainError::NotFound(what));
            };
            let mut record: T = decode_tx(&bytes)?;
            change(&mut record);
            data.insert(key.clone(), encode(&record))?;
            Ok(record)
        })
    }

    fn transaction<T>(
        &self,
        body: impl Fn(&TransactionalTree, &TransactionalTree) -> Tx<T>,
    ) -> DomainResult<T> {
        let _guard = self.write_guard();
        backend::transaction(&self.data, &self.auth, body).map_err(|error| match error {
            TransactionError::Abort(error) => error,
            TransactionError::Storage(error) => DomainError::Store(error),
        })
    }

    fn get<T: DeserializeOwned>(&self, key: Vec<u8>) -> Result<Option<T>, StoreError> {
        self.data.get(key)?.map(|bytes| decode(&bytes)).transpose()
    }

    fn list<T: DeserializeOwned>(&self, prefix: Vec<u8>) -> Result<Vec<T>, StoreError> {
        self.data
            .scan_prefix(prefix)
            .map(|entry| decode(&entry?.1))
            .collect()
    }

    fn ids_under(&self, prefix: Vec<u8>) -> impl Iterator<Item = Result<u64, StoreError>> + '_ {
        self.data.scan_prefix(prefix).keys().map(|key| {
            let key = key?;
            keys::trailing_id(&key)
                .ok_or_else(|| StoreError::Corrupt("index key without id".into()))
        })
    }
}
