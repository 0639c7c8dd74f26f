//! Page-view ingest with 100 enabled rules in the account against ingest with none, in the same
//! run and the same sled directory: the target is a ratio of at least 0.8.
//!
//! Each page view goes through `domain::record_page_view` (the call `/t/pageview` makes), so
//! rule evaluation is measured without the flush and HTTP work that dwarf it in a real request.
//! Half the visitors are linked to contacts; URLs cycle over 200 product pages, half of which
//! match one rule each (`url_contains "/product/N/"`, 3 views in 7 days → add to a group), so
//! history is counted and rules fire during the run; each round's time includes laying out
//! the firings it queued.
//!
//! `cargo bench -p resolver-server --bench rules` (`SSRM_BENCH_VIEWS`, default 20000 a side).
#![allow(clippy::print_stdout)]

use resolver_server::domain::{self, AccountId, ContactInput, Principal, Suid};
use resolver_server::store::Store;
use std::time::{Duration, Instant};

const VISITORS: usize = 1_000;
const RULES: usize = 100;
const PAGES: usize = 200;

struct Side {
    account: AccountId,
    visitors: Vec<Suid>,
}

fn side(store: &Store, name: &str, rules: usize) -> Side {
    let account = domain::create_account(store, name, None)
        .expect("account")
        .id;
    let principal = Principal {
        account,
        username: None,
    };
    let group = domain::add_group(store, account, "Zainteresowani").expect("group");
    for n in 0..rules {
        let rule = serde_json::json!({
            "name": format!("Produkt {n}"),
            "when": {"pageview": {"url_contains": format!("/product/{n}/")}, "count": 3, "within_days": 7},
            "then": [{"add_to_group": group.id}]
        });
        let spec = domain::parse_rule(&rule.to_string()).expect("rule");
        domain::add_rule(store, account, spec).expect("saved");
    }
    let visitors: Vec<Suid> = (0..VISITORS).map(|_| Suid::random()).collect();
    for (n, visitor) in visitors.iter().enumerate().filter(|(n, _)| n % 2 == 0) {
        let input = ContactInput {
            phone: Some(format!("5{n:08}")),
            suid: Some(visitor.to_string()),
            ..ContactInput::default()
        };
        domain::add_contact(store, &principal, &input).expect("contact");
    }
    Side { account, visitors }
}

fn ingest(store: &Store, side: &Side, from: usize, views: usize) -> Duration {
    let start = Instant::now();
    for n in from..from + views {
        let visitor = side.visitors[n % VISITORS];
        let url = format!("https://shop.example.com/product/{}/", (n / 7) % PAGES);
        domain::record_page_view(store, side.account, visitor, &url, "Produkt", "")
            .expect("page view");
    }
    // Laying out the firings the round queued is the server's work too (its delivery worker
    // does it): count it.
    while domain::settle_firings(store, 1_000).expect("settled") > 0 {}
    start.elapsed()
}

fn main() {
    let views: usize = std::env::var("SSRM_BENCH_VIEWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Store::open(dir.path()).expect("open store");
    let plain = side(&store, "no-rules", 0);
    let ruled = side(&store, "hundred-rules", RULES);
    // Alternate in short rounds so both sides see the same database size, cache state and
    // load from other processes; the median of the rounds' ratios resists bursts of that load.
    let rounds = 40;
    let (mut without, mut with) = (Duration::ZERO, Duration::ZERO);
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let from = round * views / rounds;
        let plain_round = ingest(&store, &plain, from, views / rounds);
        let ruled_round = ingest(&store, &ruled, from, views / rounds);
        ratios.push(plain_round.as_secs_f64() / ruled_round.as_secs_f64());
        without += plain_round;
        with += ruled_round;
    }
    ratios.sort_by(f64::total_cmp);
    let rate = |elapsed: Duration| views as f64 / elapsed.as_secs_f64();
    let fired: u64 = domain::list_rules(&store, ruled.account)
        .expect("rules")
        .iter()
        .map(|(_, stats)| stats.fired)
        .sum();
    println!("page views per side: {views} ({VISITORS} visitors, half linked to contacts)");
    println!("no rules:   {:>9.0} page views/s", rate(without));
    println!(
        "{RULES} rules: {:>9.0} page views/s ({fired} firings)",
        rate(with)
    );
    println!(
        "ratio (100 rules / none): {:.2} overall, {:.2} median of {rounds} rounds",
        rate(with) / rate(without),
        ratios[rounds / 2]
    );
}
