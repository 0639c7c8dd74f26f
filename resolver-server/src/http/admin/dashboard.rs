//! The dashboard (`/`: traffic of a period and site, from the aggregates of
//! `domain::traffic`) and the visitors pages (`/visitors`, `/visitors/{suid}`). The chart is
//! server-rendered SVG: bars for page views, a dashed line with square markers for visitors,
//! each labelled in text, so it reads without colour; the numbers are also in a table. Each
//! headline figure carries `data-metric` and holds only its number, for scripts and tests.

use super::pages::{event_item, layout, page_view_item, pager, time, urlencode, Chrome};
use super::{html as respond, off_workers, page, Admin};
use crate::domain::{
    self, day_start, Dashboard, DayPoint, Paging, Period, Suid, TimelineEntry, VisitorDetail,
    VisitorQuery, VisitorRow,
};
use crate::http::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/visitors", web::get().to(visitors))
        .route("/visitors/{suid}", web::get().to(visitor))
        .route("/", web::get().to(dashboard));
}

#[derive(Deserialize)]
struct DashboardQuery {
    period: Option<String>,
    domain: Option<String>,
}

fn chosen(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

async fn dashboard(
    admin: Admin,
    query: web::Query<DashboardQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let period = query
        .period
        .as_deref()
        .and_then(Period::parse)
        .unwrap_or_default();
    let site = chosen(query.domain.as_deref());
    let account = admin.0.account;
    let now = domain::now_millis();
    let dashboard = off_workers(&state, move |store| {
        domain::traffic_dashboard(store, account, period, site.as_deref(), now)
    });
    match dashboard.await {
        Ok(dashboard) => page(dashboard_page(&admin.chrome(), &dashboard)),
        Err(failed) => failed,
    }
}

/// A titled section of counts, each cell named by its `data-metric` (what the tests read).
fn figures(title: &str, rows: &[(&str, &str, u64)]) -> Markup {
    html! {
        section {
            h2 { (title) }
            table.figures {
                tbody {
                    @for (label, metric, count) in rows {
                        tr { th { (label) } td data-metric=(metric) { (count) } }
                    }
                }
            }
        }
    }
}

/// `2026-11-23` of a day.
fn date(day: domain::Day) -> String {
    time(day_start(day))
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

fn metric(name: &str, label: &str, value: u64, note: Option<String>) -> Markup {
    html! {
        div.metric {
            span.label { (label) }
            strong data-metric=(name) { (value) }
            @if let Some(note) = note { span.note { (note) } }
        }
    }
}

fn dashboard_page(chrome: &Chrome, dashboard: &Dashboard) -> Markup {
    let totals = &dashboard.totals;
    let site = dashboard.domain.as_deref().unwrap_or_default();
    layout(
        Some(chrome),
        "Pulpit",
        html! {
            h1 { "Ruch" @if !site.is_empty() { " — " (site) } }
            form.search method="get" action="/" {
                label { "Okres"
                    select name="period" {
                        @for period in Period::ALL {
                            option value=(period.as_str()) selected[period == dashboard.period] { (period_label(period)) }
                        }
                    }
                }
                label { "Domena"
                    select name="domain" {
                        option value="" selected[site.is_empty()] { "Wszystkie domeny" }
                        @for name in &dashboard.domains {
                            option value=(name) selected[name == site] { (name) }
                        }
                    }
                }
                button type="submit" { "Pokaż" }
            }
            section.metrics aria-label="Najważniejsze liczby" {
                (metric("pageviews", "Odsłony", totals.page_views, None))
                (metric("visitors", "Unikalni odwiedzający", totals.visitors, (dashboard.period != Period::Today).then(|| "suma dzienna".to_owned())))
                (metric("identified", "Zidentyfikowani", totals.identified.total(), Some(format!("{} % odwiedzających", dashboard.identified_percent()))))
                (metric("identified-percent", "Udział zidentyfikowanych (%)", dashboard.identified_percent(), None))
                (metric("rule-firings", "Uruchomienia reguł", dashboard.rule_firings, Some("całe konto".to_owned())))
            }
            h2 { "Odsłony i odwiedzający dziennie" }
            (chart(&dashboard.days))
            details.numbers {
                summary { "Liczby dzień po dniu" }
                table {
                    thead { tr { th { "Dzień" } th { "Odsłony" } th { "Odwiedzający" } } }
                    tbody {
                        @for point in dashboard.days.iter().rev() {
                            tr { td { (date(point.day)) } td { (point.page_views) } td { (point.visitors) } }
                        }
                    }
                }
            }
            div.columns {
                (figures("Jak zidentyfikowano", &[
                    ("Rejestracja (suid w contacts/add)", "identified-signup", totals.identified.sign_up),
                    ("trackUser", "identified-trackuser", totals.identified.track_user),
                    ("trackUser z weryfikacją (HMAC)", "identified-verified", totals.identified.verified_track_user),
                ]))
                (figures("Wyniki trackUser", &[
                    ("Znaleziono", "trackuser-found", totals.track_user.found),
                    ("Nie znaleziono", "trackuser-not-found", totals.track_user.not_found),
                    ("Odmowa (zła wartość, brak podpisu, limit)", "trackuser-refused", totals.track_user.refused),
                ]))
            }
            div.columns {
                section {
                    h2 { "Najczęstsze strony" }
                    (top_table("Strona", totals.pages.top(10), "Brak odsłon w tym okresie."))
                }
                section {
                    h2 { "Najczęstsze źródła (odsyłacze)" }
                    (top_table("Źródło", totals.referrers.top(10), "Brak wejść z innych stron."))
                }
            }
            p.note { "Dni liczone w UTC. Odwiedzający z kilku dni to suma dziennych unikalnych odwiedzających." }
        },
    )
}

fn period_label(period: Period) -> &'static str {
    match period {
        Period::Today => "Dzisiaj",
        Period::Days7 => "7 dni",
        Period::Days30 => "30 dni",
        Period::Days90 => "90 dni",
    }
}

fn top_table(what: &str, entries: &[(String, u64)], empty: &str) -> Markup {
    html! {
        @if entries.is_empty() {
            p.empty { (empty) }
        } @else {
            table.top {
                thead { tr { th { (what) } th.count { "Odsłony" } } }
                tbody {
                    @for (name, count) in entries {
                        tr { td.name { (name) } td.count { (count) } }
                    }
                }
            }
        }
    }
}

/// A round upper bound of the chart's scale: 1, 2 or 5 times a power of ten.
fn scale_top(max: u64) -> u64 {
    let mut step = 1;
    loop {
        for factor in [1, 2, 5] {
            if step * factor >= max {
                return step * factor;
            }
        }
        step *= 10;
    }
}

/// The chart: page views as bars, visitors as a dashed line with square markers; axes,
/// gridlines and a legend in text.
fn chart(days: &[DayPoint]) -> Markup {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 260.0;
    const LEFT: f64 = 52.0;
    const RIGHT: f64 = 12.0;
    const TOP: f64 = 30.0;
    const BOTTOM: f64 = 36.0;
    let max = days
        .iter()
        .map(|d| d.page_views.max(d.visitors))
        .max()
        .unwrap_or(0)
        .max(1);
    let top = scale_top(max) as f64;
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let slot = plot_width / days.len().max(1) as f64;
    let bar = (slot * 0.6).clamp(1.0, 60.0);
    let x = |index: usize| LEFT + slot * index as f64 + slot / 2.0;
    let y = |value: u64| TOP + plot_height - plot_height * value as f64 / top;
    let label_every = match days.len() {
        0..=10 => 1,
        11..=31 => 5,
        _ => 15,
    };
    let line: Vec<String> = days
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{:.1},{:.1}", x(i), y(d.visitors)))
        .collect();
    let description = format!(
        "Odsłony (słupki) i unikalni odwiedzający (linia przerywana) w {} dniach; skala od 0 do {}.",
        days.len(),
        top
    );
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(description) xmlns="http://www.w3.org/2000/svg" {
                title { (description) }
                // Legend, in words and shapes.
                rect x=(LEFT) y="8" width="14" height="10" class="bar" {}
                text x=(LEFT + 20.0) y="17" { "Odsłony (słupki)" }
                line x1=(LEFT + 170.0) y1="13" x2=(LEFT + 200.0) y2="13" class="visitors" {}
                rect x=(LEFT + 181.0) y="9" width="8" height="8" class="marker" {}
                text x=(LEFT + 208.0) y="17" { "Odwiedzający (linia przerywana, kwadraty)" }
                @for step in 0..=4u64 {
                    @let value = (top as u64) * step / 4;
                    line.grid x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y(value)) y2=(y(value)) {}
                    text.axis x=(LEFT - 6.0) y=(y(value) + 4.0) text-anchor="end" { (value) }
                }
                @for (i, point) in days.iter().enumerate() {
                    @let height = (TOP + plot_height - y(point.page_views)).max(0.0);
                    rect.bar x=(format!("{:.1}", x(i) - bar / 2.0)) y=(format!("{:.1}", y(point.page_views))) width=(format!("{bar:.1}")) height=(format!("{height:.1}")) {
                        title { (date(point.day)) ": " (point.page_views) " odsłon, " (point.visitors) " odwiedzających" }
                    }
                    @if i % label_every == 0 || i + 1 == days.len() {
                        text.axis x=(format!("{:.1}", x(i))) y=(HEIGHT - BOTTOM + 16.0) text-anchor="middle" { (date(point.day).get(5..).unwrap_or_default()) }
                    }
                }
                polyline.visitors points=(line.join(" ")) {}
                @for (i, point) in days.iter().enumerate() {
                    rect.marker x=(format!("{:.1}", x(i) - 3.5)) y=(format!("{:.1}", y(point.visitors) - 3.5)) width="7" height="7" {}
                }
                line.axis-line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(TOP + plot_height) y2=(TOP + plot_height) {}
            }
            figcaption { (PreEscaped("Dni w UTC, od najstarszego (po lewej) do dziś (po prawej).")) }
        }
    }
}

