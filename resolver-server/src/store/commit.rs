//! Group commit: concurrent writers share flushes instead of each waiting for its own.
//!
//! A writer that has finished its transaction registers and waits. One flusher thread takes
//! every writer registered so far, flushes, and answers them all; writers that register while a
//! flush runs wait for the next one, which starts as soon as the current one ends. A flush
//! that *starts* after a writer registered covers that writer's write, so an acknowledgement
//! still means durable. An idle server answers a single write after one flush, as before; under
//! load one flush covers many requests.
//!
//! sled's own `flush_async` hangs under concurrent callers, so the flush is the blocking one on
//! a thread of its own; waiting writers hold no thread (they await a oneshot channel).

use super::StoreError;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

type Waiter = oneshot::Sender<Result<(), String>>;

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiter>,
    stopping: bool,
}

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
}

impl GroupCommit {
    pub(super) fn start(db: sled::Db) -> Result<GroupCommit, StoreError> {
        let shared = Arc::new(Shared::default());
        let flusher = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("ssrm-flusher".into())
            .spawn(move || flush_loop(&flusher, &db))
            .map_err(|error| StoreError::Corrupt(format!("cannot start the flusher: {error}")))?;
        Ok(GroupCommit {
            shared,
            thread: Some(thread),
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
    }
}

fn flush_loop(shared: &Shared, db: &sled::Db) {
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
        let outcome = db.flush().map(drop).map_err(|error| {
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

    #[test]
    fn concurrent_writers_are_all_answered_and_their_writes_are_on_disk() {
        let dir = tempfile::tempdir().expect("dir");
        let db = sled::Config::new().path(dir.path()).open().expect("db");
        let committer = Arc::new(GroupCommit::start(db.clone()).expect("flusher"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut tasks = Vec::new();
            for n in 0..200u32 {
                db.insert(n.to_be_bytes(), b"v").expect("insert");
                let committer = Arc::clone(&committer);
                tasks.push(async move { committer.commit().await });
            }
            for outcome in futures_util::future::join_all(tasks).await {
                outcome.expect("flushed");
            }
        });
        assert_eq!(committer.waiting(), 0);
        drop(committer);
        drop(db);
        let reopened = sled::Config::new().path(dir.path()).open().expect("reopen");
        assert_eq!(reopened.len(), 200);
    }

    #[test]
    fn dropping_the_committer_stops_its_thread_and_releases_the_database() {
        let dir = tempfile::tempdir().expect("dir");
        let db = sled::Config::new().path(dir.path()).open().expect("db");
        let committer = GroupCommit::start(db.clone()).expect("flusher");
        drop(committer);
        drop(db);
        // sled admits one process (and one open handle) per directory: this open fails if the
        // flusher thread still held the database.
        sled::Config::new()
            .path(dir.path())
            .open()
            .expect("reopen after the flusher stopped");
    }
}
