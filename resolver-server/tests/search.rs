//! The contact search index (`store/search.rs`) against the scan it replaces: the same pages
//! for every query on a generated account of 20,000 contacts, changes found at once, and an
//! index rebuilt when its files are gone or a crash left it behind the store.

use resolver_server::domain::{
    self, Actor, ContactId, ContactInput, ContactQuery, ContactSort, Erasing, GroupFilter, Order,
    Paging, Principal,
};
use resolver_server::store::Store;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

const FIRST: [&str; 8] = [
    "Anna",
    "Jan",
    "Zofia",
    "Piotr",
    "Łucja",
    "Krzysztof",
    "Ewa",
    "Grzegorz",
];
const LAST: [&str; 8] = [
    "Kowalski",
    "Nowak",
    "Wiśniewska",
    "Wójcik",
    "KAMIŃSKI",
    "Lewandowska",
    "Zieliński",
    "Szymańska",
];
const COMPANY: [&str; 5] = [
    "",
    "Acme sp. z o.o.",
    "Żabka Polska",
    "ORLEN",
    "Bank Śląski",
];
const CITY: [&str; 6] = ["Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk"];

/// A deterministic generator (an LCG): the same account on every run.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

fn contact(n: usize, numbers: &mut Numbers) -> ContactInput {
    let first = FIRST[numbers.next(FIRST.len())];
    let last = LAST[numbers.next(LAST.len())];
    ContactInput {
        phone: Some(format!(
            "+48 5{:02} {:03} {:03}",
            n % 100,
            (n / 100) % 1000,
            n % 997
        )),
        email: (!n.is_multiple_of(3))
            .then(|| format!("{}.{}{n}@Example.com", first.to_lowercase(), n % 50)),
        first_name: Some(first.into()),
        last_name: Some(format!("{last}{}", n % 1000)),
        company: Some(COMPANY[numbers.next(COMPANY.len())].into()),
        tax_id: n.is_multiple_of(7).then(|| format!("PL{:010}", n * 7919)),
        address: Some(format!("ul. Długa {}", n % 250)),
        city: Some(CITY[numbers.next(CITY.len())].into()),
        description: n.is_multiple_of(11).then(|| format!("Klient VIP nr {n}")),
        ..ContactInput::default()
    }
}

fn principal(store: &Store) -> Principal {
    let account = domain::create_account(store, "shop", None).expect("account");
    Principal {
        account: account.id,
        username: None,
    }
}

/// Contacts whose texts lower-case in ways a search engine may not: the Kelvin sign (to `k`),
/// `İ` (to two characters), quotes and backslashes (escaped in JSON), `%` and `_` (SQL
/// wildcards).
fn awkward() -> Vec<ContactInput> {
    vec![
        named("Marta", "\u{212A}owalska", "600900001"),
        named("Ayşe", "İstanbullu", "600900002"),
        ContactInput {
            company: Some("Studio \"Kwadrat\" \\ Koło".into()),
            ..named("Olga", "Cudzysłów", "600900003")
        },
        ContactInput {
            description: Some("rabat 50%_stały".into()),
            ..named("Igor", "Procent", "600900004")
        },
    ]
}

/// Phrases for [`awkward`] contacts (and others).
const AWKWARD_PHRASES: [&str; 10] = [
    "kowalska",
    "\u{212A}owalska",
    "i\u{307}stanbul",
    "stanbullu",
    "\"kwadrat\"",
    "\\ koło",
    "kwadrat",
    "50%_st",
    "0%_",
    "cudzysł",
];

/// Fills the account with `count` contacts (and the [`awkward`] ones): imported in groups of
/// 5,000, and every tenth one added on its own, in no group.
fn fill(store: &Store, principal: &Principal, count: usize) {
    for input in awkward() {
        domain::add_contact(store, principal, &input).expect("add");
    }
    let mut numbers = Numbers(7);
    let inputs: Vec<ContactInput> = (0..count).map(|n| contact(n, &mut numbers)).collect();
    let (alone, grouped): (Vec<_>, Vec<_>) = inputs
        .into_iter()
        .enumerate()
        .partition(|(n, _)| n % 10 == 0);
    for input in alone.iter().map(|(_, input)| input) {
        domain::add_contact(store, principal, input).expect("add");
    }
    let grouped: Vec<ContactInput> = grouped.into_iter().map(|(_, input)| input).collect();
    for (n, chunk) in grouped.chunks(5_000).enumerate() {
        domain::import_contacts(store, principal, &format!("import {n}"), chunk).expect("import");
    }
}

