//! sled next to PostgreSQL: a contact import (`contacts/import`'s domain call, 5,000 contacts a
//! batch, each batch one atomic write) and trackUser lookups (`resolve_identity`: account,
//! phone index, contact, visitor link), the same work on both backends in one run.
//!
//! `SSRM_BENCH_DATABASE_URL=postgres://…/postgres cargo bench -p resolver-server --bench
//! backends` (a user that may create databases; a fresh one is made). Without the variable only
//! sled runs. `SSRM_BENCH_CONTACTS` (default 1,000,000) and `SSRM_BENCH_LOOKUPS` (default
//! 20,000) change the sizes.
#![allow(clippy::print_stdout)]

use resolver_server::domain::{self, ContactInput, Principal, Suid};
use resolver_server::store::Store;
use std::time::Instant;

const BATCH: u64 = 5_000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn phone(n: u64) -> String {
    format!("5{:08}", n % 100_000_000)
}

/// Contacts imported per second, trackUser lookups per second.
fn measure(store: &Store, count: u64, lookups: u64) -> (f64, f64) {
    let account = domain::create_account(store, "bench", None).expect("account");
    let site = domain::add_domain(store, account.id, "shop.example.com").expect("domain");
    let principal = Principal {
        account: account.id,
        username: None,
    };
    let started = Instant::now();
    let mut n = 0;
    while n < count {
        let items: Vec<ContactInput> = (n..(n + BATCH).min(count))
            .map(|i| ContactInput {
                phone: Some(phone(i)),
                email: Some(format!("klient.{i}@example.com")),
                first_name: Some("Jan".into()),
                last_name: Some(format!("Kowalski {i}")),
                ..ContactInput::default()
            })
            .collect();
        let report = domain::import_contacts(store, &principal, &format!("import {n}"), &items)
            .expect("import");
        assert_eq!(report.correct, items.len() as u64);
        n += BATCH;
    }
    store.flush().expect("flush");
    let imported = count as f64 / started.elapsed().as_secs_f64();

    let step = (count / lookups.max(1)).max(1);
    let started = Instant::now();
    for i in 0..lookups {
        let answer = domain::resolve_identity(
            store,
            account.id,
            &site,
            Suid::random(),
            &phone((i * step) % count),
            None,
        )
        .expect("trackUser");
        assert!(answer.success);
    }
    let looked_up = lookups as f64 / started.elapsed().as_secs_f64();
    (imported, looked_up)
}

fn main() {
    let count = env_number("SSRM_BENCH_CONTACTS", 1_000_000);
    let lookups = env_number("SSRM_BENCH_LOOKUPS", 20_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let sled = {
        let store = Store::open(dir.path()).expect("sled");
        measure(&store, count, lookups)
    };
    println!("{count} contacts, {lookups} trackUser lookups");
    println!(
        "sled:       import {:>9.0} contacts/s   trackUser {:>7.0} lookups/s",
        sled.0, sled.1
    );
    let Ok(admin) = std::env::var("SSRM_BENCH_DATABASE_URL") else {
        println!("PostgreSQL: skipped (set SSRM_BENCH_DATABASE_URL)");
        return;
    };
    let name = format!("ssrm_bench_{}", uuid::Uuid::new_v4().simple());
    let status = std::process::Command::new("psql")
        .args([admin.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql runs");
    assert!(status.success(), "cannot create the bench database");
    let mut url = url::Url::parse(&admin).expect("a postgres:// URL");
    url.set_path(&format!("/{name}"));
    let store = Store::connect(url.as_str(), 16).expect("PostgreSQL");
    let pg = measure(&store, count, lookups);
    println!(
        "PostgreSQL: import {:>9.0} contacts/s   trackUser {:>7.0} lookups/s",
        pg.0, pg.1
    );
    println!(
        "PostgreSQL / sled: import {:.2}x, trackUser {:.2}x",
        pg.0 / sled.0,
        pg.1 / sled.1
    );
}
