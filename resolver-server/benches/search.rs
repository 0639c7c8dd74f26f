//! Search and lists at scale: imports contacts through the domain (5,000 per call, as
//! `contacts/import` does) into a real sled directory with its search index, then times
//! searches by name, e-mail, phone fragment and company, pages of every sort order, and a
//! rebuild of the index from scratch. Searches are checked against the plain scan
//! (`Store::scan_only`) before they are timed.
//!
//! `cargo bench -p resolver-server --bench search` (1,000,000 contacts; `SSRM_BENCH_CONTACTS`
//! for another count, `SSRM_BENCH_QUERIES` for the searches per kind, default 200;
//! `SSRM_BENCH_INDEX=off` only imports, into a store without the index, for the baseline).
//!
//! With `SSRM_BENCH_DATABASE_URL` (a `postgres://` URL of an empty database) the same runs on
//! PostgreSQL: searches through its trigram index, lists through the order entries
//! (`store/contact_orders.rs`); no rebuild. A database it filled before is used again
//! without importing.
#![allow(clippy::print_stdout)]

use resolver_server::domain::{
    self, ContactInput, ContactQuery, ContactSort, GroupFilter, Order, Paging, Principal,
};
use resolver_server::store::Store;
use std::time::{Duration, Instant};

const FIRST: [&str; 12] = [
    "Jan",
    "Anna",
    "Piotr",
    "Zofia",
    "Krzysztof",
    "Ewa",
    "Tomasz",
    "Łucja",
    "Marek",
    "Agnieszka",
    "Paweł",
    "Małgorzata",
];
const LAST: [&str; 10] = [
    "Kowalski",
    "Nowak",
    "Wiśniewska",
    "Wójcik",
    "Kamiński",
    "Lewandowska",
    "Zieliński",
    "Szymańska",
    "Woźniak",
    "Dąbrowski",
];
const TRADE: [&str; 8] = [
    "Hurtownia",
    "Apteka",
    "Piekarnia",
    "Serwis",
    "Kancelaria",
    "Drukarnia",
    "Biuro",
    "Sklep",
];
const CITY: [&str; 6] = ["Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk"];

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Contact `n`: unique phone, e-mail and last name; one of 8,000 companies; every field that
/// a search looks in filled for most contacts.
fn contact(n: u64) -> ContactInput {
    let first = FIRST[(n % 12) as usize];
    ContactInput {
        phone: Some(format!("6{:08}", (n * 7_919) % 100_000_000)),
        email: Some(format!("klient.{n}@example.com")),
        first_name: Some(first.into()),
        last_name: Some(format!("{} {n}", LAST[(n / 12 % 10) as usize])),
        company: Some(format!("{} {}", TRADE[(n % 8) as usize], n % 1_000)),
        city: Some(CITY[(n % 6) as usize].into()),
        address: Some(format!("ul. Długa {}", n % 300)),
        description: n
            .is_multiple_of(5)
            .then(|| format!("Stały klient od {}", 2000 + n % 25)),
        ..ContactInput::default()
    }
}

/// A small deterministic generator, so runs are comparable.
struct Numbers(u64);

impl Numbers {
    fn below(&mut self, limit: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % limit
    }
}

struct Timings(Vec<Duration>);

impl Timings {
    fn percentile(&self, share: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let at = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len());
        sorted[at - 1]
    }

    /// `| name | n | p50 | p99 |`, then `extra` and the closing bar.
    fn row(&self, name: &str, extra: &str) {
        println!(
            "| {name} | {} | {:.1} ms | {:.1} ms |{extra}",
            self.0.len(),
            self.percentile(0.5).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
        );
    }
}

fn list(store: &Store, principal: &Principal, query: &ContactQuery) -> (Duration, u64) {
    let started = Instant::now();
    let page = domain::list_contacts(store, principal.account, query).expect("list");
    (started.elapsed(), page.total)
}