/// An account of `count` generated contacts in a store in `dir`, closed clean.
fn filled_and_closed(dir: &Path, count: usize) -> Principal {
    let store = open(dir);
    let principal = principal(&store);
    fill(&store, &principal, count);
    store.flush().expect("flush");
    principal
}

fn open(dir: &Path) -> Store {
    Store::open(dir).expect("store opens")
}

fn wait_until_ready(store: &Store) {
    let started = Instant::now();
    while !store.search_ready() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the search index was not built within a minute"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The ids and count of one page of `query`, through `store`.
fn page(store: &Store, principal: &Principal, query: &ContactQuery) -> (Vec<ContactId>, u64) {
    let page = domain::list_contacts(store, principal.account, query).expect("list");
    let ids = page.items.iter().map(|item| item.contact.id).collect();
    (ids, page.total)
}

/// Asserts that `query` answers the same through the index as through the scan.
fn same_as_scan(store: &Store, principal: &Principal, query: &ContactQuery) -> u64 {
    let indexed = page(store, principal, query);
    let scanned = page(&store.scan_only(), principal, query);
    assert_eq!(indexed, scanned, "{query:?}");
    indexed.1
}

fn search(phrase: &str) -> ContactQuery {
    ContactQuery {
        search: Some(phrase.into()),
        paging: Paging::new(Some(1), Some(500)),
        ..ContactQuery::default()
    }
}

#[test]
fn searches_and_lists_of_twenty_thousand_contacts_answer_as_the_scan_does() {
    let dir = tempfile::tempdir().expect("dir");
    let principal = filled_and_closed(dir.path(), 20_000);
    // Reopened after a clean close: every contact is in the committed index, none pending.
    let store = open(dir.path());
    assert!(store.search_ready(), "a cleanly closed index opens ready");
    // The indexing thread sorts every segment in every list order once at start (the first
    // page of an order then sorts nothing): the default order and the nine columns. Waited for
    // until the number has stayed the same for half a second.
    let started = Instant::now();
    let (mut seen, mut since) = (0, Instant::now());
    loop {
        let now = store.sorted_list_orders();
        if now != seen {
            (seen, since) = (now, Instant::now());
        } else if seen >= 10 && since.elapsed() > Duration::from_millis(500) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "list orders prepared at start: {seen}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(seen % 10, 0, "every order of every segment: {seen}");
    let groups = domain::list_groups(&store, principal.account, &Default::default())
        .expect("groups")
        .items;
    let phrases = [
        "kowalski123",
        "Kowalski12",
        "WIŚNIEWSKA",
        "wiśniewska99",
        "kamiński",
        "ewa.4",
        "@example.com",
        "Example",
        "500 123",
        "+48501",
        "5010",
        "48 501 002 003",
        "acme",
        "żabka pol",
        "bank śl",
        "pl00000",
        "łódź",
        "ul. długa 17",
        "vip nr 1",
        "no such phrase",
        "zz",
        "k",
    ]
    .into_iter()
    .chain(AWKWARD_PHRASES);
    let mut found_some = 0;
    for phrase in phrases {
        for group in [
            GroupFilter::Any,
            GroupFilter::NoGroup,
            GroupFilter::Group(groups[1].id),
        ] {
            let query = ContactQuery {
                group,
                ..search(phrase)
            };
            if same_as_scan(&store, &principal, &query) > 0 {
                found_some += 1;
            }
        }
    }
    assert!(found_some > 30, "the phrases find contacts ({found_some})");
    // Sorted, both ways, on later pages.
    for sort in [
        "first_name",
        "last_name",
        "phone",
        "company",
        "email",
        "city",
    ] {
        for order in [Order::Ascending, Order::Descending] {
            for page_number in [1, 3] {
                let query = ContactQuery {
                    sort: ContactSort::parse(sort),
                    order,
                    paging: Paging::new(Some(page_number), Some(50)),
                    ..search("kowalski")
                };
                same_as_scan(&store, &principal, &query);
            }
        }
    }
    for limit in [50, 500] {
        let scanned = every_list_as_scan(&store, &principal, limit, true);
        assert!(
            scanned.is_empty(),
            "the index pages every list: {scanned:?}"
        );
    }
}

/// The page and count of `query` (no phrase), and whether the store's index (sled) or order
/// entries (PostgreSQL) answered it rather than the scan.
fn listed_page(
    store: &Store,
    principal: &Principal,
    query: &ContactQuery,
) -> ((Vec<ContactId>, u64), bool) {
    let skip = (query.paging.page - 1) * query.paging.limit;
    let paged = store
        .contact_page(
            principal.account,
            query.group,
            query.sort,
            query.order,
            skip,
            query.paging.limit,
        )
        .expect("page");
    (page(store, principal, query), paged.is_some())
}

/// Lists of every sort order, both ways, every group filter: first, middle, last and past
/// the last page, each compared with the whole list sorted here from a plain read of every
/// contact (and, for one page of each order, with the domain's own scan); the whole account's
/// lists only, unless `group_filters`. Returns the queries the scan answered (the index or
/// order entries did not).
fn every_list_as_scan(
    store: &Store,
    principal: &Principal,
    limit: u64,
    group_filters: bool,
) -> Vec<ContactQuery> {
    let mut scanned = Vec::new();
    let groups = domain::list_groups(store, principal.account, &Default::default())
        .expect("groups")
        .items;
    let everyone: Vec<_> = store
        .contacts(principal.account)
        .collect::<Result<_, _>>()
        .expect("contacts");
    let sorts = std::iter::once(None).chain(ContactSort::ALL.map(Some));
    for sort in sorts {
        for order in [Order::Ascending, Order::Descending] {
            let filters = [
                GroupFilter::Any,
                GroupFilter::NoGroup,
                GroupFilter::Group(groups[0].id),
            ];
            for group in filters.into_iter().take(if group_filters { 3 } else { 1 }) {
                let mut listed: Vec<_> = everyone
                    .iter()
                    .filter(|contact| group.admits(contact))
                    .map(|contact| (sort.map(|sort| sort.key(contact)), contact.id))
                    .collect();
                listed.sort();
                if order == Order::Descending {
                    listed.reverse();
                }
                let total = listed.len() as u64;
                assert!(total > 0, "{group:?} holds contacts");
                let pages = total.div_ceil(limit);
                for page in [1, pages / 2, pages - 1, pages, pages + 1] {
                    let query = ContactQuery {
                        group,
                        sort,
                        order,
                        paging: Paging::new(i64::try_from(page).ok(), i64::try_from(limit).ok()),
                        ..ContactQuery::default()
                    };
                    let skip = (query.paging.page - 1) * limit;
                    let expected: Vec<ContactId> = listed
                        .iter()
                        .skip(skip as usize)
                        .take(limit as usize)
                        .map(|(_, id)| *id)
                        .collect();
                    let (listed, answered) = listed_page(store, principal, &query);
                    assert_eq!(listed, (expected, total), "{query:?}");
                    if !answered {
                        scanned.push(query.clone());
                    }
                    if page == pages / 2 && group == GroupFilter::Any {
                        same_as_scan(store, principal, &query);
                    }
                }
            }
        }
    }
    scanned
}

fn named(first: &str, last: &str, phone: &str) -> ContactInput {
    ContactInput {
        phone: Some(phone.into()),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        ..ContactInput::default()
    }
}

fn found(store: &Store, principal: &Principal, phrase: &str) -> Vec<ContactId> {
    let (ids, total) = page(store, principal, &search(phrase));
    assert_eq!(ids.len() as u64, total);
    ids
}

#[test]
fn additions_edits_and_deletions_are_found_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(dir.path());
    let principal = principal(&store);
    fill(&store, &principal, 300);
    let added = domain::add_contact(
        &store,
        &principal,
        &named("Zofia", "Brzęczyszczykiewicz", "600100200"),
    )
    .expect("add");
    assert_eq!(found(&store, &principal, "brzęczyszczy"), vec![added.id]);
    let edit = ContactInput {
        last_name: Some("Grzmot".into()),
        ..named("Zofia", "", "600100200")
    };
    domain::edit_contact(&store, &principal, added.id, &edit).expect("edit");
    assert!(found(&store, &principal, "brzęczyszczy").is_empty());
    assert_eq!(found(&store, &principal, "grzmot"), vec![added.id]);
    assert_eq!(every_list_as_scan(&store, &principal, 20, true), Vec::new());
    // Once the indexing thread has committed the edit, the same.
    std::thread::sleep(Duration::from_millis(600));
    assert!(found(&store, &principal, "brzęczyszczy").is_empty());
    assert_eq!(found(&store, &principal, "grzmot"), vec![added.id]);
    let erasing = Erasing::new(Actor::Operator, "test");
    domain::delete_contacts(&store, principal.account, &[added.id], &erasing).expect("delete");
    assert!(found(&store, &principal, "grzmot").is_empty());
    assert_eq!(every_list_as_scan(&store, &principal, 20, true), Vec::new());
    std::thread::sleep(Duration::from_millis(600));
    assert!(found(&store, &principal, "grzmot").is_empty());
    assert!(
        found(&store, &principal, "zofia").len() > 1,
        "the others remain"
    );
}

#[test]
fn an_index_whose_files_are_deleted_is_rebuilt_on_open() {
    let dir = tempfile::tempdir().expect("dir");
    let principal = filled_and_closed(dir.path(), 2_000);
    let index = dir.path().join(resolver_server::store::search::SEARCH_DIR);
    std::fs::remove_dir_all(&index).expect("delete the index");
    let store = open(dir.path());
    wait_until_ready(&store);
    assert!(index.join("meta.json").exists(), "the index was made again");
    for phrase in ["kowalski1", "example.com", "łódź", "+48500"] {
        assert!(
            same_as_scan(&store, &principal, &search(phrase)) > 0,
            "{phrase}"
        );
    }
}

/// Copies a directory tree, as a crash would leave it (the files as they are now).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else if entry.file_name() != ".tantivy-writer.lock" {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn an_index_behind_the_store_after_a_crash_is_rebuilt() {
    let dir = tempfile::tempdir().expect("dir");
    let crashed = tempfile::tempdir().expect("dir");
    let store = open(dir.path());
    let principal = principal(&store);
    fill(&store, &principal, 1_000);
    store.flush().expect("flush");
    // Written after the last clean commit, and (most likely) not yet committed to the index
    // when the files are copied; the journal makes them durable.
    let late = domain::add_contact(
        &store,
        &principal,
        &named("Ostatni", "Spóźniony", "600300400"),
    )
    .expect("add");
    store.probe().expect("the journal synced");
    copy_tree(dir.path(), crashed.path());
    drop(store);
    let store = open(crashed.path());
    wait_until_ready(&store);
    assert_eq!(found(&store, &principal, "spóźnion"), vec![late.id]);
    assert!(same_as_scan(&store, &principal, &search("kowalski")) > 0);
}

