//! Traffic aggregates: what the dashboard shows, counted as data is stored, never by reading
//! every page view when it is asked for. Each write that counts (a page view, a visitor linked
//! to a contact, a trackUser answer, a rule firing) leaves a [`Tally`] behind it; the store
//! adds pending tallies to the per-day, per-site [`DayStats`] ([`fold_traffic`]), which the
//! dashboard reads: O(days × sites) records whatever the number of page views.
//!
//! Days are UTC days. A visitor is counted once per day and site (a "seen" mark per day,
//! visitor and site); over several days the dashboard shows the sum of daily unique visitors,
//! as Matomo does for ranges it has not processed. The top pages and referrers of a day keep at
//! most [`TopList::CAPACITY`] entries each (Space-Saving: a new name replaces the least counted
//! one and inherits its count, so the heavy hitters are always kept, their counts at most
//! overestimated by the replaced one's).

use super::error::DomainResult;
use super::ids::{AccountId, Suid};
use super::model::{LinkCause, Millis};
use super::tracking::PageView;
use crate::store::Store;
use serde::{Deserialize, Serialize};

/// A UTC day: days since the Unix epoch.
pub type Day = u32;

const DAY_MILLIS: Millis = 86_400_000;

pub fn day_of(at: Millis) -> Day {
    u32::try_from(at.max(0) / DAY_MILLIS).unwrap_or(u32::MAX)
}

/// Midnight UTC at the start of `day`.
pub fn day_start(day: Day) -> Millis {
    Millis::from(day) * DAY_MILLIS
}

/// What a trackUser call ended in, as the dashboard counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityOutcome {
    /// A contact was found and the visitor linked to it.
    Found,
    /// A valid value, but no contact has it.
    NotFound,
    /// Not looked up: an invalid or placeholder value, a missing or wrong verification hash,
    /// or the client's trackUser quota used up.
    Refused,
}

/// One thing to count, written with the data it counts and added to the aggregates later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tally {
    /// The page view stored under `page_view(suid, at, id)`.
    PageView {
        suid: Suid,
        at: Millis,
        id: u64,
    },
    /// A visitor linked to a contact: counts it as identified for each site it was counted
    /// for that day.
    Linked {
        suid: Suid,
        cause: LinkCause,
        at: Millis,
    },
    /// `count` trackUser calls on `domain` with `outcome` on the day of `at` (the store
    /// writes the calls of one flush as one tally).
    TrackUser {
        domain: String,
        outcome: IdentityOutcome,
        at: Millis,
        #[serde(default = "one", skip_serializing_if = "is_one")]
        count: u64,
    },
    RuleFired {
        at: Millis,
    },
}

fn one() -> u64 {
    1
}

fn is_one(count: &u64) -> bool {
    *count == 1
}

/// Identified visitors by how they were identified.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CauseCounts {
    /// Sign-up: `contacts/add` (or edit) carried the visitor's suid.
    pub sign_up: u64,
    pub track_user: u64,
    pub verified_track_user: u64,
}

impl CauseCounts {
    fn add(&mut self, cause: LinkCause) {
        match cause {
            LinkCause::ContactsAdd => self.sign_up += 1,
            LinkCause::TrackUser => self.track_user += 1,
            LinkCause::VerifiedTrackUser => self.verified_track_user += 1,
        }
    }

    fn merge(&mut self, other: &CauseCounts) {
        self.sign_up += other.sign_up;
        self.track_user += other.track_user;
        self.verified_track_user += other.verified_track_user;
    }

    pub fn total(&self) -> u64 {
        self.sign_up + self.track_user + self.verified_track_user
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub found: u64,
    pub not_found: u64,
    pub refused: u64,
}

impl OutcomeCounts {
    fn add(&mut self, outcome: IdentityOutcome, count: u64) {
        match outcome {
            IdentityOutcome::Found => self.found += count,
            IdentityOutcome::NotFound => self.not_found += count,
            IdentityOutcome::Refused => self.refused += count,
        }
    }

    fn merge(&mut self, other: &OutcomeCounts) {
        self.found += other.found;
        self.not_found += other.not_found;
        self.refused += other.refused;
    }
}

/// The most counted names (pages, referrers) of a day, at most [`TopList::CAPACITY`] of them,
/// most counted first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TopList(Vec<(String, u64)>);

impl TopList {
    pub const CAPACITY: usize = 100;

