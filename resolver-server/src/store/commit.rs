//! Group commit: concurrent writers share flushes instead of each waiting for its own.
//!
//! A writer that has finished its transaction registers and waits. One flusher thread takes
//! every writer registered so far, flushes, and answers them all; writers that register while a
//! flush runs wait for the next one, which starts as soon as the current one ends. A flush
//! that *starts* after a writer registered covers that writer's write, so an acknowledgement
//! still means durable. An idle server answers a single write after one flush, as before; under
//! load one flush covers many requests.
//!
//! The flush is the backend's cheapest durable one ([`Db::sync`]: on sled, the journal's
//! `fdatasync`), blocking, on a thread of its own; waiting writers hold no thread (they await a
//! oneshot channel). A second thread tends the journal: it writes out records nobody waits
//! for and checkpoints the journal into sled ([`Db::tend_journal`]), and checkpoints once more
//! when the store closes.

use super::backend::Db;
use super::StoreError;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

type Waiter = oneshot::Sender<Result<(), String>>;

/// Runs before every flush (and checkpoint): writes what the store gathered for it.
pub(super) type BeforeSync = Box<dyn Fn() -> Result<(), StoreError> + Send + Sync>;

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiter>,
    stopping: bool,
}

/// How often the journal is tended.
const TEND_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock leaves the queue itself consistent (a Vec and a flag).
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The flusher of one database. Dropping it (with the last clone of the store) stops the
/// thread after it has answered everyone who was waiting.
pub(super) struct GroupCommit {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    tender: Option<(std::sync::mpsc::Sender<()>, JoinHandle<()>)>,
}

impl GroupCommit {
    pub(super) fn start(db: Db, before: BeforeSync) -> Result<GroupCommit, StoreError> {
        let shared = Arc::new(Shared::default());
        let flusher = Arc::clone(&shared);
        let flusher_db = db.clone();
        let before = Arc::new(before);
        let tended_before = Arc::clone(&before);
        let thread = std::thread::Builder::new()
            .name("ssrm-flusher".into())
            .spawn(move || flush_loop(&flusher, &flusher_db, &before))
            .map_err(|error| StoreError::Corrupt(format!("cannot start the flusher: {error}")))?;
        // Dropping the sender stops the tender (after a last checkpoint).
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let tender = std::thread::Builder::new()
            .name("ssrm-journal".into())
            .spawn(move || tend_loop(&stopped, &db, &tended_before))
            .map_err(|error| {
                StoreError::Corrupt(format!("cannot start the journal's thread: {error}"))
            })?;
        Ok(GroupCommit {
            shared,
            thread: Some(thread),
            tender: Some((stop, tender)),
        })
    }

    /// Waits until a flush that started after this call has finished: every write this caller
    /// completed before calling is then durable.
    pub(super) async fn commit(&self) -> Result<(), StoreError> {
        let (sender, receiver) = oneshot::channel();
        {
            let mut queue = self.shared.lock();
            queue.waiting.push(sender);
        }
        self.shared.wake.notify_one();
        match receiver.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StoreError::Flush(message)),
            Err(_) => Err(StoreError::Flush("the flusher stopped".into())),
        }
    }

    /// How many writers wait for a flush right now (tests and diagnostics).
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.shared.lock().waiting.len()
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some((stop, tender)) = self.tender.take() {
            drop(stop);
            let _ = tender.join();
        }
    }
}

fn tend_loop(stopped: &std::sync::mpsc::Receiver<()>, db: &Db, before: &BeforeSync) {
    use std::sync::mpsc::RecvTimeoutError;
    loop {
        let stopping = matches!(
            stopped.recv_timeout(TEND_EVERY),
            Err(RecvTimeoutError::Disconnected)
        );
        let outcome = before().and_then(|()| {
            if stopping {
                db.flush()
            } else {
                db.tend_journal()
            }
        });
        if let Err(error) = outcome {
            tracing::error!(%error, "the journal could not be written or checkpointed");
        }
        if stopping {
            return;
        }
    }
}

fn flush_loop(shared: &Shared, db: &Db, before: &BeforeSync) {
    loop {
        let batch = {
            let mut queue = shared.lock();
            while queue.waiting.is_empty() && !queue.stopping {
                queue = shared
                    .wake
                    .wait(queue)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if queue.waiting.is_empty() {
                return; // stopping, nobody waits
            }
            std::mem::take(&mut queue.waiting)
        };
        // Started after every writer in `batch` registered, so it covers their writes.
        let started = std::time::Instant::now();
        let outcome = before().and_then(|()| db.sync()).map_err(|error| {
            tracing::error!(%error, "flush failed");
            error.to_string()
        });
        tracing::debug!(
            writers = batch.len(),
            micros = started.elapsed().as_micros() as u64,
            "group flush"
        );
        crate::telemetry::store_flushed(started.elapsed());
        for waiter in batch {
            // A writer that went away (client disconnected) no longer needs the answer.
            let _ = waiter.send(outcome.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &std::path::Path) -> Db {
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .open()
            .expect("db");
        Db::sled(db, Some(dir)).expect("journal")
    }

    #[test]
    fn concurrent_writers_are_all_answered_and_their_writes_survive_a_crash() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(dir.path());
        let tree = db.open_tree("data").expect("tree");
        let committer =
            Arc::new(GroupCommit::start(db.clone(), Box::new(|| Ok(()))).expect("flusher"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut tasks = Vec::new();
            for n in 0..200u32 {
                tree.insert(n.to_be_bytes(), &b"v"[..]).expect("insert");
                let committer = Arc::clone(&committer);
                tasks.push(async move { committer.commit().await });
            }
            for outcome in futures_util::future::join_all(tasks).await {
                outcome.expect("flushed");
            }
        });
        assert_eq!(committer.waiting(), 0);
        let crashed = tempfile::tempdir().expect("copy");
        // The files as a crash would leave them: sled's as far as sled wrote them, the journal's
        // as far as it was synced.
        crate::store::backup::copy_tree(dir.path(), crashed.path()).expect("copy");
        drop(committer);
        drop((tree, db));
        let reopened = open(crashed.path());
        assert_eq!(
            reopened
                .open_tree("data")
                .expect("tree")
                .len()
                .expect("len"),
            200
        );
    }

    #[test]
    fn dropping_the_committer_stops_its_threads_and_leaves_sled_holding_every_write() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(dir.path());
        db.open_tree("")
            .expect("tree")
            .insert(b"key", &b"value"[..])
            .expect("insert");
        let committer = GroupCommit::start(db.clone(), Box::new(|| Ok(()))).expect("flusher");
        drop(committer);
        drop(db);
        // sled admits one process (and one open handle) per directory: this open fails if a
        // thread still held the database. Opened without the journal: the last checkpoint put
        // the write into sled's own files.
        let reopened = sled::Config::new()
            .path(dir.path())
            .open()
            .expect("reopen after the threads stopped");
        assert_eq!(
            reopened.get(b"key").expect("get").as_deref(),
            Some(&b"value"[..])
        );
    }
}