#[test]
fn reindex_makes_an_accounts_entries_again() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(dir.path());
    let principal = principal(&store);
    fill(&store, &principal, 500);
    assert_eq!(
        domain::reindex_contacts(&store, principal.account).expect("reindex"),
        Some(500 + awkward().len() as u64)
    );
    assert!(same_as_scan(&store, &principal, &search("nowak")) > 0);
    let temporary = Store::open_temporary().expect("store");
    let other = principal_of(&temporary);
    assert_eq!(
        domain::reindex_contacts(&temporary, other.account).expect("reindex"),
        None,
        "a temporary store has no index"
    );
}

fn principal_of(store: &Store) -> Principal {
    principal(store)
}

/// A fresh PostgreSQL database's URL, a store on it and an account of 3,000 generated contacts
/// (`None` without `SSRM_TEST_DATABASE_URL`).
fn filled_postgresql() -> Option<(String, Store, Principal)> {
    let (_, url) = common::fresh_database(&common::admin_url()?);
    let store = Store::connect(&url, 4).expect("connect");
    let principal = principal(&store);
    fill(&store, &principal, 3_000);
    Some((url, store, principal))
}

#[test]
fn postgresql_searches_answer_as_the_scan_does() {
    let Some((url, store, principal)) = filled_postgresql() else {
        return;
    };
    let phrases = [
        "kowalski12",
        "ewa.4",
        "@example.com",
        "+48501",
        "łódź",
        "acme",
        "zz",
    ];
    let mut found_some = 0;
    for phrase in phrases.into_iter().chain(AWKWARD_PHRASES) {
        if same_as_scan(&store, &principal, &search(phrase)) > 0 {
            found_some += 1;
        }
    }
    assert!(found_some >= 12, "the phrases find contacts ({found_some})");
    // The trigram index answers (not a sequential scan of the table).
    let plan = common::sql_text(
        &url,
        &format!(
            "ANALYZE tenant_data; EXPLAIN SELECT value FROM tenant_data WHERE account_id = {} \
             AND length(key) = 17 AND get_byte(key, 8) = 16 \
             AND ssrm_record_text(value) ILIKE '%owals%' ORDER BY key",
            principal.account.0
        ),
    );
    assert!(plan.contains("tenant_contact_trigrams"), "{plan}");
}

