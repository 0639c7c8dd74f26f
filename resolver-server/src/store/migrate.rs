//! `migrate-store`: copies a stopped sled installation into an empty PostgreSQL database.
//!
//! Both backends hold the same keys (see `store/backend/pg.rs`), so the copy is exact: every
//! tree entry by entry, in batches, with sled's id counter carried over to the PostgreSQL
//! sequence so ids stay unique and are never reused. Each tree is then read back from
//! PostgreSQL and its count and SHA-256 (over every key and value in order) compared with
//! sled's.

use super::backend::{Batch, Tree};
use super::{Store, StoreError};
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Entries written per statement pair (one transaction each).
const BATCH: usize = 5_000;

/// What a tree held: its entries and a digest of them in key order.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    entries: u64,
    sha256: String,
}

fn summarise(tree: &Tree) -> Result<Summary, StoreError> {
    let mut hash = Sha256::new();
    let mut entries = 0;
    for entry in tree.iter() {
        let (key, value) = entry?;
        hash.update((key.len() as u64).to_be_bytes());
        hash.update(&key);
        hash.update((value.len() as u64).to_be_bytes());
        hash.update(&value);
        entries += 1;
    }
    Ok(Summary {
        entries,
        sha256: hex::encode(hash.finalize()),
    })
}

fn copy(from: &Tree, to: &Tree) -> Result<u64, StoreError> {
    let mut batch = Batch::default();
    let mut pending = 0;
    let mut copied = 0;
    for entry in from.iter() {
        let (key, value) = entry?;
        batch.insert(key, value);
        pending += 1;
        if pending == BATCH {
            to.apply_batch(std::mem::take(&mut batch))?;
            copied += pending as u64;
            pending = 0;
        }
    }
    to.apply_batch(batch)?;
    Ok(copied + pending as u64)
}

impl Store {
    fn trees(&self) -> [(&'static str, &Tree); 4] {
        [
            ("data", &self.data),
            ("auth", &self.auth),
            ("outbox", &self.outbox),
            ("default", &self.meta),
        ]
    }
}

/// Copies `source` (a sled store nobody else uses) into the empty PostgreSQL database at
/// `url`, verifies it, and returns the report to print (one line per tree).
pub fn to_postgres(source: &Store, url: &str, pool: usize) -> anyhow::Result<String> {
    let sled = source
        .db
        .as_sled()
        .context("the source of migrate-store is a sled data directory")?;
    let target = Store::connect(url, pool).context("cannot use the target database")?;
    let pg = target
        .db
        .as_pg()
        .context("the target of migrate-store is a PostgreSQL database")?;
    for (name, tree) in target.trees() {
        anyhow::ensure!(
            tree.len().map_err(StoreError::from)? == 0,
            "the target database is not empty (its {name} table has rows); migrate into a new, \
             empty database"
        );
    }
    let mut report = String::new();
    for ((name, from), (_, to)) in source.trees().into_iter().zip(target.trees()) {
        let copied = copy(from, to).with_context(|| format!("copying the {name} tree failed"))?;
        let expected = summarise(from)?;
        let found = summarise(to)?;
        anyhow::ensure!(
            expected == found && copied == expected.entries,
            "the {name} tree was not copied faithfully: sled has {} entries (sha256 {}), \
             PostgreSQL {} (sha256 {})",
            expected.entries,
            expected.sha256,
            found.entries,
            found.sha256
        );
        writeln!(
            report,
            "{name}: {} entries copied, verified (sha256 {})",
            found.entries, found.sha256
        )?;
    }
    // Every id sled ever handed out is below its counter's next value: the sequence continues
    // above it.
    let next = sled.generate_id().map_err(StoreError::from)?;
    pg.set_next_id(next)?;
    writeln!(report, "ids: continue after {next}")?;
    Ok(report)
}
