//! The write-ahead journal that makes sled writes durable without flushing sled.
//!
//! sled 0.34's `flush()` holds sled's global lock for the whole fsync, and every sled
//! transaction (and batch) needs that lock exclusively to commit: with a flush after every
//! acknowledged write, transactional writes could only commit in the gaps between flushes. So
//! sled is not flushed on the request path at all. Every write to sled is also appended, as the
//! keys and values it leaves behind, to a journal file of our own, and durability comes from
//! the journal's `fdatasync`, which takes no lock of sled's.
//!
//! Invariants:
//! - Writes are applied to sled and appended to the journal under one lock, so the journal's
//!   order is the order in which sled saw them.
//! - Each journal record holds the final value (or removal) of every key its write touched, so
//!   replaying a record that sled already holds changes nothing: replay is idempotent, and
//!   replaying every journal file in order over whatever sled recovered gives the state after
//!   the last record that reached the disk.
//! - A checkpoint starts a new journal file, flushes sled (which then holds every write of the
//!   older files) and only then deletes the older files.
//!
//! A record is `[length u32][crc32 u32][ops]`, an op `[kind u8][tree u16+bytes][key
//! u32+bytes]` followed by `[value u32+bytes]` for a put. A record cut short by a crash fails
//! its length or checksum: it was never acknowledged, and replay stops there.

use crate::store::StoreError;
use parking_lot::{Mutex, ReentrantMutex, RwLock};
use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the journal files live, inside the data directory.
pub(crate) const JOURNAL_DIR: &str = "journal";

/// A journal file past this size is checkpointed away.
const CHECKPOINT_BYTES: u64 = 16 * 1024 * 1024;
/// A journal with anything in it is checkpointed at least this often.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

const PUT: u8 = 1;
const REMOVE: u8 = 2;

/// The keys and values one write leaves behind, in the order it wrote them.
#[derive(Default)]
pub(crate) struct Record {
    ops: Vec<u8>,
}

impl Record {
    pub(crate) fn put(&mut self, tree: &[u8], key: &[u8], value: &[u8]) {
        self.op(PUT, tree, key);
        self.bytes(value);
    }

    pub(crate) fn remove(&mut self, tree: &[u8], key: &[u8]) {
        self.op(REMOVE, tree, key);
    }

    pub(crate) fn clear(&mut self) {
        self.ops.clear();
    }

    fn op(&mut self, kind: u8, tree: &[u8], key: &[u8]) {
        self.ops.push(kind);
        let tree_len = u16::try_from(tree.len()).expect("tree names are short constants");
        self.ops.extend_from_slice(&tree_len.to_be_bytes());
        self.ops.extend_from_slice(tree);
        self.bytes(key);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let len = u32::try_from(bytes.len()).expect("sled keys and values are under 4 GiB");
        self.ops.extend_from_slice(&len.to_be_bytes());
        self.ops.extend_from_slice(bytes);
    }
}

/// One operation read back from a journal file.
pub(crate) enum Op<'a> {
    Put {
        tree: &'a [u8],
        key: &'a [u8],
        value: &'a [u8],
    },
    Remove {
        tree: &'a [u8],
        key: &'a [u8],
    },
}

/// The file being appended to.
struct Current {
    file: File,
    number: u64,
    bytes: u64,
    since: Instant,
}

/// The journal of one sled database.
pub(crate) struct Journal {
    dir: PathBuf,
    /// The lock that orders writes (held while a write is applied to sled and its record
    /// appended; re-entrant so that a write made while another is in progress cannot deadlock)
    /// and the records not yet written to the file.
    pending: ReentrantMutex<RefCell<Vec<u8>>>,
    /// The file, held while pending records are written and synced.
    current: Mutex<Current>,
    /// One checkpoint at a time.
    checkpointing: Mutex<()>,
    /// Held shared by writes that take sled's global lock exclusively (transactions, batches)
    /// and exclusively by a checkpoint for its flush: see [`Journal::write_exclusive`].
    exclusive: RwLock<()>,
    /// Told of each write's keys (the search index). Weak: the observer reads the store, so a
    /// strong reference would keep the database open forever.
    observer: std::sync::OnceLock<std::sync::Weak<dyn super::WriteObserver>>,
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Flush(format!("{what} {}: {error}", path.display()))
}

fn file_name(number: u64) -> String {
    format!("{number:020}.log")
}

