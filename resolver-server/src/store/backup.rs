//! Online backup and restore of the sled directory.
//!
//! A backup is a copy of the database files taken at one moment: every write takes the store's
//! barrier shared, the backup takes it exclusively, flushes, records sled's checksum of all
//! trees, copies the files and lets writes go on. The copy is then opened as a database of its
//! own and must give the same checksum, so a backup that says "ok" is known to be readable and
//! complete. Copying the files (rather than exporting records) keeps sled's id generator, so
//! ids stay never-reused after a restore.

use super::{Store, StoreError};
use crate::control::SOCKET_NAME;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Written last into a backup directory; `restore` refuses a directory without it.
const MANIFEST: &str = "ssrm-backup.json";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    /// sled's CRC32 over every key and value of every tree.
    checksum: u32,
    /// When the copy was taken (RFC 3339).
    taken_at: String,
    /// Bytes copied.
    bytes: u64,
}

/// Copies `from` into `to` (created), files and directories, skipping sockets and anything else
/// that is not a regular file (the control socket), and the search index (`search.rs`: made
/// from the records, rebuilt when a copy opens without it; its indexing thread writes on while
/// the store's writes wait). Returns the bytes copied.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> std::io::Result<u64> {
    std::fs::create_dir_all(to)?;
    let mut bytes = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() && entry.file_name() == super::search::SEARCH_DIR {
            continue;
        } else if kind.is_dir() {
            bytes += copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() && entry.file_name() != SOCKET_NAME {
            bytes += std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(bytes)
}

/// Whether `dir` is absent or an empty directory.
fn absent_or_empty(dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", dir.display())),
    }
}

fn checksum_of(dir: &Path) -> anyhow::Result<u32> {
    let db = sled::Config::new()
        .path(dir)
        .open()
        .with_context(|| format!("cannot open the copy in {} as a database", dir.display()))?;
    Ok(db.checksum()?)
}

impl Store {
    /// Writes a consistent copy of the database into `target` (created; refused if it exists and
    /// is not empty) while the store stays in use; writes wait while the files are copied.
    /// Returns a one-line summary.
    pub fn backup_to(&self, target: &Path) -> anyhow::Result<String> {
        let db = self.db.as_sled().context(
            "this server keeps its data in PostgreSQL: back it up with pg_dump (README, \
             \"Running on several machines\")",
        )?;
        let source = self
            .dir
            .as_deref()
            .context("a temporary database cannot be backed up")?;
        anyhow::ensure!(
            absent_or_empty(target)?,
            "{} exists and is not empty; back up into a new directory",
            target.display()
        );
        if let (Ok(source), Ok(parent)) = (
            source.canonicalize(),
            target
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .canonicalize(),
        ) {
            anyhow::ensure!(
                !parent.starts_with(&source),
                "the backup cannot go inside the data directory"
            );
        }
        let (checksum, bytes) = {
            let _exclusive = self
                .barrier
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // A checkpoint: sled's own files then hold every write, the journal nothing.
            self.db.flush()?;
            let checksum = db.checksum().map_err(StoreError::from)?;
            let bytes = copy_tree(source, target)
                .with_context(|| format!("cannot copy the database to {}", target.display()))?;
            (checksum, bytes)
        };
        let copied = checksum_of(target)?;
        anyhow::ensure!(
            copied == checksum,
            "the copy in {} does not match the database (checksum {copied:08x}, expected \
             {checksum:08x}); it is not a usable backup",
            target.display()
        );
        let manifest = Manifest {
            checksum,
            taken_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            bytes,
        };
        std::fs::write(target.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)
            .with_context(|| format!("cannot write the manifest in {}", target.display()))?;
        Ok(format!(
            "backup of {bytes} bytes in {} (checksum {checksum:08x})",
            target.display()
        ))
    }
}

/// Restores the backup in `backup` into `data_dir`, which must be absent or empty (so also no
/// server can be running on it), and checks the result against the backup's checksum.
pub fn restore(backup: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(backup.join(MANIFEST))
            .with_context(|| format!("{} is not a backup (no {MANIFEST})", backup.display()))?,
    )
    .with_context(|| format!("{} in {} is damaged", MANIFEST, backup.display()))?;
    anyhow::ensure!(
        absent_or_empty(data_dir)?,
        "{} is not empty; restore into an empty data directory",
        data_dir.display()
    );
    copy_tree(backup, data_dir)
        .with_context(|| format!("cannot copy the backup into {}", data_dir.display()))?;
    std::fs::remove_file(data_dir.join(MANIFEST))?;
    let restored = checksum_of(data_dir)?;
    anyhow::ensure!(
        restored == manifest.checksum,
        "the restored database does not match the backup (checksum {restored:08x}, expected \
         {:08x})",
        manifest.checksum
    );
    Ok(())
}
