//! The ordered, transactional key-value backend under [`Store`](super::Store): sled in a data
//! directory (the default, embedded) or PostgreSQL (several nodes on one database).
//!
//! The types keep sled's names, method names and argument shapes (`Tree::get`, `insert`,
//! `remove`, `scan_prefix`, `range`, `iter`, `apply_batch`, `len`; `TransactionalTree::get`,
//! `insert`, `remove`; transactions as a closure that may run more than once), so store code
//! reads as it did on sled alone. On sled each call is the sled call itself; on PostgreSQL
//! every tree is a table of `(key bytea, value bytea)` ordered like sled (bytea compares as
//! memcmp), see `pg.rs`.

pub(crate) mod journal;
pub(crate) mod pg;

use super::StoreError;
use journal::{Journal, Record};
use std::cell::RefCell;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

/// What a tree operation fails with (as `sled::Error` did): `?` makes it a [`StoreError`].
#[derive(Debug)]
pub(crate) struct Error(pub(crate) StoreError);

impl From<Error> for StoreError {
    fn from(error: Error) -> StoreError {
        error.0
    }
}

impl From<sled::Error> for Error {
    fn from(error: sled::Error) -> Error {
        Error(StoreError::Database(error))
    }
}

/// Keys and values as they come out of a tree (sled's cheap-to-clone byte buffer).
pub(crate) type IVec = sled::IVec;

/// Told of every write to a journaled sled database, in the order sled applied them, while
/// the write still holds the journal's lock: keep it short.
pub(crate) trait WriteObserver: Send + Sync {
    /// `key` of `tree` was put or removed.
    fn written(&self, tree: &[u8], key: &[u8]);
}

/// A sled database and, when it lives in a directory, its journal (`journal.rs`): writes are
/// durable once the journal is synced, and sled itself is flushed only at checkpoints.
#[derive(Clone)]
pub(crate) struct SledDb {
    db: sled::Db,
    journal: Option<Arc<Journal>>,
}

/// The database: the trees and what is global to it (ids, durability, size).
#[derive(Clone)]
pub(crate) enum Db {
    Sled(SledDb),
    Pg(Arc<pg::Pg>),
}

impl Db {
    /// The sled database `db`, opened on `dir` (`None`: a temporary one, without a journal);
    /// replays what the journal in `dir` holds first. Open `db` with `flush_every_ms(None)`:
    /// the journal makes writes durable, and sled's own periodic flush would only stall them.
    pub(crate) fn sled(db: sled::Db, dir: Option<&Path>) -> Result<Db, StoreError> {
        let journal = match dir {
            Some(dir) => Some(Arc::new(Journal::open(dir, &db)?)),
            None => None,
        };
        Ok(Db::Sled(SledDb { db, journal }))
    }

    /// Tells `observer` of every write from now on, while it lives (sled in a directory only;
    /// elsewhere nothing).
    pub(crate) fn observe_writes(&self, observer: std::sync::Weak<dyn WriteObserver>) {
        if let Db::Sled(SledDb {
            journal: Some(journal),
            ..
        }) = self
        {
            journal.observe(observer);
        }
    }

    /// A tree (`data`, `auth`, `outbox`), or the default one for `""`.
    pub(crate) fn open_tree(&self, name: &str) -> Result<Tree, StoreError> {
        match self {
            Db::Sled(sled) => {
                let tree = if name.is_empty() {
                    (*sled.db).clone()
                } else {
                    sled.db.open_tree(name)?
                };
                Ok(Tree::Sled(SledTree {
                    tree,
                    name: IVec::from(name.as_bytes()),
                    journal: sled.journal.clone(),
                }))
            }
            Db::Pg(pg) => Ok(Tree::Pg(pg::PgTree::new(
                pg.clone(),
                pg::Table::named(name)?,
            ))),
        }
    }

    /// A new id, never returned before by this database (sled: its id generator; PostgreSQL: a
    /// sequence).
    pub(crate) fn generate_id(&self) -> Result<u64, StoreError> {
        match self {
            Db::Sled(sled) => Ok(sled.db.generate_id()?),
            Db::Pg(pg) => pg.generate_id(),
        }
    }