/// The journal files in `dir`, oldest first.
fn journal_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|error| io_error("cannot read", dir, error))?;
    for entry in entries {
        let entry = entry.map_err(|error| io_error("cannot read", dir, error))?;
        let name = entry.file_name();
        let number = name
            .to_str()
            .and_then(|name| name.strip_suffix(".log"))
            .and_then(|number| number.parse::<u64>().ok());
        if let Some(number) = number {
            files.push((number, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| io_error("cannot sync", dir, error))
}

/// Splits journal bytes into records' operations; stops at the first record that is cut short
/// or fails its checksum, and says whether it met one.
pub(crate) fn read_records(bytes: &[u8], mut apply: impl FnMut(Op<'_>)) -> bool {
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some((header, body)) = rest.split_first_chunk::<8>() else {
            return false;
        };
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let checksum = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let Some(ops) = body.get(..length) else {
            return false;
        };
        if crc32fast::hash(ops) != checksum || !valid_ops(ops) {
            return false;
        }
        for_each_op(ops, &mut apply);
        rest = &body[length..];
    }
    true
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let (taken, rest) = (self.0.get(..len)?, self.0.get(len..)?);
        self.0 = rest;
        Some(taken)
    }

    fn len_prefixed(&mut self, width: usize) -> Option<&'a [u8]> {
        let len = self.take(width)?;
        let len = len
            .iter()
            .fold(0usize, |n, byte| n << 8 | usize::from(*byte));
        self.take(len)
    }

    fn op(&mut self) -> Option<Op<'a>> {
        let kind = *self.take(1)?.first()?;
        let tree = self.len_prefixed(2)?;
        let key = self.len_prefixed(4)?;
        match kind {
            PUT => Some(Op::Put {
                tree,
                key,
                value: self.len_prefixed(4)?,
            }),
            REMOVE => Some(Op::Remove { tree, key }),
            _ => None,
        }
    }
}

fn valid_ops(ops: &[u8]) -> bool {
    let mut cursor = Cursor(ops);
    while !cursor.0.is_empty() {
        if cursor.op().is_none() {
            return false;
        }
    }
    true
}