/// Contacts whose descriptions (200 four-byte characters and a number) are longer than an
/// order entry holds and agree in all it holds: their entries fall in id order, and a page
/// sorts them by the whole text. The texts run against the ids, so id order is the wrong one;
/// they sort after every other description.
fn cut_descriptions(store: &Store, principal: &Principal, count: usize) {
    for n in 0..count {
        let input = ContactInput {
            description: Some(format!("{}{:03}", "\u{1F600}".repeat(200), count - n)),
            ..named("Długi", "Opis", &format!("60080{n:04}"))
        };
        domain::add_contact(store, principal, &input).expect("add");
    }
}

#[test]
fn postgresql_sorted_pages_come_from_order_entries_as_the_scan_would() {
    let Some((url, store, principal)) = filled_postgresql() else {
        return;
    };
    cut_descriptions(&store, &principal, 25);
    let everyone = store.contacts(principal.account).count() as u64;
    let sorted = |store: &Store| {
        store
            .contact_page(
                principal.account,
                GroupFilter::Any,
                Some(ContactSort::LastName),
                Order::Ascending,
                0,
                10,
            )
            .expect("page")
    };
    // Written by this code, but the database has not been told its entries are complete.
    assert_eq!(
        sorted(&store),
        None,
        "lists scan until the entries are built"
    );
    assert_eq!(store.build_contact_orders().expect("build"), Some(everyone));
    assert_eq!(sorted(&store).map(|(total, _)| total), Some(everyone));

    // A database written before order entries existed: none, and not built.
    common::sql_text(
        &url,
        "DELETE FROM tenant_data WHERE get_byte(key, 8) IN (24, 25); \
         DELETE FROM meta_data WHERE key = 'contact-orders-built-2'::bytea",
    );
    let store = Store::connect(&url, 4).expect("connect again");
    assert_eq!(sorted(&store), None);
    assert_eq!(store.build_contact_orders().expect("build"), Some(everyone));
    assert_eq!(store.build_contact_orders().expect("again"), Some(0));

    // Edits and deletions move and remove entries in the same transaction.
    let first = sorted(&store).expect("built").1[0].clone();
    domain::edit_contact(
        &store,
        &principal,
        first.id,
        &ContactInput {
            phone: Some(first.phone.as_str().into()),
            last_name: Some("Żurawska".into()),
            ..ContactInput::default()
        },
    )
    .expect("edit");
    let second = sorted(&store).expect("built").1[0].id;
    assert_ne!(first.id, second, "the edited contact moved");
    let erasing = Erasing::new(Actor::Operator, "test");
    domain::delete_contacts(&store, principal.account, &[second], &erasing).expect("delete");
    // Each add is a change of the contact counter (four writers at once: no change is lost);
    // a count folds them once there are many.
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let (store, principal) = (&store, &principal);
            scope.spawn(move || {
                for n in 0..75 {
                    let phone = format!("6007{writer}{n:04}");
                    domain::add_contact(store, principal, &named("Nowy", "Dodany", &phone))
                        .expect("add");
                }
            });
        }
    });
    let everyone = everyone - 1 + 300;
    assert_eq!(sorted(&store).map(|(total, _)| total), Some(everyone));
    let counter_keys = common::sql_text(
        &url,
        "SELECT count(*) FROM tenant_data WHERE get_byte(key, 8) = 25 AND get_byte(key, 9) = 0",
    );
    assert_eq!(
        counter_keys.trim(),
        "1",
        "the changes were folded into the count"
    );

    // Contacts into a group and out of it again: in and out of the "no group" list.
    let moved = domain::add_group(&store, principal.account, "Przeniesieni").expect("group");
    let everyone_now: Vec<_> = store
        .contacts(principal.account)
        .collect::<Result<_, _>>()
        .expect("contacts");
    let ungrouped = everyone_now.iter().filter(|c| c.groups.is_empty()).take(5);
    let grouped = everyone_now.iter().filter(|c| !c.groups.is_empty()).take(3);
    for contact in ungrouped.chain(grouped) {
        let input = ContactInput {
            phone: Some(contact.phone.as_str().into()),
            groups: Some(vec![moved.id]),
            ..ContactInput::default()
        };
        domain::edit_contact(&store, &principal, contact.id, &input).expect("into the group");
    }
    let ungrouped_count = |store: &Store| {
        store
            .contact_page(
                principal.account,
                GroupFilter::NoGroup,
                None,
                Order::Ascending,
                0,
                1,
            )
            .expect("page")
            .map(|(total, _)| total)
    };
    let before = ungrouped_count(&store).expect("paged");
    domain::delete_groups(&store, principal.account, &[moved.id], false, &erasing)
        .expect("delete the group");
    assert_eq!(ungrouped_count(&store), Some(before + 8));

    // Every order; lists of a group read its members (in one query), the others the entries.
    for limit in [50, 500] {
        let scanned = every_list_as_scan(&store, &principal, limit, true);
        assert!(
            scanned
                .iter()
                .all(|query| matches!(query.group, GroupFilter::Group(_))),
            "the order entries page every list but a group's: {scanned:?}"
        );
    }

    // The cut descriptions come last (U+1F600 sorts after ASCII) or first (descending).
    // Pages of 3 and 5 over them: runs inside a page, and across one edge or both.
    let total = everyone;
    for (order, limit) in [(Order::Ascending, 5), (Order::Descending, 3)] {
        let pages = total.div_ceil(limit);
        let over_the_run = match order {
            Order::Ascending => pages - 30 / limit..=pages,
            Order::Descending => 1..=30 / limit + 1,
        };
        for number in over_the_run {
            let query = ContactQuery {
                sort: Some(ContactSort::Description),
                order,
                paging: Paging::new(i64::try_from(number).ok(), i64::try_from(limit).ok()),
                ..ContactQuery::default()
            };
            let (listed, answered) = listed_page(&store, &principal, &query);
            assert!(answered, "the order entries page {query:?}");
            assert_eq!(listed, page(&store.scan_only(), &principal, &query));
        }
    }
}

