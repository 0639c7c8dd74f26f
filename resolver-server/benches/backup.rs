//! Online backup cost: loads contacts into a real sled directory, then backs it up while a
//! writer keeps adding contacts, and reports the backup time against a plain copy of the same
//! files (the baseline, measured in the same run) and the longest a write waited meanwhile.
//!
//! `cargo bench -p resolver-server --bench backup` (100,000 contacts; set
//! `SSRM_BENCH_CONTACTS` for another count).
#![allow(clippy::print_stdout)]

use resolver_server::domain::{self, ContactInput, Principal};
use resolver_server::store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn contact(n: u64) -> ContactInput {
    ContactInput {
        phone: Some(format!("5{:08}", n % 100_000_000)),
        email: Some(format!("klient.{n}@example.com")),
        first_name: Some("Jan".into()),
        last_name: Some(format!("Kowalski {n}")),
        ..ContactInput::default()
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> u64 {
    std::fs::create_dir_all(to).expect("create");
    let mut bytes = 0;
    for entry in std::fs::read_dir(from).expect("read").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            bytes += copy_dir(&entry.path(), &target);
        } else if entry.file_type().expect("type").is_file() {
            bytes += std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
    bytes
}

fn main() {
    let count: u64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .or_else(|| {
            std::env::var("SSRM_BENCH_CONTACTS")
                .ok()
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let store = Store::open(&data).expect("open store");
    let account = domain::create_account(&store, "bench", None).expect("account");
    let principal = Principal {
        account: account.id,
        username: None,
    };
    for n in 0..count {
        domain::add_contact(&store, &principal, &contact(n)).expect("add contact");
    }
    store.flush().expect("flush");

    let started = Instant::now();
    let bytes = copy_dir(&data, &dir.path().join("plain-copy"));
    let copy_seconds = started.elapsed().as_secs_f64();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut longest = Duration::ZERO;
            let mut n = count;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let started = Instant::now();
                domain::add_contact(&store, &principal, &contact(n)).expect("add contact");
                longest = longest.max(started.elapsed());
            }
            (longest, n - count)
        })
    };
    let started = Instant::now();
    let summary = store.backup_to(&dir.path().join("backup")).expect("backup");
    let backup_seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let (longest_write, writes) = writer.join().expect("writer");

    println!("contacts:               {count}");
    println!("database files:         {:.1} MB", bytes as f64 / 1e6);
    println!("plain copy (baseline):  {copy_seconds:.3} s");
    println!(
        "backup (with checks):   {backup_seconds:.3} s ({:.1}x the plain copy)",
        backup_seconds / copy_seconds
    );
    println!(
        "longest write meanwhile: {:.3} s ({writes} writes during the backup)",
        longest_write.as_secs_f64()
    );
    println!("{summary}");
}