fn for_each_op(ops: &[u8], apply: &mut impl FnMut(Op<'_>)) {
    let mut cursor = Cursor(ops);
    while let Some(op) = cursor.op() {
        apply(op);
    }
}

impl Journal {
    /// Replays the journal files in `data_dir` into `db`, flushes `db`, removes them and starts
    /// a new file. Fails with [`StoreError::Corrupt`] when a file other than the newest has a
    /// damaged record (the newest may end in a record cut short by a crash).
    pub(crate) fn open(data_dir: &Path, db: &sled::Db) -> Result<Journal, StoreError> {
        let dir = data_dir.join(JOURNAL_DIR);
        std::fs::create_dir_all(&dir).map_err(|error| io_error("cannot create", &dir, error))?;
        let files = journal_files(&dir)?;
        let mut replayed = 0u64;
        for (index, (_, path)) in files.iter().enumerate() {
            let mut bytes = Vec::new();
            File::open(path)
                .and_then(|mut file| file.read_to_end(&mut bytes))
                .map_err(|error| io_error("cannot read", path, error))?;
            let mut failure = None;
            let complete = read_records(&bytes, |op| {
                if failure.is_none() {
                    failure = replay(db, op).err();
                    replayed += 1;
                }
            });
            if let Some(error) = failure {
                return Err(error);
            }
            if !complete && index + 1 < files.len() {
                return Err(StoreError::Corrupt(format!(
                    "the journal file {} is damaged before its end; newer files follow it",
                    path.display()
                )));
            }
        }
        if replayed > 0 {
            db.flush()?;
            tracing::debug!(
                files = files.len(),
                operations = replayed,
                "journal replayed"
            );
        }
        let number = files.last().map_or(0, |(number, _)| number + 1);
        let current = Journal::create(&dir, number)?;
        for (_, path) in &files {
            std::fs::remove_file(path).map_err(|error| io_error("cannot remove", path, error))?;
        }
        sync_dir(&dir)?;
        Ok(Journal {
            dir,
            pending: ReentrantMutex::new(RefCell::new(Vec::new())),
            current: Mutex::new(current),
            checkpointing: Mutex::new(()),
            exclusive: RwLock::new(()),
            observer: std::sync::OnceLock::new(),
        })
    }

    fn create(dir: &Path, number: u64) -> Result<Current, StoreError> {
        let path = dir.join(file_name(number));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|error| io_error("cannot create", &path, error))?;
        sync_dir(dir)?;
        Ok(Current {
            file,
            number,
            bytes: 0,
            since: Instant::now(),
        })
    }

    /// Runs `write`, which applies a change to sled and describes it in the record it is
    /// given, with every other write waiting; appends the record when `write` succeeds.
    pub(crate) fn write<T, E>(
        &self,
        write: impl FnOnce(&mut Record) -> Result<T, E>,
    ) -> Result<T, E> {
        let pending = self.pending.lock();
        let mut record = Record::default();
        let outcome = write(&mut record);
        if outcome.is_ok() && !record.ops.is_empty() {
            if let Some(observer) = self.observer.get().and_then(std::sync::Weak::upgrade) {
                for_each_op(&record.ops, &mut |op| match op {
                    Op::Put { tree, key, .. } | Op::Remove { tree, key } => {
                        observer.written(tree, key)
                    }
                });
            }
            let mut pending = pending.borrow_mut();
            let length = u32::try_from(record.ops.len()).expect("a record is under 4 GiB");
            pending.extend_from_slice(&length.to_be_bytes());
            pending.extend_from_slice(&crc32fast::hash(&record.ops).to_be_bytes());
            pending.extend_from_slice(&record.ops);
        }
        outcome
    }

    /// [`Journal::write`] for a write that takes sled's global lock exclusively (a
    /// transaction, a batch). A checkpoint's flush holds that lock shared for its whole length
    /// (seconds under load). Waiting for it inside sled would hold the journal's lock, stalling
    /// every other write and the group commit's sync, and, sled's lock being fair, every read
    /// that came after it: under load, every request stood still for the checkpoint. Such a
    /// write waits here instead, before the checkpoint's flush begins, holding nothing; reads
    /// and single-key writes go on during the flush.
    pub(crate) fn write_exclusive<T, E>(
        &self,
        write: impl FnOnce(&mut Record) -> Result<T, E>,
    ) -> Result<T, E> {
        // A write nested in one that holds the journal already holds the gate too (or needs
        // none): taking it again could deadlock behind a waiting checkpoint.
        let _gate = (!self.pending.is_owned_by_current_thread()).then(|| self.exclusive.read());
        self.write(write)
    }

    /// Tells `observer` of every write from now on (once; a second observer is ignored).
    pub(crate) fn observe(&self, observer: std::sync::Weak<dyn super::WriteObserver>) {
        if self.observer.set(observer).is_err() {
            tracing::warn!("the journal already has an observer; a second one is ignored");
        }
    }

    /// Writes every record appended so far to the file and syncs it: every write that returned
    /// before this call is then durable.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let mut current = self.current.lock();
        self.sync_locked(&mut current)
    }

    fn sync_locked(&self, current: &mut Current) -> Result<(), StoreError> {
        let records = std::mem::take(&mut *self.pending.lock().borrow_mut());
        if records.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(file_name(current.number));
        current
            .file
            .write_all(&records)
            .and_then(|()| current.file.sync_data())
            .map_err(|error| io_error("cannot write", &path, error))?;
        current.bytes += records.len() as u64;
        Ok(())
    }

    /// Whether the journal has grown enough, or has held writes long enough, that a checkpoint
    /// should fold it into sled.
    pub(crate) fn checkpoint_due(&self) -> bool {
        let current = self.current.lock();
        current.bytes >= CHECKPOINT_BYTES
            || (current.bytes > 0 && current.since.elapsed() >= CHECKPOINT_EVERY)
    }

    /// Whether records wait to be written.
    #[cfg(test)]
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.lock().borrow().is_empty()
    }

    /// Makes sled hold every write so far on disk and drops the journal files that it covers.
    /// Writes go on meanwhile (into a new file), but sled's flush delays them.
    pub(crate) fn checkpoint(&self, db: &sled::Db) -> Result<(), StoreError> {
        let _one = self.checkpointing.lock();
        let covered = {
            let mut current = self.current.lock();
            self.sync_locked(&mut current)?;
            if current.bytes == 0 {
                current.since = Instant::now();
                return Ok(());
            }
            let covered = current.number;
            *current = Journal::create(&self.dir, covered + 1)?;
            covered
        };
        // Every record in the files up to `covered` was applied to sled before this flush began.
        let started = Instant::now();
        let flushed = {
            let _exclusive = self.exclusive.write();
            let flushing = Instant::now();
            db.flush()?;
            flushing.elapsed()
        };
        for (number, path) in journal_files(&self.dir)? {
            if number <= covered {
                std::fs::remove_file(&path)
                    .map_err(|error| io_error("cannot remove", &path, error))?;
            }
        }
        sync_dir(&self.dir)?;
        tracing::debug!(
            millis = started.elapsed().as_millis() as u64,
            flush_millis = flushed.as_millis() as u64,
            "journal checkpoint"
        );
        Ok(())
    }
}