    /// Makes every write so far durable, and on sled also folds the journal into sled's own
    /// files (a checkpoint: what the CLI, a backup and a stopping server want). On PostgreSQL a
    /// commit already is durable (synchronous commit), so there is nothing to do.
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        match self {
            Db::Sled(SledDb {
                db,
                journal: Some(journal),
            }) => journal.checkpoint(db),
            Db::Sled(SledDb { db, journal: None }) => {
                db.flush().map(drop).map_err(StoreError::from)
            }
            Db::Pg(_) => Ok(()),
        }
    }

    /// Makes every write so far durable as cheaply as the backend can: on sled, a sync of the
    /// journal (no lock of sled's held), without a journal sled's flush. What the group commit
    /// runs.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        match self {
            Db::Sled(SledDb {
                journal: Some(journal),
                ..
            }) => journal.sync(),
            Db::Sled(SledDb { db, journal: None }) => {
                db.flush().map(drop).map_err(StoreError::from)
            }
            Db::Pg(_) => Ok(()),
        }
    }

    /// The journal's upkeep, called about once a second by a background thread: writes out
    /// records nobody waits for, and checkpoints when the journal is large or old enough.
    pub(crate) fn tend_journal(&self) -> Result<(), StoreError> {
        if let Db::Sled(SledDb {
            db,
            journal: Some(journal),
        }) = self
        {
            journal.sync()?;
            if journal.checkpoint_due() {
                journal.checkpoint(db)?;
            }
        }
        Ok(())
    }

    pub(crate) fn size_on_disk(&self) -> Result<u64, StoreError> {
        match self {
            Db::Sled(sled) => Ok(sled.db.size_on_disk()?),
            Db::Pg(pg) => pg.size_on_disk(),
        }
    }

    pub(crate) fn as_sled(&self) -> Option<&sled::Db> {
        match self {
            Db::Sled(sled) => Some(&sled.db),
            Db::Pg(_) => None,
        }
    }

    pub(crate) fn as_pg(&self) -> Option<&Arc<pg::Pg>> {
        match self {
            Db::Sled(_) => None,
            Db::Pg(pg) => Some(pg),
        }
    }
}

/// A sled tree, its name (as the journal records it) and the journal its writes go to.
#[derive(Clone)]
pub(crate) struct SledTree {
    tree: sled::Tree,
    name: IVec,
    journal: Option<Arc<Journal>>,
}

impl SledTree {
    /// Runs `write` on the tree, ordered with every other write and recorded in the journal
    /// (without one, just runs it).
    fn journaled<T>(
        &self,
        write: impl FnOnce(&sled::Tree, &mut Record) -> Result<T, sled::Error>,
    ) -> Result<T, Error> {
        self.journaled_as(false, write)
    }

    /// [`SledTree::journaled`] for a write that takes sled's global lock exclusively (see
    /// `Journal::write_exclusive`).
    fn journaled_exclusive<T>(
        &self,
        write: impl FnOnce(&sled::Tree, &mut Record) -> Result<T, sled::Error>,
    ) -> Result<T, Error> {
        self.journaled_as(true, write)
    }

    fn journaled_as<T>(
        &self,
        exclusive: bool,
        write: impl FnOnce(&sled::Tree, &mut Record) -> Result<T, sled::Error>,
    ) -> Result<T, Error> {
        let write = |record: &mut Record| write(&self.tree, record);
        let outcome = match &self.journal {
            Some(journal) if exclusive => journal.write_exclusive(write),
            Some(journal) => journal.write(write),
            None => write(&mut Record::default()),
        };
        outcome.map_err(Error::from)
    }
}

/// One ordered map of byte keys to byte values.
#[derive(Clone)]
pub(crate) enum Tree {
    Sled(SledTree),
    Pg(pg::PgTree),
}

impl Tree {
    /// The PostgreSQL table behind this tree (`None` on sled).
    pub(crate) fn as_pg(&self) -> Option<&pg::PgTree> {
        match self {
            Tree::Sled(_) => None,
            Tree::Pg(tree) => Some(tree),
        }
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, Error> {
        match self {
            Tree::Sled(sled) => Ok(sled.tree.get(key)?),
            Tree::Pg(tree) => tree.get(key.as_ref()).map_err(Error),
        }
    }

    /// Stores `value` under `key` (unlike sled, the previous value is not returned: on
    /// PostgreSQL it would cost a read).
    pub(crate) fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<IVec>,
    ) -> Result<(), Error> {
        match self {
            Tree::Sled(sled) => {
                let value = value.into();
                sled.journaled(|tree, record| {
                    tree.insert(key.as_ref(), value.clone())?;
                    record.put(&sled.name, key.as_ref(), &value);
                    Ok(())
                })
            }
            Tree::Pg(tree) => tree.insert(key.as_ref(), &value.into()).map_err(Error),
        }
    }

    /// Removes `key`, returning what it held.
    pub(crate) fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, Error> {
        match self {
            Tree::Sled(sled) => sled.journaled(|tree, record| {
                let removed = tree.remove(key.as_ref())?;
                if removed.is_some() {
                    record.remove(&sled.name, key.as_ref());
                }
                Ok(removed)
            }),
            Tree::Pg(tree) => tree.remove(key.as_ref()).map_err(Error),
        }
    }

