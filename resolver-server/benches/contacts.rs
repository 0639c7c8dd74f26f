//! Loads contacts through the domain layer into a real sled directory and reports insert and
//! lookup rates and the bytes on disk per contact.
//!
//! `cargo bench -p resolver-server --bench contacts` (1,000,000 contacts; set
//! `SSRM_BENCH_CONTACTS` for another count).
#![allow(clippy::print_stdout)]

use resolver_server::domain::{self, ContactInput, Country, Email, Phone, Principal};
use resolver_server::store::Store;
use std::time::Instant;

fn phone(n: u64) -> String {
    format!("5{:08}", n % 100_000_000)
}

fn email(n: u64) -> String {
    format!("klient.{n}@example.com")
}

fn directory_size(path: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(_) => continue,
        };
        total += if meta.is_dir() {
            directory_size(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

fn main() {
    let count: u64 = std::env::var("SSRM_BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Store::open(dir.path()).expect("open store");
    let account = domain::create_account(&store, "bench", None).expect("account");
    let principal = Principal {
        account: account.id,
        username: None,
    };
    let group = domain::add_group(&store, account.id, "Wszyscy").expect("group");

    let started = Instant::now();
    for n in 0..count {
        let input = ContactInput {
            phone: Some(phone(n)),
            email: Some(email(n)),
            first_name: Some("Jan".into()),
            last_name: Some(format!("Kowalski {n}")),
            city: Some("Warszawa".into()),
            groups: if n % 10 == 0 {
                Some(vec![group.id])
            } else {
                None
            },
            ..ContactInput::default()
        };
        domain::add_contact(&store, &principal, &input).expect("add contact");
    }
    store.flush().expect("flush");
    let insert_seconds = started.elapsed().as_secs_f64();

    let lookups = count.min(200_000);
    let step = (count / lookups).max(1);
    let started = Instant::now();
    for i in 0..lookups {
        let phone = Phone::parse(&phone(i * step), Country::POLAND).expect("valid phone");
        let found = store.contacts_by_phone(account.id, &phone).expect("lookup");
        assert_eq!(found.len(), 1);
    }
    let phone_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for i in 0..lookups {
        let email = Email::parse(&email(i * step)).expect("valid e-mail");
        let found = store.contacts_by_email(account.id, &email).expect("lookup");
        assert_eq!(found.len(), 1);
    }
    let email_seconds = started.elapsed().as_secs_f64();

    drop(store);
    let bytes = directory_size(dir.path());
    println!("contacts loaded:          {count}");
    println!(
        "inserts per second:       {:.0} (each one transaction with its indexes)",
        count as f64 / insert_seconds
    );
    println!(
        "phone lookups per second: {:.0} (normalise + index + record)",
        lookups as f64 / phone_seconds
    );
    println!(
        "email lookups per second: {:.0} (normalise + index + record)",
        lookups as f64 / email_seconds
    );
    println!(
        "data directory:           {:.1} MiB, {:.0} bytes per contact",
        bytes as f64 / 1_048_576.0,
        bytes as f64 / count as f64
    );
}