fn wait_until_ready(store: &Store) {
    while !store.search_ready() {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() {
    let count = setting("SSRM_BENCH_CONTACTS", 1_000_000);
    let queries = setting("SSRM_BENCH_QUERIES", 200);
    let indexed = std::env::var("SSRM_BENCH_INDEX").as_deref() != Ok("off");
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = std::env::var("SSRM_BENCH_DATABASE_URL").ok();
    let store = match &database {
        Some(url) => Store::connect(url, resolver_server::store::DEFAULT_POOL),
        None if indexed => Store::open(dir.path()),
        None => Store::open_unindexed(dir.path()),
    }
    .expect("open store");
    println!(
        "store: {}",
        if database.is_some() {
            "PostgreSQL"
        } else {
            "sled"
        }
    );
    // On PostgreSQL a database the bench filled before is used again as it is
    // (`SSRM_BENCH_CONTACTS` must match): the import is the slow part there.
    let filled = match &database {
        Some(_) => store.account_by_name("bench").expect("accounts"),
        None => None,
    };
    let account = match &filled {
        Some(account) => account.clone(),
        None => domain::create_account(&store, "bench", None).expect("account"),
    };
    let principal = Principal {
        account: account.id,
        username: None,
    };
    println!("contacts: {count}");
    if filled.is_none() {
        let started = Instant::now();
        let inputs: Vec<ContactInput> = (0..count).map(contact).collect();
        for (n, chunk) in inputs.chunks(5_000).enumerate() {
            domain::import_contacts(&store, &principal, &format!("import {n}"), chunk)
                .expect("import");
            store.probe().expect("journal synced");
        }
        let imported = started.elapsed();
        drop(inputs);
        // Searches see every write at once; this waits until the indexing thread has caught
        // up, i.e. until a search no longer reads the pending contacts from the store.
        let caught_up = Instant::now();
        store.flush().expect("checkpoint");
        let caught_up = caught_up.elapsed();
        println!(
            "import (5,000 per call, journal synced after each): {:.1} s, {:.0} contacts/s; \
             index caught up {:.1} s later",
            imported.as_secs_f64(),
            count as f64 / imported.as_secs_f64(),
            caught_up.as_secs_f64()
        );
    } else {
        println!("(the database filled by an earlier run)");
    }
    if database.is_some() {
        // Written by this code, every contact has its order entries; this records it.
        store.build_contact_orders().expect("order entries");
    }
    if !indexed {
        println!("(without the search index: the baseline; nothing else measured)");
        return;
    }

    let mut numbers = Numbers(42);
    let mut phrase = |kind: &str| -> String {
        let n = numbers.below(count);
        match kind {
            "name" => format!("{} {n}", LAST[(n / 12 % 10) as usize]),
            "e-mail" => format!("klient.{n}@"),
            "phone fragment" => {
                let phone = format!("6{:08}", (n * 7_919) % 100_000_000);
                phone[2..8].to_owned()
            }
            "company" => format!("{} {}", TRADE[(n % 8) as usize], n % 1_000),
            _ => unreachable!("a kind of the list below"),
        }
    };
    println!();
    println!("| search (limit 50) | queries | p50 | p99 | found (last query) |");
    println!("|---|---|---|---|---|");
    let scan = store.scan_only();
    for kind in ["name", "e-mail", "phone fragment", "company"] {
        let mut timings = Timings(Vec::new());
        let mut found = 0;
        for query_number in 0..queries {
            let query = ContactQuery {
                search: Some(phrase(kind)),
                paging: Paging::new(Some(1), Some(50)),
                ..ContactQuery::default()
            };
            let (took, total) = list(&store, &principal, &query);
            if query_number == 0 {
                // The answer is the scan's (checked once per kind: a scan takes seconds).
                let indexed = domain::list_contacts(&store, principal.account, &query);
                let scanned = domain::list_contacts(&scan, principal.account, &query);
                assert_eq!(
                    indexed.expect("list").items,
                    scanned.expect("list").items,
                    "{query:?}"
                );
            }
            timings.0.push(took);
            found = total;
        }
        timings.row(kind, &format!(" {found} |"));
    }
    let (took, _) = list(
        &scan,
        &principal,
        &ContactQuery {
            search: Some("kowalski 123".into()),
            ..ContactQuery::default()
        },
    );
    println!(
        "| the same by scan, once (before the index) | 1 | {:.1} ms | | |",
        took.as_secs_f64() * 1e3
    );

    println!();
    println!("| list (no phrase) | pages read | p50 | p99 |");
    println!("|---|---|---|---|");
    let groups = domain::list_groups(&store, principal.account, &Default::default())
        .expect("groups")
        .items;
    let one_group = GroupFilter::Group(groups[groups.len() / 2].id);
    let sorts = std::iter::once(None).chain(ContactSort::ALL.map(Some));
    let mut everything = Timings(Vec::new());
    let mut checked = false;
    for sort in sorts {
        for order in [Order::Ascending, Order::Descending] {
            for (group, limit) in [
                (GroupFilter::Any, 50),
                (GroupFilter::Any, 500),
                (one_group, 50),
            ] {
                let mut timings = Timings(Vec::new());
                for _ in 0..(queries / 4).max(2) {
                    let total = if group == GroupFilter::Any {
                        count
                    } else {
                        5_000
                    };
                    let page = numbers.below(total.div_ceil(limit)) + 1;
                    let query = ContactQuery {
                        group,
                        sort,
                        order,
                        paging: Paging::new(i64::try_from(page).ok(), i64::try_from(limit).ok()),
                        ..ContactQuery::default()
                    };
                    if !checked {
                        // Once, the index's page against the scan's (seconds).
                        let indexed = domain::list_contacts(&store, principal.account, &query);
                        let scanned = domain::list_contacts(&scan, principal.account, &query);
                        assert_eq!(indexed.expect("list"), scanned.expect("list"));
                        checked = true;
                    }
                    timings.0.push(list(&store, &principal, &query).0);
                }
                let name = sort.map_or("default (id)", ContactSort::name);
                let filter = if group == GroupFilter::Any {
                    "all"
                } else {
                    "one group"
                };
                timings.row(&format!("{name} {order:?}, {filter}, limit {limit}"), "");
                everything.0.extend(timings.0);
            }
        }
    }
    everything.row("every list above together", "");

    drop(scan);
    if database.is_some() {
        return;
    }
    drop(store);
    std::fs::remove_dir_all(dir.path().join(resolver_server::store::search::SEARCH_DIR))
        .expect("delete the index");
    let reopened = Instant::now();
    let store = Store::open(dir.path()).expect("reopen");
    wait_until_ready(&store);
    let rebuilt = reopened.elapsed();
    println!();
    println!(
        "index rebuilt from the store after its files were deleted: {:.1} s",
        rebuilt.as_secs_f64()
    );
}