    /// Adds `count` to `name` (Space-Saving when full: see the module's comment).
    pub fn add(&mut self, name: &str, count: u64) {
        if let Some(entry) = self.0.iter_mut().find(|(known, _)| known == name) {
            entry.1 += count;
        } else if self.0.len() < TopList::CAPACITY {
            self.0.push((name.to_owned(), count));
        } else if let Some(least) = self.0.last_mut() {
            *least = (name.to_owned(), least.1 + count);
        }
        self.0
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }

    fn merge(&mut self, other: &TopList) {
        for (name, count) in &other.0 {
            self.add(name, *count);
        }
    }

    /// The `n` most counted, most counted first.
    pub fn top(&self, n: usize) -> &[(String, u64)] {
        &self.0[..n.min(self.0.len())]
    }
}

/// The aggregates of one day and site.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DayStats {
    pub page_views: u64,
    /// Unique visitors of the day.
    pub visitors: u64,
    /// Of those, the ones linked to a contact, by the cause of their link.
    pub identified: CauseCounts,
    pub track_user: OutcomeCounts,
    pub rule_firings: u64,
    /// Page paths (no query string).
    pub pages: TopList,
    /// Host names of referrers outside the site.
    pub referrers: TopList,
}

impl DayStats {
    pub fn merge(&mut self, other: &DayStats) {
        self.page_views += other.page_views;
        self.visitors += other.visitors;
        self.identified.merge(&other.identified);
        self.track_user.merge(&other.track_user);
        self.rule_firings += other.rule_firings;
        self.pages.merge(&other.pages);
        self.referrers.merge(&other.referrers);
    }
}

/// That a visitor was counted on a day for a site, and whether as identified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenMark {
    pub identified: Option<LinkCause>,
}

/// Counts page view `view` of site `site` in its day's `stats`. `mark` is the visitor's mark
/// for that day and site (`None`: not counted yet), `link` the cause of the visitor's link to a
/// contact, if any. Answers the mark to keep.
pub fn count_page_view(
    stats: &mut DayStats,
    view: &PageView,
    site: &str,
    mark: Option<SeenMark>,
    link: Option<LinkCause>,
) -> SeenMark {
    stats.page_views += 1;
    stats.pages.add(&page_path(&view.url), 1);
    if let Some(host) = external_referrer(&view.referrer, site) {
        stats.referrers.add(&host, 1);
    }
    let mut mark = match mark {
        Some(mark) => mark,
        None => {
            stats.visitors += 1;
            SeenMark::default()
        }
    };
    if let (None, Some(cause)) = (mark.identified, link) {
        stats.identified.add(cause);
        mark.identified = Some(cause);
    }
    mark
}

/// Counts a visitor counted as anonymous on a day as identified, now that it is linked.
/// Answers the mark to keep (unchanged if it was identified already).
pub fn count_link(stats: &mut DayStats, mark: SeenMark, cause: LinkCause) -> SeenMark {
    if mark.identified.is_some() {
        return mark;
    }
    stats.identified.add(cause);
    SeenMark {
        identified: Some(cause),
    }
}

pub fn count_track_user(stats: &mut DayStats, outcome: IdentityOutcome, count: u64) {
    stats.track_user.add(outcome, count);
}

pub fn count_rule_firing(stats: &mut DayStats) {
    stats.rule_firings += 1;
}

