//! PostgreSQL as an ordered key-value store with the same keys as sled.
//!
//! Each tree is a table of `(key bytea, value bytea)`; `bytea` compares as memcmp, so
//! `ORDER BY key` is sled's order and prefix and range scans are key ranges. The `data` tree is
//! `tenant_data`, whose primary key starts with `account_id` (the key's first 8 bytes: every
//! data key starts with its account id), so it can be distributed by account with Citus;
//! `auth_data` holds the look-ups that find the account; `outbox_data` the due deliveries;
//! `meta_data` sled's default tree (the readiness probe). Ids come from a sequence.
//!
//! Transactions run at `SERIALIZABLE`: reads go to the database (through the transaction's
//! own write buffer), writes are buffered and applied at commit in one batched statement per
//! table and kind, and a serialization failure or deadlock runs the body again, as sled does
//! after a conflict. A commit is durable when it returns (`synchronous_commit=on` is set on
//! every connection), so flushing is a no-op.
//!
//! Store methods are synchronous and are called from inside actix's runtimes, where a blocking
//! client would panic; the backend owns a small tokio runtime of its own that drives the
//! connections (tokio-postgres + deadpool), and callers block on futures with
//! `futures_executor::block_on`, which works in any thread. A lost connection is the store's
//! own error ([`StoreError::Unavailable`]); the pool opens a new one for the next call.

use super::{
    Batch, ConflictableTransactionError, ConflictableTransactionResult, IVec, TransactionError,
    TransactionalTree, UnabortableTransactionError,
};
use crate::store::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::rc::Rc;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// How many times a transaction that lost to a concurrent one runs again before
/// [`StoreError::Busy`].
const MAX_ATTEMPTS: usize = 64;
/// Rows fetched per round trip by a scan.
const PAGE: i64 = 512;
/// Ids taken from the sequence per round trip (unused ones are skipped, never reused).
const ID_BLOCK: i64 = 64;
/// How long a caller waits for a connection (or for a new one to open) before the store's
/// "unavailable" error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A counter's 8-byte big-endian value as a `bigint` (SQL over a row's `value`).
const INT8: &str = "('x' || encode(value, 'hex'))::bit(64)::bigint";
/// The first key of the advisory locks that keep two folds of one account's counters apart.
const COUNTER_LOCK: i32 = 0x5352_4d03;
/// The channel cache invalidations travel on.
pub(crate) const CHANNEL: &str = "ssrm_cache";

/// The default pool size (`--database-pool`).
pub const DEFAULT_POOL: usize = 16;

/// The tables behind the trees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Table {
    Data,
    Auth,
    Outbox,
    Meta,
}

impl Table {
    pub(crate) fn named(tree: &str) -> Result<Table, StoreError> {
        match tree {
            "data" => Ok(Table::Data),
            "auth" => Ok(Table::Auth),
            "outbox" => Ok(Table::Outbox),
            "" => Ok(Table::Meta),
            other => Err(StoreError::Corrupt(format!("no table for tree {other:?}"))),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Data => "tenant_data",
            Table::Auth => "auth_data",
            Table::Outbox => "outbox_data",
            Table::Meta => "meta_data",
        }
    }

    fn tenant(self) -> bool {
        self == Table::Data
    }

    /// The column list a key is compared with: `(account_id, key)` for tenant data (the
    /// primary key's order, which is the key's own order), `key` elsewhere.
    fn ordered(self) -> &'static str {
        if self.tenant() {
            "account_id, key"
        } else {
            "key"
        }
    }
}

/// The account a tenant key belongs to: its first 8 bytes (big-endian), as PostgreSQL's
/// `bigint` holds them. Account ids come from the id sequence, far below 2^63, so the column's
/// order is the bytes' order.
pub(crate) fn account_of(key: &[u8]) -> i64 {
    let mut bytes = [0u8; 8];
    let n = key.len().min(8);
    bytes[..n].copy_from_slice(&key[..n]);
    i64::from_be_bytes(bytes)
}

fn unavailable(error: &tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(describe(error))
}

/// The error's message with the server's detail when there is one (never a parameter value).
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    }
}

fn is_conflict(error: &tokio_postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
    )
}