// ----- visitors -----

#[derive(Deserialize)]
struct VisitorsQuery {
    anonymous: Option<String>,
    domain: Option<String>,
    url: Option<String>,
    page: Option<i64>,
}

async fn visitors(
    admin: Admin,
    query: web::Query<VisitorsQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let wanted = VisitorQuery {
        anonymous_only: query.anonymous.as_deref().is_some_and(|v| !v.is_empty()),
        domain: chosen(query.domain.as_deref()),
        url: chosen(query.url.as_deref()),
        paging: Paging::new(query.page, Some(50)),
    };
    let account = admin.0.account;
    let shown = wanted.clone();
    let listed = off_workers(&state, move |store| -> domain::DomainResult<_> {
        let page = domain::list_visitors(store, account, &shown)?;
        let domains: Vec<String> = store
            .domains(account)?
            .into_iter()
            .map(|domain| domain.name)
            .collect();
        Ok((page, domains))
    })
    .await;
    match listed {
        Ok((found, domains)) => page(visitors_page(&admin.chrome(), &wanted, &found, &domains)),
        Err(failed) => failed,
    }
}

fn contact_cell(row: &VisitorRow) -> Markup {
    html! {
        @match &row.contact {
            Some(contact) => a.contact href={ "/card?id=" (contact.id) "&typecont=" (contact.kind.as_str()) } { (super::pages::display_name(contact)) },
            None => span.anonymous { "anonimowy" },
        }
    }
}

