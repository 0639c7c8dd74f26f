//! Records per second for 1,000-record Thulium batches through the domain layer into a real
//! sled directory, each batch followed by the flush the HTTP layer does before answering.
//!
//! `cargo bench -p resolver-server --bench campaigns` (20 batches; `SSRM_BENCH_BATCHES` for more).
#![allow(clippy::print_stdout)]

use resolver_server::domain::{self, ContactInput, Principal, RecordInput, MAX_BATCH_RECORDS};
use resolver_server::store::Store;
use std::time::Instant;

fn main() {
    let batches: usize = std::env::var("SSRM_BENCH_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Store::open(dir.path()).expect("open store");
    let account = domain::create_account(&store, "bench", None)
        .expect("account")
        .id;
    let principal = Principal {
        account,
        username: None,
    };
    let items: Vec<ContactInput> = (0..MAX_BATCH_RECORDS)
        .map(|n| ContactInput {
            phone: Some(format!("5{n:08}")),
            ..ContactInput::default()
        })
        .collect();
    let group = domain::import_contacts(&store, &principal, "Klienci", &items)
        .expect("import")
        .group;
    let customers: Vec<_> = store
        .group_member_ids(account, group)
        .map(|id| id.expect("id"))
        .collect();
    let records: Vec<RecordInput> = customers
        .iter()
        .map(|customer| RecordInput {
            customer: *customer,
            status_id: Some(1),
            dictionary_status_id: None,
            agent_login: None,
            next_call_date: None,
            order: None,
        })
        .collect();

    let mut seconds = Vec::with_capacity(batches);
    for n in 0..batches {
        let campaign = domain::add_campaign(&store, account, &format!("Kampania {n}"))
            .expect("campaign")
            .id;
        let started = Instant::now();
        let outcomes = domain::add_records(&store, account, &campaign, &records).expect("batch");
        store.flush().expect("flush");
        seconds.push(started.elapsed().as_secs_f64());
        assert_eq!(outcomes.len(), MAX_BATCH_RECORDS);
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let best = seconds[0];
    println!("batches:                 {batches} x {MAX_BATCH_RECORDS} records (each decided alone, one transaction per record, one flush per batch)");
    println!(
        "records per second:      {:.0} median, {:.0} best",
        MAX_BATCH_RECORDS as f64 / median,
        MAX_BATCH_RECORDS as f64 / best
    );
    println!("batch time:              {:.1} ms median", median * 1000.0);
}