fn tx_error(error: &tokio_postgres::Error) -> UnabortableTransactionError {
    if is_conflict(error) {
        UnabortableTransactionError::Conflict
    } else {
        UnabortableTransactionError::Storage(unavailable(error))
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    futures_executor::block_on(future)
}

/// Handlers of cache invalidations received from other nodes (and from this one).
type Listener = Arc<dyn Fn(Invalidation<'_>) + Send + Sync>;

/// What a notification says.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Invalidation<'a> {
    /// One payload sent with `pg_notify` by a committed transaction.
    Payload(&'a str),
    /// The listening connection was lost: anything may have changed meanwhile.
    Everything,
}

/// One PostgreSQL database: its pool, and the runtime that drives the connections.
pub(crate) struct Pg {
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    config: tokio_postgres::Config,
    ids: Mutex<VecDeque<u64>>,
    listeners: Arc<Mutex<Vec<Listener>>>,
}

impl Drop for Pg {
    fn drop(&mut self) {
        // The last store clone may go away inside an async context, where a blocking
        // shutdown would panic.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Pg {
    /// Connects to `url` (a `postgres://` URL or key=value string) with at most `pool`
    /// connections, applies the embedded migrations, and starts listening for cache
    /// invalidations.
    pub(crate) fn connect(url: &str, pool: usize) -> Result<Pg, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|error| StoreError::Unavailable(format!("bad database URL: {error}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // An acknowledged write is committed to disk, whatever the server's default.
        let options = match config.get_options() {
            Some(options) => format!("{options} -c synchronous_commit=on"),
            None => "-c synchronous_commit=on".to_owned(),
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            config.application_name("ssrm resolver-server");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ssrm-postgres")
            .enable_all()
            .build()
            .map_err(|error| StoreError::Unavailable(format!("cannot start a runtime: {error}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool.max(2))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|error| StoreError::Unavailable(format!("cannot make a pool: {error}")))?;
        let pg = Pg {
            runtime: Some(runtime),
            pool,
            config,
            ids: Mutex::new(VecDeque::new()),
            listeners: Arc::default(),
        };
        pg.migrate()?;
        pg.start_listening();
        Ok(pg)
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the backend")
    }

    /// Runs `future` on the backend's runtime and waits for it (from any thread, inside an
    /// async runtime or not).
    fn run<T: Send + 'static>(
        &self,
        future: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, StoreError> {
        block_on(self.runtime().spawn(future))
            .map_err(|error| StoreError::Unavailable(format!("database task failed: {error}")))
    }

    /// A connection from the pool (opened if needed, on the backend's runtime).
    fn client(&self) -> Result<Object, StoreError> {
        let pool = self.pool.clone();
        self.run(async move { pool.get().await })?
            .map_err(|error| StoreError::Unavailable(format!("no database connection: {error}")))
    }

    /// Applies the embedded migrations, refusing a database migrated by a newer binary.
    fn migrate(&self) -> Result<(), StoreError> {
        let config = self.config.clone();
        self.run(async move {
            let (mut client, connection) = config.connect(NoTls).await.map_err(|error| {
                StoreError::Unavailable(format!(
                    "cannot connect to the database: {}",
                    describe(&error)
                ))
            })?;
            let driver = tokio::spawn(connection);
            let outcome = migrate_with(&mut client).await;
            drop(client);
            let _ = driver.await;
            outcome
        })?
    }

    /// Registers a handler of cache invalidations (called on the backend's threads).
    pub(crate) fn on_invalidation(
        &self,
        listener: impl Fn(Invalidation<'_>) + Send + Sync + 'static,
    ) {
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::new(listener));
    }

    /// Keeps one connection listening on [`CHANNEL`]; each notification goes to every
    /// handler, and a lost connection tells them to drop everything (notifications may have
    /// been missed) before it is opened again.
    fn start_listening(&self) {
        let config = self.config.clone();
        let listeners = self.listeners.clone();
        let tell = move |what: Invalidation<'_>| {
            let handlers: Vec<Listener> = listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for handler in handlers {
                handler(what);
            }
        };
        self.runtime().spawn(async move {
            use futures_util::StreamExt;
            loop {
                if let Ok((client, mut connection)) = config.connect(NoTls).await {
                    let (sender, mut messages) = tokio::sync::mpsc::unbounded_channel();
                    let pump = tokio::spawn(async move {
                        let mut stream =
                            futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                        while let Some(Ok(message)) = stream.next().await {
                            if sender.send(message).is_err() {
                                break;
                            }
                        }
                    });
                    if client
                        .batch_execute(&format!("LISTEN {CHANNEL}"))
                        .await
                        .is_ok()
                    {
                        // Whatever changed while nobody listened.
                        tell(Invalidation::Everything);
                        while let Some(message) = messages.recv().await {
                            if let tokio_postgres::AsyncMessage::Notification(note) = message {
                                tell(Invalidation::Payload(note.payload()));
                            }
                        }
                    }
                    pump.abort();
                    tell(Invalidation::Everything);
                    tracing::warn!("the database listener lost its connection; reconnecting");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }

    pub(crate) fn generate_id(&self) -> Result<u64, StoreError> {
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        if ids.is_empty() {
            let client = self.client()?;
            let rows = block_on(client.query(
                "SELECT nextval('ssrm_ids') FROM generate_series(1, $1::bigint)",
                &[&ID_BLOCK],
            ))
            .map_err(|error| unavailable(&error))?;
            ids.extend(rows.iter().map(|row| row.get::<_, i64>(0) as u64));
        }
        ids.pop_front()
            .ok_or_else(|| StoreError::Unavailable("the id sequence gave nothing".into()))
    }

    /// Makes the sequence hand out ids above `last` (after a copy from sled).
    pub(crate) fn set_next_id(&self, last: u64) -> Result<(), StoreError> {
        let last = i64::try_from(last.max(1))
            .map_err(|_| StoreError::Corrupt("id counter beyond the sequence's range".into()))?;
        self.query("SELECT setval('ssrm_ids', $1)", &[&last])?;
        self.ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        Ok(())
    }

    pub(crate) fn size_on_disk(&self) -> Result<u64, StoreError> {
        let client = self.client()?;
        let row = block_on(client.query_one("SELECT pg_database_size(current_database())", &[]))
            .map_err(|error| unavailable(&error))?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let client = self.client()?;
        query_on(&client, sql, params).map_err(|error| unavailable(&error))
    }

    /// The contact records under `contacts` (an account's contact prefix, `keys::contacts`)
    /// whose stored JSON matches `pattern` (SQL `ILIKE`, backslash escapes), in key order: what a
    /// contact search asks PostgreSQL, answered through migration V2's trigram index. The
    /// index covers keys of 17 bytes whose ninth is 0x10, which `keys::contact` makes (a test
    /// there holds it to that).
    pub(crate) fn contact_records_like(
        &self,
        contacts: &[u8],
        pattern: &str,
    ) -> Result<Vec<IVec>, StoreError> {
        let rows = self.query(
            "SELECT value FROM tenant_data WHERE account_id = $1 AND length(key) = 17 \
             AND get_byte(key, 8) = 16 AND ssrm_record_text(value) ILIKE $2 ORDER BY key",
            &[&account_of(contacts), &pattern],
        )?;
        Ok(rows
            .iter()
            .map(|row| IVec::from(row.get::<_, Vec<u8>>(0)))
            .collect())
    }

    /// Tries to become the one node doing `job` now (a session advisory lock held by one
    /// pooled connection for as long as the returned guard lives).
    pub(crate) fn try_lock(&self, job: i64) -> Result<Option<JobLock>, StoreError> {
        let client = self.client()?;
        let row = block_on(client.query_one("SELECT pg_try_advisory_lock($1)", &[&job]))
            .map_err(|error| unavailable(&error))?;
        Ok(row.get::<_, bool>(0).then_some(JobLock { client, job }))
    }
}

/// Held while this node does a job no other node may do at the same time.
pub(crate) struct JobLock {
    client: Object,
    job: i64,
}

impl Drop for JobLock {
    fn drop(&mut self) {
        let _ = block_on(
            self.client
                .execute("SELECT pg_advisory_unlock($1)", &[&self.job]),
        );
    }
}

fn query_on(
    client: &Object,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    let statement = block_on(client.prepare_cached(sql))?;
    block_on(client.query(&statement, params))
}

async fn migrate_with(client: &mut tokio_postgres::Client) -> Result<(), StoreError> {
    let runner = embedded::migrations::runner();
    let known = runner
        .get_migrations()
        .iter()
        .map(refinery::Migration::version)
        .max()
        .unwrap_or(0);
    let applied: Option<i32> = match client
        .query_one("SELECT max(version) FROM refinery_schema_history", &[])
        .await
    {
        Ok(row) => row.get(0),
        Err(error) if error.code() == Some(&SqlState::UNDEFINED_TABLE) => None,
        Err(error) => return Err(unavailable(&error)),
    };
    if let Some(applied) = applied {
        if i64::from(applied) > i64::from(known) {
            return Err(StoreError::SchemaTooNew {
                applied: i64::from(applied),
                known: i64::from(known),
            });
        }
    }
    runner.run_async(client).await.map_err(|error| {
        StoreError::Unavailable(format!("migrating the database failed: {error}"))
    })?;
    Ok(())
}

// ----- statements -----

fn select_one(table: Table) -> String {
    if table.tenant() {
        format!(
            "SELECT value FROM {} WHERE account_id = $1 AND key = $2",
            table.name()
        )
    } else {
        format!("SELECT value FROM {} WHERE key = $1", table.name())
    }
}

fn upsert_many(table: Table) -> String {
    if table.tenant() {
        format!(
            "INSERT INTO {t} (account_id, key, value) \
             SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[]) \
             ON CONFLICT (account_id, key) DO UPDATE SET value = EXCLUDED.value",
            t = table.name()
        )
    } else {
        format!(
            "INSERT INTO {t} (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            t = table.name()
        )
    }
}

fn delete_many(table: Table) -> String {
    if table.tenant() {
        format!(
            "DELETE FROM {t} AS d USING unnest($1::bigint[], $2::bytea[]) AS gone(account_id, key) \
             WHERE d.account_id = gone.account_id AND d.key = gone.key",
            t = table.name()
        )
    } else {
        format!("DELETE FROM {} WHERE key = ANY($1::bytea[])", table.name())
    }
}

fn delete_one(table: Table) -> String {
    if table.tenant() {
        format!(
            "DELETE FROM {} WHERE account_id = $1 AND key = $2 RETURNING value",
            table.name()
        )
    } else {
        format!(
            "DELETE FROM {} WHERE key = $1 RETURNING value",
            table.name()
        )
    }
}

/// Writes `upserts` and `deletes` into `table` on `client` (two statements at most).
fn write_all(
    client: &Object,
    table: Table,
    upserts: Vec<(Vec<u8>, Vec<u8>)>,
    deletes: Vec<Vec<u8>>,
) -> Result<(), tokio_postgres::Error> {
    if !upserts.is_empty() {
        let (keys, values): (Vec<Vec<u8>>, Vec<Vec<u8>>) = upserts.into_iter().unzip();
        let statement = block_on(client.prepare_cached(&upsert_many(table)))?;
        if table.tenant() {
            let accounts: Vec<i64> = keys.iter().map(|key| account_of(key)).collect();
            block_on(client.execute(&statement, &[&accounts, &keys, &values]))?;
        } else {
            block_on(client.execute(&statement, &[&keys, &values]))?;
        }
    }
    if !deletes.is_empty() {
        let statement = block_on(client.prepare_cached(&delete_many(table)))?;
        if table.tenant() {
            let accounts: Vec<i64> = deletes.iter().map(|key| account_of(key)).collect();
            block_on(client.execute(&statement, &[&accounts, &deletes]))?;
        } else {
            block_on(client.execute(&statement, &[&deletes]))?;
        }
    }
    Ok(())
}

// ----- trees -----

/// A new value computed from the old one ([`PgTree::fetch_and_update`]).
type Update<'a> = dyn FnMut(Option<&[u8]>) -> Option<Vec<u8>> + 'a;

/// Buffered writes: a value, or `None` for a removal, per table and key.
type Writes = BTreeMap<(Table, Vec<u8>), Option<IVec>>;

/// Upserts and deletes of one table.
type TableWrites = (Vec<(Vec<u8>, Vec<u8>)>, Vec<Vec<u8>>);

/// One table seen as a tree.
#[derive(Clone)]
pub(crate) struct PgTree {
    pg: Arc<Pg>,
    table: Table,
}

impl PgTree {
    pub(crate) fn new(pg: Arc<Pg>, table: Table) -> PgTree {
        PgTree { pg, table }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        let client = self.pg.client()?;
        get_on(&client, self.table, key).map_err(|error| unavailable(&error))
    }

    pub(crate) fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let client = self.pg.client()?;
        write_all(
            &client,
            self.table,
            vec![(key.to_vec(), value.to_vec())],
            Vec::new(),
        )
        .map_err(|error| unavailable(&error))
    }

    pub(crate) fn remove(&self, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        let sql = delete_one(self.table);
        let rows = if self.table.tenant() {
            self.pg.query(&sql, &[&account_of(key), &key])?
        } else {
            self.pg.query(&sql, &[&key])?
        };
        Ok(rows.first().map(|row| IVec::from(row.get::<_, Vec<u8>>(0))))
    }

    pub(crate) fn fetch_and_update(
        &self,
        key: &[u8],
        f: &mut Update<'_>,
    ) -> Result<Option<IVec>, StoreError> {
        let f = RefCell::new(f);
        transaction(self, self, |tree, _| {
            let old = tree.get(key)?;
            match (f.borrow_mut())(old.as_deref()) {
                Some(new) => tree.insert(key, new)?,
                None => {
                    tree.remove(key)?;
                }
            }
            Ok::<_, ConflictableTransactionError<()>>(old)
        })
        .map_err(|error| match error {
            TransactionError::Abort(()) => StoreError::Busy,
            TransactionError::Storage(error) => error,
        })
    }

    pub(crate) fn apply_batch(&self, batch: Batch) -> Result<(), StoreError> {
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for (key, value) in batch.into_final() {
            match value {
                Some(value) => upserts.push((key.to_vec(), value.to_vec())),
                None => deletes.push(key.to_vec()),
            }
        }
        let client = self.pg.client()?;
        // One transaction so the batch is atomic, as sled's is.
        let outcome = (|| {
            block_on(client.batch_execute("BEGIN"))?;
            write_all(&client, self.table, upserts, deletes)?;
            block_on(client.batch_execute("COMMIT"))
        })();
        if outcome.is_err() {
            let _ = block_on(client.batch_execute("ROLLBACK"));
        }
        outcome.map_err(|error| unavailable(&error))
    }

    pub(crate) fn len(&self) -> Result<usize, StoreError> {
        let rows = self
            .pg
            .query(&format!("SELECT count(*) FROM {}", self.table.name()), &[])?;
        Ok(rows
            .first()
            .map_or(0, |row| row.get::<_, i64>(0).max(0) as usize))
    }

    /// Keys `offset..offset + limit` of one account's keys in `lo..hi` (a range within the
    /// account), in key order or its reverse. Only keys are read, so the database walks the
    /// primary key's B-tree past the first `offset` without reading their rows (an
    /// index-only scan; tenant tables only).
    pub(crate) fn window(
        &self,
        lo: &[u8],
        hi: &[u8],
        descending: bool,
        (offset, limit): (u64, u64),
    ) -> Result<Vec<IVec>, StoreError> {
        let order = if descending { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT key FROM {} WHERE account_id = $1 AND key >= $2 AND key < $3 \
             ORDER BY key {order} OFFSET $4 LIMIT $5",
            self.table.name()
        );
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .pg
            .query(&sql, &[&account_of(lo), &lo, &hi, &offset, &limit])?;
        Ok(rows
            .iter()
            .map(|row| IVec::from(row.get::<_, Vec<u8>>(0)))
            .collect())
    }

    /// How many keys one account has in `lo..hi` (an index-only count; tenant tables only).
    pub(crate) fn count_between(&self, lo: &[u8], hi: &[u8]) -> Result<u64, StoreError> {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE account_id = $1 AND key >= $2 AND key < $3",
            self.table.name()
        );
        let rows = self.pg.query(&sql, &[&account_of(lo), &lo, &hi])?;
        Ok(rows
            .first()
            .map_or(0, |row| row.get::<_, i64>(0).max(0) as u64))
    }

    /// The values under `records` (a prefix of 9 bytes: account and kind) of the ids that
    /// end the keys in one account's `lo..hi` (index entries: a prefix, then an id), in the
    /// entries' order, in one round trip (tenant tables only).
    pub(crate) fn values_of_entries(
        &self,
        lo: &[u8],
        hi: &[u8],
        records: &[u8],
    ) -> Result<Vec<IVec>, StoreError> {
        let sql = format!(
            "SELECT record.value FROM {table} entry JOIN {table} record \
             ON record.account_id = entry.account_id \
             AND record.key = $4 || substring(entry.key FROM length(entry.key) - 7) \
             WHERE entry.account_id = $1 AND entry.key >= $2 AND entry.key < $3 \
             ORDER BY entry.key",
            table = self.table.name()
        );
        let rows = self
            .pg
            .query(&sql, &[&account_of(lo), &lo, &hi, &records])?;
        Ok(rows
            .iter()
            .map(|row| IVec::from(row.get::<_, Vec<u8>>(0)))
            .collect())
    }

    /// A counter kept as `base` (the folded value) and the keys that extend `base` up to
    /// `end` (changes, one per writing transaction: inserting a fresh key conflicts with no
    /// other writer, where updating one row would serialize them all). Values are 8-byte
    /// big-endian integers. Returns the counter and how many changes are not folded in
    /// (tenant tables only).
    pub(crate) fn counter(&self, base: &[u8], end: &[u8]) -> Result<(i64, u64), StoreError> {
        let sql = format!(
            "SELECT coalesce(sum({INT8}), 0)::bigint, count(*) FILTER (WHERE key > $2) FROM {} \
             WHERE account_id = $1 AND key >= $2 AND key < $3",
            self.table.name()
        );
        let rows = self.pg.query(&sql, &[&account_of(base), &base, &end])?;
        Ok(rows.first().map_or((0, 0), |row| {
            (row.get::<_, i64>(0), row.get::<_, i64>(1).max(0) as u64)
        }))
    }

    /// Folds the changes of the [`counter`](Self::counter) at `base` into it. With `recount`
    /// (a range of the same account), the counter becomes the number of keys in that range
    /// instead, as of the moment that also decides which changes are dropped, so a change
    /// committed later still counts. Under a transaction-scoped advisory lock per counter,
    /// so two folds never add the same changes.
    pub(crate) fn fold_counter(
        &self,
        base: &[u8],
        end: &[u8],
        recount: Option<(&[u8], &[u8])>,
    ) -> Result<(), StoreError> {
        let table = self.table.name();
        let value = match recount {
            None => format!("SELECT int8send(coalesce(sum({INT8}), 0)::bigint) FROM gone"),
            Some(_) => format!(
                "SELECT int8send(count(*)) FROM {table} \
                 WHERE account_id = $1 AND key >= $4 AND key < $5"
            ),
        };
        let update = match recount {
            None => format!(
                "int8send(('x' || encode({table}.value, 'hex'))::bit(64)::bigint \
                 + ('x' || encode(EXCLUDED.value, 'hex'))::bit(64)::bigint)"
            ),
            Some(_) => "EXCLUDED.value".to_owned(),
        };
        let sql = format!(
            "WITH gone AS (DELETE FROM {table} WHERE account_id = $1 AND key > $2 AND key < $3 \
             RETURNING value) \
             INSERT INTO {table} (account_id, key, value) SELECT $1, $2, ({value}) \
             ON CONFLICT (account_id, key) DO UPDATE SET value = {update}"
        );
        let account = account_of(base);
        let (lo, hi) = recount.unwrap_or((base, end));
        let client = self.pg.client()?;
        let outcome = (|| {
            block_on(client.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED"))?;
            // Counters of one account share a lock; another fold waits, then sees this one.
            let lock = format!(
                "SELECT pg_advisory_xact_lock({COUNTER_LOCK}, {})",
                account as i32
            );
            block_on(client.batch_execute(&lock))?;
            let statement = block_on(client.prepare_cached(&sql))?;
            match recount {
                None => block_on(client.execute(&statement, &[&account, &base, &end]))?,
                Some(_) => {
                    block_on(client.execute(&statement, &[&account, &base, &end, &lo, &hi]))?
                }
            };
            block_on(client.batch_execute("COMMIT"))
        })();
        if outcome.is_err() {
            let _ = block_on(client.batch_execute("ROLLBACK"));
        }
        outcome.map_err(|error| unavailable(&error))
    }

    /// The values of `keys` (all of one account) that exist, in one round trip (tenant
    /// tables only).
    pub(crate) fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<(IVec, IVec)>, StoreError> {
        let Some(first) = keys.first() else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT key, value FROM {} WHERE account_id = $1 AND key = ANY($2)",
            self.table.name()
        );
        let rows = self.pg.query(&sql, &[&account_of(first), &keys])?;
        Ok(key_values(&rows))
    }

    pub(crate) fn iter_between(&self, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> PgIter {
        PgIter {
            tree: self.clone(),
            lo,
            hi,
            front: VecDeque::new(),
            back: VecDeque::new(),
            exhausted: false,
            keys_only: false,
            failed: false,
        }
    }
}

/// Rows of `(key, value)`.
fn key_values(rows: &[tokio_postgres::Row]) -> Vec<(IVec, IVec)> {
    rows.iter()
        .map(|row| {
            (
                IVec::from(row.get::<_, Vec<u8>>(0)),
                IVec::from(row.get::<_, Vec<u8>>(1)),
            )
        })
        .collect()
}

fn get_on(
    client: &Object,
    table: Table,
    key: &[u8],
) -> Result<Option<IVec>, tokio_postgres::Error> {
    let sql = select_one(table);
    let rows = if table.tenant() {
        query_on(client, &sql, &[&account_of(key), &key])?
    } else {
        query_on(client, &sql, &[&key])?
    };
    Ok(rows.first().map(|row| IVec::from(row.get::<_, Vec<u8>>(0))))
}

/// A scan, fetched a page at a time from either end.
pub(crate) struct PgIter {
    tree: PgTree,
    /// What is still to be fetched lies between these bounds.
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    /// Fetched from the front, in order.
    front: VecDeque<(IVec, IVec)>,
    /// Fetched from the back, largest first.
    back: VecDeque<(IVec, IVec)>,
    /// Nothing is left between `lo` and `hi`.
    exhausted: bool,
    keys_only: bool,
    failed: bool,
}

impl PgIter {
    /// Fetches keys only (values come back empty): index scans.
    pub(crate) fn keys_only(mut self) -> PgIter {
        self.keys_only = true;
        self
    }

    fn fetch(&mut self, forward: bool) -> Result<Vec<(IVec, IVec)>, StoreError> {
        let table = self.tree.table;
        let columns = table.ordered();
        let mut conditions = Vec::new();
        let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        // Within one account (every scan the store makes but whole-tree copies), the account is
        // an equality and the bounds are on `key` alone: a B-tree stops at such an upper bound,
        // but not at a row comparison's, which would read the rest of the account each time.
        let one_account = match (&self.lo, &self.hi) {
            (
                Bound::Included(lo) | Bound::Excluded(lo),
                Bound::Included(hi) | Bound::Excluded(hi),
            ) if table.tenant() && account_of(lo) == account_of(hi) => Some(account_of(lo)),
            _ => None,
        };
        if let Some(account) = one_account {
            params.push(Box::new(account));
            conditions.push("account_id = $1".to_owned());
        }
        for (bound, inclusive, exclusive) in [(&self.lo, ">=", ">"), (&self.hi, "<=", "<")] {
            let (key, op) = match bound {
                Bound::Included(key) => (key, inclusive),
                Bound::Excluded(key) => (key, exclusive),
                Bound::Unbounded => continue,
            };
            if one_account.is_some() {
                params.push(Box::new(key.clone()));
                conditions.push(format!("key {op} ${}", params.len()));
            } else if table.tenant() {
                params.push(Box::new(account_of(key)));
                params.push(Box::new(key.clone()));
                conditions.push(format!(
                    "({columns}) {op} (${}, ${})",
                    params.len() - 1,
                    params.len()
                ));
            } else {
                params.push(Box::new(key.clone()));
                conditions.push(format!("key {op} ${}", params.len()));
            }
        }
        let order = if forward { "ASC" } else { "DESC" };
        let order_by = columns
            .split(", ")
            .map(|column| format!("{column} {order}"))
            .collect::<Vec<_>>()
            .join(", ");
        let value = if self.keys_only { "''::bytea" } else { "value" };
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT key, {value} FROM {} {filter} ORDER BY {order_by} LIMIT {PAGE}",
            table.name()
        );
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|param| param.as_ref()).collect();
        let rows = self.tree.pg.query(&sql, &refs)?;
        Ok(key_values(&rows))
    }

    fn refill(&mut self, forward: bool) -> Result<(), StoreError> {
        let page = self.fetch(forward)?;
        match (forward, page.last()) {
            (_, None) => self.exhausted = true,
            (true, Some((last, _))) => {
                self.lo = Bound::Excluded(last.to_vec());
                self.front.extend(page);
            }
            (false, Some((last, _))) => {
                self.hi = Bound::Excluded(last.to_vec());
                self.back.extend(page);
            }
        }
        Ok(())
    }

    fn step(&mut self, forward: bool) -> Option<Result<(IVec, IVec), StoreError>> {
        if self.failed {
            return None;
        }
        loop {
            let own = if forward {
                self.front.pop_front()
            } else {
                self.back.pop_front()
            };
            if let Some(entry) = own {
                return Some(Ok(entry));
            }
            if self.exhausted {
                // The rest was fetched from the other end.
                let other = if forward {
                    self.back.pop_back()
                } else {
                    self.front.pop_back()
                };
                return other.map(Ok);
            }
            if let Err(error) = self.refill(forward) {
                self.failed = true;
                return Some(Err(error));
            }
        }
    }
}

impl Iterator for PgIter {
    type Item = Result<(IVec, IVec), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(true)
    }
}

impl DoubleEndedIterator for PgIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(false)
    }
}

// ----- transactions -----

/// One transaction's connection and buffered writes.
struct TxState {
    client: Object,
    writes: RefCell<Writes>,
    notes: RefCell<Vec<String>>,
}

/// A table inside a transaction.
pub(crate) struct TxTree {
    state: Rc<TxState>,
    table: Table,
}

impl TxTree {
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<IVec>, UnabortableTransactionError> {
        if let Some(written) = self.state.writes.borrow().get(&(self.table, key.to_vec())) {
            return Ok(written.clone());
        }
        get_on(&self.state.client, self.table, key).map_err(|error| tx_error(&error))
    }

    /// Up to `limit` entries of one account's keys in `lo..hi`, in key order, as this
    /// transaction's snapshot holds them (its own buffered writes are not seen: read before
    /// writing). The rows read take part in the serializability check, so a concurrent
    /// change to them makes one of the two transactions run again.
    pub(crate) fn range(
        &self,
        lo: &[u8],
        hi: &[u8],
        limit: u64,
    ) -> Result<Vec<(IVec, IVec)>, UnabortableTransactionError> {
        let sql = format!(
            "SELECT key, value FROM {} WHERE account_id = $1 AND key >= $2 AND key < $3 \
             ORDER BY key LIMIT $4",
            self.table.name()
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query_on(
            &self.state.client,
            &sql,
            &[&account_of(lo), &lo, &hi, &limit],
        )
        .map_err(|error| tx_error(&error))?;
        Ok(key_values(&rows))
    }

    /// Removes `key` without reading what it held (no round trip).
    pub(crate) fn discard(&self, key: &[u8]) {
        self.state
            .writes
            .borrow_mut()
            .insert((self.table, key.to_vec()), None);
    }

    pub(crate) fn insert(&self, key: &[u8], value: IVec) {
        self.state
            .writes
            .borrow_mut()
            .insert((self.table, key.to_vec()), Some(value));
    }

    pub(crate) fn remove(&self, key: &[u8]) -> Result<Option<IVec>, UnabortableTransactionError> {
        let old = self.get(key)?;
        self.state
            .writes
            .borrow_mut()
            .insert((self.table, key.to_vec()), None);
        Ok(old)
    }

    /// Sends `payload` on [`CHANNEL`] when (and only if) the transaction commits.
    pub(crate) fn notify(&self, payload: String) {
        self.state.notes.borrow_mut().push(payload);
    }
}

impl TxState {
    fn commit(&self) -> Result<(), tokio_postgres::Error> {
        let writes = std::mem::take(&mut *self.writes.borrow_mut());
        let mut per_table: BTreeMap<Table, TableWrites> = BTreeMap::new();
        for ((table, key), value) in writes {
            let (upserts, deletes) = per_table.entry(table).or_default();
            match value {
                Some(value) => upserts.push((key, value.to_vec())),
                None => deletes.push(key),
            }
        }
        for (table, (upserts, deletes)) in per_table {
            write_all(&self.client, table, upserts, deletes)?;
        }
        let notes = std::mem::take(&mut *self.notes.borrow_mut());
        if !notes.is_empty() {
            let statement = block_on(
                self.client
                    .prepare_cached("SELECT pg_notify($1, note) FROM unnest($2::text[]) AS note"),
            )?;
            block_on(self.client.execute(&statement, &[&CHANNEL, &notes]))?;
        }
        block_on(self.client.batch_execute("COMMIT"))
    }

    fn rollback(&self) {
        let _ = block_on(self.client.batch_execute("ROLLBACK"));
    }
}

/// Runs `body` at `SERIALIZABLE` over the tables of `first` and `second`, again after a
/// serialization failure or deadlock, until it commits or aborts.
pub(crate) fn transaction<T, E>(
    first: &PgTree,
    second: &PgTree,
    body: impl Fn(&TransactionalTree, &TransactionalTree) -> ConflictableTransactionResult<T, E>,
) -> Result<T, TransactionError<E>> {
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            // Let the winner finish; a little jitter keeps two losers from meeting again.
            let micros = 200 * attempt as u64 + rand::random::<u64>() % 1000;
            std::thread::sleep(Duration::from_micros(micros.min(20_000)));
        }
        let client = first.pg.client().map_err(TransactionError::Storage)?;
        if let Err(error) = block_on(client.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")) {
            return Err(TransactionError::Storage(unavailable(&error)));
        }
        let state = Rc::new(TxState {
            client,
            writes: RefCell::default(),
            notes: RefCell::default(),
        });
        let a = TransactionalTree::Pg(TxTree {
            state: state.clone(),
            table: first.table,
        });
        let b = TransactionalTree::Pg(TxTree {
            state: state.clone(),
            table: second.table,
        });
        let outcome = body(&a, &b);
        drop((a, b));
        match outcome {
            Ok(value) => match state.commit() {
                Ok(()) => return Ok(value),
                Err(error) => {
                    state.rollback();
                    if !is_conflict(&error) {
                        return Err(TransactionError::Storage(unavailable(&error)));
                    }
                }
            },
            Err(ConflictableTransactionError::Conflict) => state.rollback(),
            Err(ConflictableTransactionError::Abort(error)) => {
                state.rollback();
                return Err(TransactionError::Abort(error));
            }
            Err(ConflictableTransactionError::Storage(error)) => {
                state.rollback();
                return Err(TransactionError::Storage(error));
            }
        }
    }
    Err(TransactionError::Storage(StoreError::Busy))
}