/// Every page of the whole account's list in `sort`, both ways, at `limit`, compared with the
/// list sorted here from a plain read; each must come from the index.
fn all_pages_as_sorted(
    store: &Store,
    principal: &Principal,
    sort: Option<ContactSort>,
    limit: u64,
) {
    let everyone: Vec<_> = store
        .contacts(principal.account)
        .collect::<Result<_, _>>()
        .expect("contacts");
    let mut sorted: Vec<_> = everyone
        .iter()
        .map(|contact| (sort.map(|sort| sort.key(contact)), contact.id))
        .collect();
    sorted.sort();
    for order in [Order::Ascending, Order::Descending] {
        if order == Order::Descending {
            sorted.reverse();
        }
        let pages = (sorted.len() as u64).div_ceil(limit);
        for page in 1..=pages {
            let query = ContactQuery {
                sort,
                order,
                paging: Paging::new(i64::try_from(page).ok(), i64::try_from(limit).ok()),
                ..ContactQuery::default()
            };
            let expected: Vec<ContactId> = sorted
                .iter()
                .skip(((page - 1) * limit) as usize)
                .take(limit as usize)
                .map(|(_, id)| *id)
                .collect();
            let (listed, answered) = listed_page(store, principal, &query);
            assert_eq!(listed, (expected, sorted.len() as u64), "{query:?}");
            assert!(answered, "the index answers {query:?}");
        }
    }
}

