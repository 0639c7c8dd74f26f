//! The dashboard's query with 1,000,000 page views in the account (the target: under
//! 200 ms). Page views go through `domain::record_page_view_at` (what `/t/pageview` does, each
//! leaving its tally), spread over 90 days, 20,000 visitors and three sites; the tallies are
//! folded into the aggregates (timed: the traffic task's work), then each period is asked
//! for, all sites and one site, 20 times each (median and worst printed). Last, the same query
//! with 10,000 tallies still pending (heavy ingest between two rounds of the traffic task): the
//! dashboard folds 1,000 of them before it reads.
//!
//! `cargo bench -p resolver-server --bench dashboard` (`SSRM_BENCH_VIEWS` for another count).
#![allow(clippy::print_stdout)]

use resolver_server::domain::{self, Period, Suid};
use resolver_server::store::Store;
use std::time::{Duration, Instant};

const VISITORS: usize = 20_000;
const DAY: i64 = 86_400_000;
const SITES: [&str; 3] = ["shop.example.com", "blog.example.com", "b2b.example.com"];

fn median_and_worst(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() - 1])
}

fn main() {
    let views: usize = std::env::var("SSRM_BENCH_VIEWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Store::open(dir.path()).expect("store");
    let account = domain::create_account(&store, "shop", None)
        .expect("account")
        .id;
    for site in SITES {
        domain::add_domain(&store, account, site).expect("domain");
    }
    let visitors: Vec<Suid> = (0..VISITORS).map(|_| Suid::random()).collect();
    let now = domain::now_millis();
    let started = Instant::now();
    for n in 0..views {
        let site = SITES[n % SITES.len()];
        let at = now - (n % 90) as i64 * DAY - (n % 1000) as i64;
        domain::record_page_view_at(
            &store,
            account,
            visitors[n % VISITORS],
            &format!("https://{site}/product/{}?ref={}", n % 500, n % 7),
            "Produkt",
            if n % 4 == 0 {
                "https://www.google.com/search?q=x"
            } else {
                ""
            },
            at,
        )
        .expect("page view");
    }
    let ingest = started.elapsed();
    println!(
        "{views} page views stored in {:.1} s ({:.0} per second, tallies included)",
        ingest.as_secs_f64(),
        views as f64 / ingest.as_secs_f64()
    );
    let started = Instant::now();
    let folded = domain::fold_traffic(&store, account).expect("fold");
    let fold = started.elapsed();
    println!(
        "{folded} tallies folded into the aggregates in {:.1} s ({:.0} per second)",
        fold.as_secs_f64(),
        folded as f64 / fold.as_secs_f64()
    );
    store.flush().expect("flush");

    let mut worst_of_all = Duration::ZERO;
    for period in Period::ALL {
        for site in [None, Some(SITES[0])] {
            let mut times = Vec::new();
            let mut shown = 0;
            for _ in 0..20 {
                let started = Instant::now();
                let dashboard = domain::traffic_dashboard(&store, account, period, site, now)
                    .expect("dashboard");
                times.push(started.elapsed());
                shown = dashboard.totals.page_views;
            }
            let (median, worst) = median_and_worst(times);
            worst_of_all = worst_of_all.max(worst);
            println!(
                "dashboard {:>5} {:<18} {shown:>8} page views: median {:>7.2} ms, worst {:>7.2} ms",
                period.as_str(),
                site.unwrap_or("all sites"),
                median.as_secs_f64() * 1e3,
                worst.as_secs_f64() * 1e3
            );
        }
    }
    let pending = 10_000.min(views);
    for n in 0..pending {
        domain::record_page_view(
            &store,
            account,
            visitors[n % VISITORS],
            &format!("https://{}/product/{}", SITES[n % 3], n % 500),
            "Produkt",
            "",
        )
        .expect("page view");
    }
    let started = Instant::now();
    let dashboard =
        domain::traffic_dashboard(&store, account, Period::Days90, None, domain::now_millis())
            .expect("dashboard");
    let with_pending = started.elapsed();
    println!(
        "dashboard 90 days, all sites, with {pending} tallies pending (it folds 1,000 first): {:.1} ms ({} page views)",
        with_pending.as_secs_f64() * 1e3,
        dashboard.totals.page_views
    );
    println!(
        "worst dashboard query over every period and site: {:.2} ms (target < 200 ms)",
        worst_of_all.as_secs_f64() * 1e3
    );
}