    /// Atomically replaces the value under `key` with what `f` computes from it (`None`
    /// removes it); `f` may run more than once. Returns the previous value.
    pub(crate) fn fetch_and_update(
        &self,
        key: impl AsRef<[u8]>,
        mut f: impl FnMut(Option<&[u8]>) -> Option<Vec<u8>>,
    ) -> Result<Option<IVec>, Error> {
        match self {
            Tree::Sled(SledTree {
                tree,
                journal: None,
                ..
            }) => Ok(tree.fetch_and_update(key, f)?),
            // Writes are ordered by the journal's lock, so nothing changes the key between the
            // read and the write.
            Tree::Sled(sled) => sled.journaled(|tree, record| {
                let key = key.as_ref();
                let previous = tree.get(key)?;
                match f(previous.as_deref()) {
                    Some(value) => {
                        record.put(&sled.name, key, &value);
                        tree.insert(key, value)?;
                    }
                    None if previous.is_some() => {
                        tree.remove(key)?;
                        record.remove(&sled.name, key);
                    }
                    None => {}
                }
                Ok(previous)
            }),
            Tree::Pg(tree) => tree.fetch_and_update(key.as_ref(), &mut f).map_err(Error),
        }
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub(crate) fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        match self {
            Tree::Sled(sled) => Iter::Sled(sled.tree.scan_prefix(prefix)),
            Tree::Pg(tree) => {
                let prefix = prefix.as_ref().to_vec();
                let end = prefix_end(&prefix);
                Iter::Pg(tree.iter_between(Bound::Included(prefix), end))
            }
        }
    }

    /// The entries whose keys are in `range`, in key order.
    pub(crate) fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        match self {
            Tree::Sled(sled) => Iter::Sled(sled.tree.range(range)),
            Tree::Pg(tree) => {
                let owned = |bound: Bound<&K>| match bound {
                    Bound::Included(key) => Bound::Included(key.as_ref().to_vec()),
                    Bound::Excluded(key) => Bound::Excluded(key.as_ref().to_vec()),
                    Bound::Unbounded => Bound::Unbounded,
                };
                Iter::Pg(tree.iter_between(owned(range.start_bound()), owned(range.end_bound())))
            }
        }
    }

    /// Every entry, in key order.
    pub(crate) fn iter(&self) -> Iter {
        match self {
            Tree::Sled(sled) => Iter::Sled(sled.tree.iter()),
            Tree::Pg(tree) => Iter::Pg(tree.iter_between(Bound::Unbounded, Bound::Unbounded)),
        }
    }

    /// Applies every insert and remove of `batch` atomically.
    pub(crate) fn apply_batch(&self, batch: Batch) -> Result<(), Error> {
        match self {
            Tree::Sled(sled) => sled.journaled_exclusive(|tree, record| {
                let mut sled_batch = sled::Batch::default();
                for (key, value) in batch.ops {
                    match value {
                        Some(value) => {
                            record.put(&sled.name, &key, &value);
                            sled_batch.insert(key, value);
                        }
                        None => {
                            record.remove(&sled.name, &key);
                            sled_batch.remove(key);
                        }
                    }
                }
                tree.apply_batch(sled_batch)
            }),
            Tree::Pg(tree) => tree.apply_batch(batch).map_err(Error),
        }
    }

    /// How many entries the tree holds (walks it on sled: not for a request path).
    pub(crate) fn len(&self) -> Result<usize, Error> {
        match self {
            Tree::Sled(sled) => Ok(sled.tree.len()),
            Tree::Pg(tree) => tree.len().map_err(Error),
        }
    }
}

/// The first key after every key that starts with `prefix` (`Unbounded` when there is none:
/// an empty prefix or one of only 0xFF bytes).
pub(crate) fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Bound::Excluded(end);
        }
    }
    Bound::Unbounded
}

/// The first key after every key that starts with `prefix`, for a store prefix (its kind
/// byte is below 0xFF, so there always is one).
pub(crate) fn prefix_end_key(prefix: &[u8]) -> Vec<u8> {
    match prefix_end(prefix) {
        Bound::Excluded(end) => end,
        _ => panic!("a store prefix holds a byte below 0xFF"),
    }
}

/// Inserts and removes applied together by [`Tree::apply_batch`]; a later operation on a key
/// wins over an earlier one.
#[derive(Default)]
pub(crate) struct Batch {
    ops: Vec<(IVec, Option<IVec>)>,
}