fn visitors_page(
    chrome: &Chrome,
    query: &VisitorQuery,
    found: &domain::Page<VisitorRow>,
    domains: &[String],
) -> Markup {
    let site = query.domain.as_deref().unwrap_or_default();
    let url = query.url.as_deref().unwrap_or_default();
    let base = format!(
        "/visitors?anonymous={}&domain={}&url={}",
        if query.anonymous_only { "1" } else { "" },
        urlencode(site),
        urlencode(url)
    );
    layout(
        Some(chrome),
        "Odwiedzający",
        html! {
            h1 { "Odwiedzający" }
            form.search method="get" action="/visitors" {
                label.check { input type="checkbox" name="anonymous" value="1" checked[query.anonymous_only]; "Tylko anonimowi" }
                label { "Domena"
                    select name="domain" {
                        option value="" selected[site.is_empty()] { "Wszystkie" }
                        @for name in domains { option value=(name) selected[name == site] { (name) } }
                    }
                }
                label { "Odwiedzona strona (fragment adresu)" input type="search" name="url" value=(url) placeholder="/product/3"; }
                button type="submit" { "Filtruj" }
            }
            p.count { span data-metric="visitors-listed" { (found.total) } " odwiedzających" }
            @if found.items.is_empty() {
                p.empty { "Brak odwiedzających." }
            } @else {
                div.scroll {
                    table.visitors {
                        thead { tr { th { "Identyfikator (suid)" } th { "Pierwsza wizyta" } th { "Ostatnia wizyta" } th.count { "Odsłony" } th { "Domena" } th { "Kontakt" } } }
                        tbody {
                            @for row in &found.items {
                                tr data-suid=(row.visitor.suid.to_string()) {
                                    td { a.suid href={ "/visitors/" (row.visitor.suid.to_string()) } { code { (row.visitor.suid.to_string()) } } }
                                    td { (time(row.visitor.first_seen)) }
                                    td { (time(row.visitor.last_seen)) }
                                    td.count data-metric="visitor-pageviews" { (row.page_views) }
                                    td.site { (row.site) }
                                    td { (contact_cell(row)) }
                                }
                            }
                        }
                    }
                }
            }
            (pager(&base, found.page, found.pages))
        },
    )
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<i64>,
}