/// On sled, a list page is merged from every index segment's documents in list order
/// (`store/search/sorted.rs`): contacts written in many commits (so in many segments),
/// long keys that tie in their first 15 bytes spread over segments, then edits, moves into a
/// group and deletions, checked while they are still pending and again once the index
/// committed them (deleted documents left in the segments).
#[test]
fn sled_pages_merge_segments_deletions_and_pending_contacts_as_the_scan_would() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(dir.path());
    let principal = principal(&store);
    wait_until_ready(&store);
    fill(&store, &principal, 2_000);
    // Three rounds, each committed by the indexing thread before the next: texts whose first
    // 15 bytes agree (four-byte characters), in the order contrary to their ids.
    let mut long = Vec::new();
    for round in 0..3 {
        for n in 0..6 {
            let input = ContactInput {
                description: Some(format!("{}{}{}", "\u{1F600}".repeat(5), 9 - round, 9 - n)),
                ..named("Długi", "Opis", &format!("60081{round}{n:03}"))
            };
            long.push(
                domain::add_contact(&store, &principal, &input)
                    .expect("add")
                    .id,
            );
        }
        std::thread::sleep(Duration::from_millis(600));
    }
    let description = ContactSort::parse("description");
    all_pages_as_sorted(&store, &principal, description, 4);
    all_pages_as_sorted(&store, &principal, None, 50);
    // Changes, checked at once (pending) and after the index committed them.
    let group = domain::add_group(&store, principal.account, "moved").expect("group");
    let everyone: Vec<_> = store
        .contacts(principal.account)
        .collect::<Result<_, _>>()
        .expect("contacts");
    for (n, contact) in everyone.iter().enumerate().step_by(97) {
        let edit = ContactInput {
            last_name: Some(format!("Zmieniony{n}")),
            description: Some(format!("{}{}", "\u{1F600}".repeat(5), n % 7)),
            groups: (n % 2 == 0).then(|| vec![group.id]),
            ..named("Inny", "", contact.phone.as_str())
        };
        domain::edit_contact(&store, &principal, contact.id, &edit).expect("edit");
    }
    let erasing = Erasing::new(Actor::Operator, "test");
    let gone: Vec<ContactId> = everyone.iter().skip(5).step_by(89).map(|c| c.id).collect();
    domain::delete_contacts(&store, principal.account, &gone, &erasing).expect("delete");
    domain::delete_contacts(&store, principal.account, &long[..2], &erasing).expect("delete");
    for state in ["pending", "committed"] {
        assert_eq!(
            every_list_as_scan(&store, &principal, 7, true)
                .into_iter()
                .filter(|query| !matches!(query.group, GroupFilter::Group(_)))
                .collect::<Vec<_>>(),
            Vec::new(),
            "{state}: the index answers every list but a group's"
        );
        all_pages_as_sorted(&store, &principal, description, 5);
        all_pages_as_sorted(&store, &principal, ContactSort::parse("last_name"), 100);
        std::thread::sleep(Duration::from_millis(600));
    }
}