impl Batch {
    pub(crate) fn insert(&mut self, key: impl Into<IVec>, value: impl Into<IVec>) {
        self.ops.push((key.into(), Some(value.into())));
    }

    pub(crate) fn remove(&mut self, key: impl Into<IVec>) {
        self.ops.push((key.into(), None));
    }

    /// The operations, the last one per key only, in key order.
    pub(crate) fn into_final(self) -> std::collections::BTreeMap<IVec, Option<IVec>> {
        self.ops.into_iter().collect()
    }
}

/// Entries of a tree in key order (and backwards with `.rev()`).
pub(crate) enum Iter {
    Sled(sled::Iter),
    Pg(pg::PgIter),
}

impl Iter {
    pub(crate) fn keys(self) -> impl DoubleEndedIterator<Item = Result<IVec, Error>> {
        let iter = match self {
            Iter::Pg(iter) => Iter::Pg(iter.keys_only()),
            other => other,
        };
        iter.map(|entry| entry.map(|(key, _)| key))
    }

    pub(crate) fn values(self) -> impl DoubleEndedIterator<Item = Result<IVec, Error>> {
        self.map(|entry| entry.map(|(_, value)| value))
    }
}

impl Iterator for Iter {
    type Item = Result<(IVec, IVec), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Sled(iter) => iter.next().map(|entry| entry.map_err(Error::from)),
            Iter::Pg(iter) => iter.next().map(|entry| entry.map_err(Error)),
        }
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Sled(iter) => iter.next_back().map(|entry| entry.map_err(Error::from)),
            Iter::Pg(iter) => iter.next_back().map(|entry| entry.map_err(Error)),
        }
    }
}

// ----- transactions -----

/// What a read or write inside a transaction can fail with; `?` turns it into
/// [`ConflictableTransactionError`].
#[derive(Debug)]
pub(crate) enum UnabortableTransactionError {
    /// A concurrent transaction won: the body runs again.
    Conflict,
    Storage(StoreError),
}

/// What a transaction body returns on failure: its own error (`Abort`), or one of the above.
#[derive(Debug)]
pub(crate) enum ConflictableTransactionError<E> {
    Abort(E),
    Conflict,
    Storage(StoreError),
}

impl<E> From<UnabortableTransactionError> for ConflictableTransactionError<E> {
    fn from(error: UnabortableTransactionError) -> Self {
        match error {
            UnabortableTransactionError::Conflict => ConflictableTransactionError::Conflict,
            UnabortableTransactionError::Storage(error) => {
                ConflictableTransactionError::Storage(error)
            }
        }
    }
}

pub(crate) type ConflictableTransactionResult<T, E> = Result<T, ConflictableTransactionError<E>>;

/// How a transaction ended when it did not commit.
#[derive(Debug)]
pub(crate) enum TransactionError<E> {
    Abort(E),
    Storage(StoreError),
}

/// One tree as seen from inside a transaction: reads see the transaction's own writes, and
/// the writes become visible to others all at once, at commit.
pub(crate) enum TransactionalTree {
    Sled(SledTxTree),
    Pg(pg::TxTree),
}

/// A sled tree inside a transaction, with the journal record its writes are described in (the
/// record is cleared when the body runs again after a conflict).
pub(crate) struct SledTxTree {
    tree: sled::transaction::TransactionalTree,
    name: IVec,
    record: Rc<RefCell<Record>>,
}

fn from_sled_unabortable(
    error: sled::transaction::UnabortableTransactionError,
) -> UnabortableTransactionError {
    match error {
        sled::transaction::UnabortableTransactionError::Conflict => {
            UnabortableTransactionError::Conflict
        }
        sled::transaction::UnabortableTransactionError::Storage(error) => {
            UnabortableTransactionError::Storage(StoreError::Database(error))
        }
    }
}