/// sled's name for the tree that `open_tree("")` means here.
fn tree_of(db: &sled::Db, name: &[u8]) -> Result<sled::Tree, StoreError> {
    if name.is_empty() {
        Ok((**db).clone())
    } else {
        Ok(db.open_tree(name)?)
    }
}

fn replay(db: &sled::Db, op: Op<'_>) -> Result<(), StoreError> {
    match op {
        Op::Put { tree, key, value } => {
            tree_of(db, tree)?.insert(key, value)?;
        }
        Op::Remove { tree, key } => {
            tree_of(db, tree)?.remove(key)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree, a key, and the value put there (`None`: the key removed).
    type TestOp<'a> = (&'a [u8], &'a [u8], Option<&'a [u8]>);

    fn record(ops: &[TestOp<'_>]) -> Record {
        let mut record = Record::default();
        for (tree, key, value) in ops {
            match value {
                Some(value) => record.put(tree, key, value),
                None => record.remove(tree, key),
            }
        }
        record
    }

    fn open(dir: &Path) -> (sled::Db, Journal) {
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .open()
            .expect("db");
        let journal = Journal::open(dir, &db).expect("journal");
        (db, journal)
    }

    /// What a crash leaves: the journal files as they are, sled as it last flushed. Simulated by
    /// copying the directory while both are open (sled's files then hold only what it wrote).
    fn crash_copy(from: &Path, to: &Path) {
        crate::store::backup::copy_tree(from, to).expect("copy");
    }

    #[test]
    fn synced_writes_are_replayed_after_a_crash_and_unsynced_ones_may_be_lost() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, journal) = open(dir.path());
        let tree = db.open_tree("data").expect("tree");
        for n in 0..100u32 {
            journal
                .write(|record| {
                    tree.insert(n.to_be_bytes(), &b"first"[..])?;
                    record.put(b"data", &n.to_be_bytes(), b"first");
                    Ok::<_, sled::Error>(())
                })
                .expect("write");
        }
        journal
            .write(|record| {
                tree.remove(7u32.to_be_bytes())?;
                record.remove(b"data", &7u32.to_be_bytes());
                db.insert(b"probe", &b"default tree"[..])?;
                record.put(b"", b"probe", b"default tree");
                Ok::<_, sled::Error>(())
            })
            .expect("write");
        journal.sync().expect("sync");
        let copy = tempfile::tempdir().expect("copy");
        crash_copy(dir.path(), copy.path());
        drop((db, journal));

        let (db, _journal) = open(copy.path());
        let tree = db.open_tree("data").expect("tree");
        assert_eq!(tree.len(), 99);
        assert_eq!(tree.get(7u32.to_be_bytes()).expect("get"), None);
        assert_eq!(
            tree.get(99u32.to_be_bytes()).expect("get").as_deref(),
            Some(&b"first"[..])
        );
        assert_eq!(
            db.get(b"probe").expect("get").as_deref(),
            Some(&b"default tree"[..])
        );
        assert_eq!(
            journal_files(&copy.path().join(JOURNAL_DIR))
                .expect("files")
                .len(),
            1,
            "replayed files are removed once sled holds them"
        );
    }

    #[test]
    fn a_checkpoint_folds_the_journal_into_sled_and_writes_go_on_in_a_new_file() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, journal) = open(dir.path());
        let write = |key: &[u8], value: &[u8]| {
            journal
                .write(|record| {
                    db.insert(key, value)?;
                    record.put(b"", key, value);
                    Ok::<_, sled::Error>(())
                })
                .expect("write");
        };
        write(b"a", b"1");
        journal.checkpoint(&db).expect("checkpoint");
        write(b"b", b"2");
        journal.sync().expect("sync");
        let files = journal_files(&dir.path().join(JOURNAL_DIR)).expect("files");
        assert_eq!(files.len(), 1, "the covered file is gone: {files:?}");
        let copy = tempfile::tempdir().expect("copy");
        crash_copy(dir.path(), copy.path());
        let (db, _journal) = open(copy.path());
        assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
        assert_eq!(db.get(b"b").expect("get").as_deref(), Some(&b"2"[..]));
    }

    /// sled's transactions and batches wait at the journal's gate while a checkpoint flushes,
    /// holding nothing: single-key writes and the group commit's sync go on meanwhile. (Inside
    /// sled they would wait holding the journal's lock, and sled's fair lock would stop every
    /// read behind them.)
    #[test]
    fn exclusive_writes_wait_for_a_checkpoint_and_single_key_writes_do_not() {
        use std::sync::mpsc;
        use std::time::Duration;
        let dir = tempfile::tempdir().expect("dir");
        let (db, journal) = open(dir.path());
        let (db, journal) = (&db, &journal);
        let put = |key: &'static [u8]| {
            move |record: &mut Record| {
                db.insert(key, &b"v"[..])?;
                record.put(b"", key, b"v");
                Ok::<_, sled::Error>(())
            }
        };
        std::thread::scope(|scope| {
            // A checkpoint's flush in progress: it holds the gate exclusively.
            let flushing = journal.exclusive.write();
            let (done, exclusive_done) = mpsc::channel();
            scope.spawn(move || {
                journal.write_exclusive(put(b"batch")).expect("write");
                done.send(()).expect("send");
            });
            journal
                .write(put(b"single"))
                .expect("a single-key write goes on");
            journal.sync().expect("so does the group commit's sync");
            assert!(
                exclusive_done
                    .recv_timeout(Duration::from_millis(200))
                    .is_err(),
                "a batch ran while the checkpoint flushed"
            );
            assert_eq!(db.get(b"batch").expect("get"), None);
            drop(flushing);
            exclusive_done
                .recv_timeout(Duration::from_secs(10))
                .expect("the batch runs once the flush is over");
        });
        assert!(db.get(b"batch").expect("get").is_some());

        // And a checkpoint waits, before its flush, for an exclusive write that passed the gate.
        journal.write(put(b"more")).expect("write");
        std::thread::scope(|scope| {
            let passed = journal.exclusive.read();
            let (done, checkpointed) = mpsc::channel();
            scope.spawn(move || {
                journal.checkpoint(db).expect("checkpoint");
                done.send(()).expect("send");
            });
            assert!(
                checkpointed
                    .recv_timeout(Duration::from_millis(200))
                    .is_err(),
                "a checkpoint flushed while a batch was being applied"
            );
            drop(passed);
            checkpointed
                .recv_timeout(Duration::from_secs(10))
                .expect("the checkpoint ends");
        });
    }

    #[test]
    fn damage_in_a_file_that_newer_files_follow_refuses_to_open() {
        let dir = tempfile::tempdir().expect("dir");
        let journal_dir = dir.path().join(JOURNAL_DIR);
        std::fs::create_dir_all(&journal_dir).expect("dir");
        let ops = record(&[(b"", b"k", Some(b"v"))]).ops;
        let mut framed = (ops.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&crc32fast::hash(&ops).to_be_bytes());
        framed.extend_from_slice(&ops);
        let mut damaged = framed.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        std::fs::write(journal_dir.join(file_name(0)), &damaged).expect("write");
        std::fs::write(journal_dir.join(file_name(1)), &framed).expect("write");
        let db = sled::Config::new().path(dir.path()).open().expect("db");
        match Journal::open(dir.path(), &db) {
            Err(StoreError::Corrupt(message)) => assert!(message.contains(&file_name(0))),
            Err(other) => panic!("expected a corrupt journal, got {other}"),
            Ok(_) => panic!("a journal damaged before its newest file was opened"),
        }
        assert_eq!(
            db.get(b"k").expect("get"),
            None,
            "nothing after the damage applied"
        );
    }

    #[test]
    fn a_record_cut_short_ends_the_replay_and_a_failed_write_records_nothing() {
        let mut bytes = Vec::new();
        for ops in [
            record(&[(b"t", b"k1", Some(b"v1")), (b"t", b"k0", None)]),
            record(&[(b"t", b"k2", Some(b"v2"))]),
        ] {
            bytes.extend_from_slice(&(ops.ops.len() as u32).to_be_bytes());
            bytes.extend_from_slice(&crc32fast::hash(&ops.ops).to_be_bytes());
            bytes.extend_from_slice(&ops.ops);
        }
        let mut keys = Vec::new();
        assert!(read_records(&bytes, |op| keys.push(match op {
            Op::Put { key, .. } | Op::Remove { key, .. } => key.to_vec(),
        })));
        assert_eq!(keys, [b"k1".to_vec(), b"k0".to_vec(), b"k2".to_vec()]);
        for cut in 1..bytes.len() {
            let mut count = 0;
            let complete = read_records(&bytes[..cut], |_| count += 1);
            assert!(!complete || count == 2, "cut at {cut}");
            assert!(count == 0 || count == 2, "cut at {cut}: {count}");
        }
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let mut count = 0;
        assert!(!read_records(&flipped, |_| count += 1));
        assert_eq!(count, 2, "the damaged record is not applied");

        let dir = tempfile::tempdir().expect("dir");
        let (_db, journal) = open(dir.path());
        let failed: Result<(), &str> = journal.write(|record| {
            record.put(b"", b"k", b"v");
            Err("refused")
        });
        assert!(failed.is_err());
        assert!(!journal.has_pending());
    }
}