async fn visitor(
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let not_found = || {
        respond(
            StatusCode::NOT_FOUND,
            super::pages::message(
                Some(&admin.chrome()),
                "Nie znaleziono",
                "Nie ma takiego odwiedzającego.",
            ),
        )
    };
    let Some(suid) = Suid::parse(path.trim()) else {
        return not_found();
    };
    let account = admin.0.account;
    let paging = Paging::new(query.page, Some(50));
    match off_workers(&state, move |store| {
        domain::view_visitor(store, account, suid, paging)
    })
    .await
    {
        Ok(Some(detail)) => page(visitor_page(&admin.chrome(), &detail)),
        Ok(None) => not_found(),
        Err(failed) => failed,
    }
}

fn cause_label(cause: domain::LinkCause) -> &'static str {
    match cause {
        domain::LinkCause::ContactsAdd => "rejestracja (suid w contacts/add)",
        domain::LinkCause::TrackUser => "trackUser",
        domain::LinkCause::VerifiedTrackUser => "trackUser z weryfikacją",
    }
}

fn visitor_page(chrome: &Chrome, detail: &VisitorDetail) -> Markup {
    let row = &detail.row;
    let suid = row.visitor.suid.to_string();
    layout(
        Some(chrome),
        "Odwiedzający",
        html! {
            h1 { "Odwiedzający " code.suid { (suid) } }
            dl.fields {
                dt { "Kontakt" } dd { (contact_cell(row)) }
                @if let (Some(link), Some(_)) = (row.visitor.link, &row.contact) {
                    dt { "Zidentyfikowany" } dd { (time(link.at)) ", " (cause_label(link.cause)) }
                }
                dt { "Pierwsza wizyta" } dd { (time(row.visitor.first_seen)) }
                dt { "Ostatnia wizyta" } dd { (time(row.visitor.last_seen)) }
                dt { "Odsłony" } dd data-metric="visitor-pageviews" { (row.page_views) }
                dt { "Domena" } dd { (row.site) }
            }
            h2 { "Historia" }
            @if detail.timeline.items.is_empty() {
                p.empty { "Brak odsłon i zdarzeń." }
            } @else {
                ol.timeline {
                    @for entry in &detail.timeline.items {
                        @match entry {
                            TimelineEntry::PageView(view) => (page_view_item(view)),
                            TimelineEntry::Event(event) => (event_item(event)),
                            TimelineEntry::Activity(_) | TimelineEntry::Rule(_) => {},
                        }
                    }
                }
                (pager(&format!("/visitors/{suid}"), detail.timeline.page, detail.timeline.pages))
            }
            p { a href="/visitors" { "← Odwiedzający" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_a_bar_a_marker_and_an_axis_label_per_day() {
        let days: Vec<DayPoint> = (0..7)
            .map(|n| DayPoint {
                day: 20_000 + n,
                page_views: u64::from(n) * 3,
                visitors: u64::from(n),
            })
            .collect();
        let svg = chart(&days).into_string();
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 7);
        assert_eq!(svg.matches("<rect class=\"marker\"").count(), 7);
        assert!(svg.contains("<polyline class=\"visitors\""));
        assert!(
            svg.contains("</rect><text"),
            "SVG elements closed, not nested: {svg}"
        );
    }

    #[test]
    fn the_scale_is_a_round_number_at_or_above_the_maximum() {
        assert_eq!(scale_top(1), 1);
        assert_eq!(scale_top(3), 5);
        assert_eq!(scale_top(11), 20);
        assert_eq!(scale_top(5_001), 10_000);
    }
}