impl TransactionalTree {
    pub(crate) fn get(
        &self,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<IVec>, UnabortableTransactionError> {
        match self {
            TransactionalTree::Sled(sled) => sled.tree.get(key).map_err(from_sled_unabortable),
            TransactionalTree::Pg(tree) => tree.get(key.as_ref()),
        }
    }

    /// Stores `value` under `key` (unlike sled, the previous value is not returned).
    pub(crate) fn insert(
        &self,
        key: impl AsRef<[u8]> + Into<IVec>,
        value: impl Into<IVec>,
    ) -> Result<(), UnabortableTransactionError> {
        match self {
            TransactionalTree::Sled(sled) => {
                let value = value.into();
                sled.record
                    .borrow_mut()
                    .put(&sled.name, key.as_ref(), &value);
                sled.tree
                    .insert(key, value)
                    .map(drop)
                    .map_err(from_sled_unabortable)
            }
            TransactionalTree::Pg(tree) => {
                tree.insert(key.as_ref(), value.into());
                Ok(())
            }
        }
    }

    /// Tells the other nodes sharing the database `payload` once this transaction commits
    /// (PostgreSQL's `pg_notify`; nothing on sled, where one process holds the database).
    pub(crate) fn notify(&self, payload: String) {
        match self {
            TransactionalTree::Sled(_) => drop(payload),
            TransactionalTree::Pg(tree) => tree.notify(payload),
        }
    }

    /// Removes `key` without returning what it held (on PostgreSQL that would cost a read).
    pub(crate) fn discard(
        &self,
        key: impl AsRef<[u8]> + Into<IVec>,
    ) -> Result<(), UnabortableTransactionError> {
        match self {
            TransactionalTree::Sled(_) => self.remove(key).map(drop),
            TransactionalTree::Pg(tree) => {
                tree.discard(key.as_ref());
                Ok(())
            }
        }
    }

    /// The PostgreSQL table inside this transaction (`None` on sled).
    pub(crate) fn as_pg(&self) -> Option<&pg::TxTree> {
        match self {
            TransactionalTree::Sled(_) => None,
            TransactionalTree::Pg(tree) => Some(tree),
        }
    }

    /// Removes `key`, returning what it held.
    pub(crate) fn remove(
        &self,
        key: impl AsRef<[u8]> + Into<IVec>,
    ) -> Result<Option<IVec>, UnabortableTransactionError> {
        match self {
            TransactionalTree::Sled(sled) => {
                sled.record.borrow_mut().remove(&sled.name, key.as_ref());
                sled.tree.remove(key).map_err(from_sled_unabortable)
            }
            TransactionalTree::Pg(tree) => tree.remove(key.as_ref()),
        }
    }
}

/// Runs `body` as one transaction over two trees of the same database, again after a
/// conflict, until it commits or aborts.
pub(crate) fn transaction<T, E>(
    first: &Tree,
    second: &Tree,
    body: impl Fn(&TransactionalTree, &TransactionalTree) -> ConflictableTransactionResult<T, E>,
) -> Result<T, TransactionError<E>> {
    match (first, second) {
        (Tree::Sled(first), Tree::Sled(second)) => match &first.journal {
            Some(journal) => journal.write_exclusive(|record| {
                let written = Rc::new(RefCell::new(Record::default()));
                let outcome = sled_transaction(first, second, &written, &body);
                if outcome.is_ok() {
                    *record = written.take();
                }
                outcome
            }),
            None => sled_transaction(first, second, &Rc::default(), &body),
        },
        (Tree::Pg(first), Tree::Pg(second)) => pg::transaction(first, second, body),
        _ => Err(TransactionError::Storage(StoreError::Corrupt(
            "a transaction over trees of two databases".into(),
        ))),
    }
}

/// One sled transaction over two trees, describing its writes in `written` (as of the run
/// that committed).
fn sled_transaction<T, E>(
    first: &SledTree,
    second: &SledTree,
    written: &Rc<RefCell<Record>>,
    body: &impl Fn(&TransactionalTree, &TransactionalTree) -> ConflictableTransactionResult<T, E>,
) -> Result<T, TransactionError<E>> {
    use sled::transaction as st;
    use sled::Transactional;
    (&first.tree, &second.tree)
        .transaction(|(a, b)| {
            written.borrow_mut().clear();
            let a = TransactionalTree::Sled(SledTxTree {
                tree: a.clone(),
                name: first.name.clone(),
                record: Rc::clone(written),
            });
            let b = TransactionalTree::Sled(SledTxTree {
                tree: b.clone(),
                name: second.name.clone(),
                record: Rc::clone(written),
            });
            body(&a, &b).map_err(|error| match error {
                ConflictableTransactionError::Abort(error) => {
                    st::ConflictableTransactionError::Abort(error)
                }
                ConflictableTransactionError::Conflict => {
                    st::ConflictableTransactionError::Conflict
                }
                ConflictableTransactionError::Storage(StoreError::Database(error)) => {
                    st::ConflictableTransactionError::Storage(error)
                }
                ConflictableTransactionError::Storage(other) => {
                    st::ConflictableTransactionError::Storage(sled::Error::Unsupported(
                        other.to_string(),
                    ))
                }
            })
        })
        .map_err(|error| match error {
            st::TransactionError::Abort(error) => TransactionError::Abort(error),
            st::TransactionError::Storage(error) => {
                TransactionError::Storage(StoreError::Database(error))
            }
        })
}