/// The site of a page: the longest of the account's `domains` that is the page's host or a
/// parent of it, else the host itself (`""` for a URL without one).
pub fn site_of(url: &str, domains: &[String]) -> String {
    let Some(host) = url::Url::parse(url.trim())
        .ok()
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
    else {
        return String::new();
    };
    domains
        .iter()
        .filter(|domain| {
            host == **domain
                || host
                    .strip_suffix(domain.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
        .max_by_key(|domain| domain.len())
        .cloned()
        .unwrap_or(host)
}

/// Longest page path kept in the top pages.
const MAX_PATH_CHARS: usize = 200;

/// The path of a page URL without query or fragment (`/product/3`); the URL itself, cut, when
/// it does not parse.
pub fn page_path(url: &str) -> String {
    let path = match url::Url::parse(url.trim()) {
        Ok(url) => url.path().to_owned(),
        Err(_) => url.trim().to_owned(),
    };
    path.chars().take(MAX_PATH_CHARS).collect()
}

/// The host of a referrer outside `site` (neither the site nor one of its subdomains); `None`
/// for no referrer or the site's own pages.
pub fn external_referrer(referrer: &str, site: &str) -> Option<String> {
    let host = url::Url::parse(referrer.trim())
        .ok()?
        .host_str()?
        .to_ascii_lowercase();
    let internal = !site.is_empty()
        && (host == site
            || host
                .strip_suffix(site)
                .is_some_and(|rest| rest.ends_with('.')));
    (!internal).then_some(host)
}

/// The periods the dashboard offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Period {
    #[default]
    Today,
    Days7,
    Days30,
    Days90,
}

impl Period {
    pub const ALL: [Period; 4] = [Period::Today, Period::Days7, Period::Days30, Period::Days90];

    /// `today`, `7`, `30`, `90`.
    pub fn parse(text: &str) -> Option<Period> {
        match text.trim() {
            "today" | "1" => Some(Period::Today),
            "7" => Some(Period::Days7),
            "30" => Some(Period::Days30),
            "90" => Some(Period::Days90),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Today => "today",
            Period::Days7 => "7",
            Period::Days30 => "30",
            Period::Days90 => "90",
        }
    }

    pub fn days(self) -> u32 {
        match self {
            Period::Today => 1,
            Period::Days7 => 7,
            Period::Days30 => 30,
            Period::Days90 => 90,
        }
    }
}

/// One day of the chart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayPoint {
    pub day: Day,
    pub page_views: u64,
    pub visitors: u64,
}

/// What the dashboard shows for a period and site (or all sites).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dashboard {
    pub period: Period,
    /// The site shown; `None` for all of them.
    pub domain: Option<String>,
    /// Every day of the period, oldest first, days without traffic included.
    pub days: Vec<DayPoint>,
    /// The period's sums (visitors: the sum of daily unique visitors).
    pub totals: DayStats,
    /// Rule firings of the whole account: a rule belongs to no site.
    pub rule_firings: u64,
    /// The sites to choose from: the account's domains and any other site counted.
    pub domains: Vec<String>,
}

impl Dashboard {
    /// Identified visitors as a share of visitors, in percent (0 with no visitors).
    pub fn identified_percent(&self) -> u64 {
        (self.totals.identified.total() * 100)
            .checked_div(self.totals.visitors)
            .unwrap_or(0)
    }
}

/// Adds every pending tally of the account to the aggregates (the traffic task, every few
/// seconds).
pub fn fold_traffic(store: &Store, account: AccountId) -> DomainResult<u64> {
    fold_at_most(store, account, u64::MAX)
}

/// Tallies the dashboard folds before it reads: what a quiet site left since the traffic
/// task's last round (the figures are then exact), bounded so that under heavy ingest the
/// dashboard still answers fast, at most one task period behind.
const DASHBOARD_FOLD: u64 = 1_000;

fn fold_at_most(store: &Store, account: AccountId, at_most: u64) -> DomainResult<u64> {
    let domains: Vec<String> = store
        .domains(account)?
        .into_iter()
        .map(|domain| domain.name)
        .collect();
    store.fold_traffic(account, &domains, at_most)
}

/// The dashboard of `period` ending today (the UTC day of `now`), for site `domain` or all.
/// Reads one aggregate record per day and site, after folding at most [`DASHBOARD_FOLD`]
/// pending tallies.
pub fn traffic_dashboard(
    store: &Store,
    account: AccountId,
    period: Period,
    domain: Option<&str>,
    now: Millis,
) -> DomainResult<Dashboard> {
    fold_at_most(store, account, DASHBOARD_FOLD)?;
    let last = day_of(now);
    let first = last.saturating_sub(period.days() - 1);
    let mut days: Vec<DayPoint> = (first..=last)
        .map(|day| DayPoint {
            day,
            ..DayPoint::default()
        })
        .collect();
    let mut dashboard = Dashboard {
        period,
        domain: domain.map(str::to_owned),
        ..Dashboard::default()
    };
    let mut sites: Vec<String> = store
        .domains(account)?
        .into_iter()
        .map(|domain| domain.name)
        .collect();
    for (day, site, stats) in store.traffic_days(account, first, last)? {
        dashboard.rule_firings += stats.rule_firings;
        if !site.is_empty() && !sites.contains(&site) {
            sites.push(site.clone());
        }
        if domain.is_some_and(|wanted| wanted != site) {
            continue;
        }
        if let Some(point) = days.get_mut((day - first) as usize) {
            point.page_views += stats.page_views;
            point.visitors += stats.visitors;
        }
        dashboard.totals.merge(&stats);
    }
    sites.sort();
    dashboard.days = days;
    dashboard.domains = sites;
    Ok(dashboard)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(url: &str, referrer: &str) -> PageView {
        PageView {
            id: 1,
            suid: Suid::random(),
            url: url.into(),
            title: String::new(),
            referrer: referrer.into(),
            at: 0,
        }
    }

    #[test]
    fn a_visitor_is_counted_once_a_day_and_identified_once() {
        let mut stats = DayStats::default();
        let page = view("https://shop.pl/a?x=1", "https://www.google.com/search");
        let mark = count_page_view(&mut stats, &page, "shop.pl", None, None);
        let mark = count_page_view(&mut stats, &page, "shop.pl", Some(mark), None);
        assert_eq!((stats.page_views, stats.visitors), (2, 1));
        let mark = count_link(&mut stats, mark, LinkCause::ContactsAdd);
        let mark = count_link(&mut stats, mark, LinkCause::TrackUser);
        count_page_view(
            &mut stats,
            &page,
            "shop.pl",
            Some(mark),
            Some(LinkCause::TrackUser),
        );
        assert_eq!(stats.identified.sign_up, 1);
        assert_eq!(stats.identified.total(), 1);
        assert_eq!(stats.pages.top(5), [("/a".to_owned(), 3)]);
        assert_eq!(stats.referrers.top(5), [("www.google.com".to_owned(), 3)]);
    }

    #[test]
    fn the_sites_own_pages_are_not_referrers() {
        assert_eq!(external_referrer("https://www.shop.pl/x", "shop.pl"), None);
        assert_eq!(external_referrer("", "shop.pl"), None);
        assert_eq!(
            external_referrer("https://notshop.pl/", "shop.pl").as_deref(),
            Some("notshop.pl")
        );
    }

    #[test]
    fn a_page_belongs_to_the_longest_registered_domain_above_its_host() {
        let domains = vec!["shop.pl".to_owned(), "b2b.shop.pl".to_owned()];
        assert_eq!(
            site_of("https://www.b2b.shop.pl/x", &domains),
            "b2b.shop.pl"
        );
        assert_eq!(site_of("https://www.shop.pl/", &domains), "shop.pl");
        assert_eq!(site_of("https://other.pl/", &domains), "other.pl");
        assert_eq!(site_of("nonsense", &domains), "");
    }

    #[test]
    fn the_top_list_stays_bounded_and_keeps_the_heavy_hitters() {
        let mut top = TopList::default();
        for round in 0..3 {
            top.add("/popular", 10);
            for n in 0..TopList::CAPACITY * 2 {
                top.add(&format!("/rare/{round}/{n}"), 1);
            }
        }
        assert_eq!(top.0.len(), TopList::CAPACITY);
        assert_eq!(top.top(1)[0], ("/popular".to_owned(), 30));
    }

    fn shop() -> (Store, AccountId) {
        let store = Store::open_temporary().expect("store");
        let account = crate::domain::create_account(&store, "shop", None)
            .expect("account")
            .id;
        crate::domain::add_domain(&store, account, "shop.example.com").expect("domain");
        (store, account)
    }

    #[test]
    fn concurrent_page_views_are_all_counted_once_and_links_identify_visitors() {
        let (store, account) = shop();
        let visitors: Vec<Suid> = (0..8).map(|_| Suid::random()).collect();
        std::thread::scope(|scope| {
            for (n, suid) in visitors.iter().enumerate() {
                let store = store.clone();
                scope.spawn(move || {
                    for page in 0..25 {
                        crate::domain::record_page_view(
                            &store,
                            account,
                            *suid,
                            &format!("https://www.shop.example.com/p/{}", page % 5),
                            "",
                            if n % 2 == 0 {
                                "https://search.example.org/q"
                            } else {
                                ""
                            },
                        )
                        .expect("page view");
                    }
                });
            }
            // Folds race the writers.
            let store = store.clone();
            scope.spawn(move || {
                for _ in 0..20 {
                    fold_traffic(&store, account).expect("fold");
                }
            });
        });
        let contact = crate::domain::add_contact(
            &store,
            &crate::domain::Principal {
                account,
                username: None,
            },
            &crate::domain::ContactInput {
                phone: Some("500600700".into()),
                suid: Some(visitors[0].to_string()),
                ..crate::domain::ContactInput::default()
            },
        )
        .expect("contact");
        assert_eq!(contact.suid, Some(visitors[0]));
        let now = crate::domain::now_millis();
        let dashboard =
            traffic_dashboard(&store, account, Period::Today, None, now).expect("dashboard");
        assert_eq!(dashboard.totals.page_views, 200);
        assert_eq!(dashboard.totals.visitors, 8);
        assert_eq!(dashboard.totals.identified.sign_up, 1);
        assert_eq!(dashboard.totals.pages.top(1)[0].1, 40);
        assert_eq!(
            dashboard.totals.referrers.top(5),
            [("search.example.org".to_owned(), 100)]
        );
        assert_eq!(dashboard.domains, ["shop.example.com"]);
        assert_eq!(dashboard.days.len(), 1);
        let other = traffic_dashboard(&store, account, Period::Days7, Some("other.pl"), now)
            .expect("dashboard");
        assert_eq!((other.days.len(), other.totals.page_views), (7, 0));
        // Another visit of the identified visitor counts it once more neither as a visitor
        // nor as identified.
        crate::domain::record_page_view(
            &store,
            account,
            visitors[0],
            "https://shop.example.com/",
            "",
            "",
        )
        .expect("page view");
        let again =
            traffic_dashboard(&store, account, Period::Today, None, now).expect("dashboard");
        assert_eq!(
            (
                again.totals.page_views,
                again.totals.visitors,
                again.totals.identified.total()
            ),
            (201, 8, 1)
        );
    }

    #[test]
    fn visitors_linked_while_folds_run_are_counted_identified_once() {
        let (store, account) = shop();
        let visitors: Vec<Suid> = (0..8).map(|_| Suid::random()).collect();
        let principal = crate::domain::Principal {
            account,
            username: None,
        };
        std::thread::scope(|scope| {
            for suid in &visitors {
                let store = store.clone();
                scope.spawn(move || {
                    for page in 0..30 {
                        crate::domain::record_page_view(
                            &store,
                            account,
                            *suid,
                            &format!("https://shop.example.com/p/{page}"),
                            "",
                            "",
                        )
                        .expect("page view");
                    }
                });
            }
            // Half the visitors sign up while their page views are being written and folded.
            for (n, suid) in visitors.iter().take(4).enumerate() {
                let (store, principal) = (store.clone(), principal.clone());
                scope.spawn(move || {
                    std::thread::sleep(std::time::Duration::from_millis(2 * n as u64));
                    crate::domain::add_contact(
                        &store,
                        &principal,
                        &crate::domain::ContactInput {
                            phone: Some(format!("50060070{n}")),
                            suid: Some(suid.to_string()),
                            ..crate::domain::ContactInput::default()
                        },
                    )
                    .expect("contact");
                });
            }
            let store = store.clone();
            scope.spawn(move || {
                for _ in 0..40 {
                    fold_traffic(&store, account).expect("fold");
                }
            });
        });
        let now = crate::domain::now_millis();
        let dashboard =
            traffic_dashboard(&store, account, Period::Today, None, now).expect("dashboard");
        assert_eq!(dashboard.totals.page_views, 240);
        assert_eq!(dashboard.totals.visitors, 8);
        assert_eq!(dashboard.totals.identified.sign_up, 4);
        assert_eq!(dashboard.totals.identified.total(), 4);
    }

    #[test]
    fn periods_read_back() {
        for period in Period::ALL {
            assert_eq!(Period::parse(period.as_str()), Some(period));
        }
        assert_eq!(Period::parse("365"), None);
        assert_eq!(day_of(day_start(20_000) + 5), 20_000);
    }
}
