//! The tracker's endpoints over real HTTP: the served files and their headers, origin checks
//! and CORS, malformed reports, trackUser (linking, identity rules, verification, the rate
//! limit), and the contact history call.

use resolver_server::domain::{self, LinkCause, Suid};
use serde_json::{json, Value};
use ssrm_tests::{spawn_app, spawn_app_with, TestAccount, TestApp};
use std::num::NonZeroU32;
use std::time::Duration;

const ORIGIN: &str = "https://shop.example.com";

fn site(app: &TestApp, account: &TestAccount) -> String {
    domain::add_domain(&app.store, account.id(), "shop.example.com")
        .expect("domain")
        .site_key
}

async fn send(
    app: &TestApp,
    endpoint: &str,
    origin: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(endpoint))
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.to_owned());
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.expect("request")
}

/// A trackUser call as the tracker sends it; asserts the 200 and returns the answer.
async fn track_user(
    app: &TestApp,
    origin: &str,
    key: &str,
    suid: Suid,
    value: &str,
    hash: Option<&str>,
) -> Value {
    let body = json!({"site": key, "suid": suid.to_string(), "value": value, "hash": hash});
    let response = send(app, "t/identify", Some(origin), &body.to_string()).await;
    assert_eq!(response.status(), 200, "trackUser always answers 200");
    response.json().await.expect("JSON answer")
}

async fn page_view(app: &TestApp, key: &str, suid: Suid, url: &str) {
    let body =
        json!({"site": key, "suid": suid.to_string(), "url": url, "title": "", "referrer": ""});
    let response = send(app, "t/pageview", Some(ORIGIN), &body.to_string()).await;
    assert_eq!(response.status(), 204);
}

/// Adds a contact through the SerwerSMS API; returns its id.
async fn add_contact(app: &TestApp, account: &TestAccount, fields: Value) -> u64 {
    let answer = app.call(&account.token, "contacts/add.json", fields).await;
    answer["id"].as_u64().expect("contact id")
}

fn link(app: &TestApp, account: &TestAccount, suid: Suid) -> Option<(u64, LinkCause)> {
    app.store
        .visitor(account.id(), suid)
        .expect("store")
        .and_then(|visitor| visitor.link)
        .map(|link| (link.contact.0, link.cause))
}

/// A tracker directory with fake files, for a server that does not need a real build.
fn fake_tracker() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let script = "/* ssrm */ ".repeat(200);
    std::fs::write(dir.path().join("ssrm.js"), script).expect("write script");
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.extend(std::iter::repeat_n(0u8, 4096));
    std::fs::write(dir.path().join("ssrm_bg.wasm"), module).expect("write module");
    // The server sends precompressed files as they are; it never decodes them.
    for name in ["ssrm.js", "ssrm_bg.wasm"] {
        for suffix in ["br", "gz"] {
            let fake = format!("{name} compressed as {suffix}");
            std::fs::write(dir.path().join(format!("{name}.{suffix}")), fake).expect("write");
        }
    }
    dir
}

#[tokio::test]
async fn the_tracker_files_have_their_types_caching_compression_and_open_cors() {
    let files = fake_tracker();
    let tracker_dir = files.path().to_path_buf();
    let app = spawn_app_with(|state| resolver_server::http::AppState {
        tracker_dir,
        ..state
    })
    .await;
    for (path, mime) in [
        ("ssrm.js", "text/javascript; charset=utf-8"),
        ("ssrm_bg.wasm", "application/wasm"),
    ] {
        let plain = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(plain.status(), 200, "{path}");
        assert_eq!(plain.headers()["content-type"], mime);
        assert_eq!(plain.headers()["cache-control"], "public, max-age=300");
        assert_eq!(plain.headers()["access-control-allow-origin"], "*");
        assert!(plain.headers().contains_key("last-modified"));
        let etag = plain.headers()["etag"].clone();
        let revalidated = app
            .client
            .get(app.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .expect("request");
        assert_eq!(revalidated.status(), 304, "{path}");
        for encoding in ["gzip", "br"] {
            let versioned = app
                .client
                .get(app.url(&format!("{path}?v=3")))
                .header("accept-encoding", encoding)
                .send()
                .await
                .expect("request");
            assert_eq!(
                versioned.headers()["cache-control"],
                "public, max-age=31536000, immutable"
            );
            assert_eq!(versioned.headers()["content-encoding"], encoding, "{path}");
        }
    }
}

#[tokio::test]
async fn a_missing_tracker_build_is_404() {
    let empty = tempfile::tempdir().expect("temporary directory");
    let tracker_dir = empty.path().to_path_buf();
    let app = spawn_app_with(|state| resolver_server::http::AppState {
        tracker_dir,
        ..state
    })
    .await;
    let response = app
        .client
        .get(app.url("ssrm.js"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_page_view_from_the_registered_origin_is_stored_and_answered_to_that_origin_only() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let suid = Suid::random();
    let body = json!({"site": key, "suid": suid.to_string(), "url": "https://shop.example.com/a", "title": "A", "referrer": ""}).to_string();
    let accepted = send(
        &app,
        "t/pageview",
        Some("https://www.shop.example.com"),
        &body,
    )
    .await;
    assert_eq!(accepted.status(), 204);
    assert_eq!(
        accepted.headers()["access-control-allow-origin"],
        "https://www.shop.example.com"
    );
    assert_eq!(accepted.headers()["vary"], "Origin");
    for origin in [
        Some("https://evil.example.com"),
        Some("https://shop.example.com.evil.net"),
        Some("null"),
        None,
    ] {
        let refused = send(&app, "t/pageview", origin, &body).await;
        assert_eq!(refused.status(), 403, "{origin:?}");
        assert!(!refused
            .headers()
            .contains_key("access-control-allow-origin"));
    }
    let views = domain::visitor_page_views(&app.store, shop.id(), suid).expect("views");
    assert_eq!(
        views.iter().map(|v| v.url.as_str()).collect::<Vec<_>>(),
        ["https://shop.example.com/a"]
    );
}

#[tokio::test]
async fn malformed_reports_are_400_and_store_nothing() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let suid = Suid::random().to_string();
    let cases = [
        ("t/pageview", "{not json".to_owned()),
        // (A report without `site` is fine: the origin decides; tests/site_by_origin.rs.)
        ("t/pageview", json!({"site": 5, "suid": suid}).to_string()),
        (
            "t/pageview",
            json!({"site": key, "suid": "not-a-uuid", "url": "x"}).to_string(),
        ),
        (
            "t/pageview",
            json!({"site": key, "suid": suid, "url": ["x"]}).to_string(),
        ),
        (
            "t/pageview",
            json!({"site": key, "suid": suid, "url": "u".repeat(3000)}).to_string(),
        ),
        (
            "t/event",
            json!({"site": key, "suid": suid, "name": "x", "props": "not an object"}).to_string(),
        ),
        (
            "t/event",
            json!({"site": key, "suid": suid, "name": "", "props": {}}).to_string(),
        ),
    ];
    for (endpoint, body) in cases {
        let response = send(&app, endpoint, Some(ORIGIN), &body).await;
        assert_eq!(
            response.status(),
            400,
            "{endpoint} {}",
            &body[..body.len().min(80)]
        );
    }
    let huge = send(&app, "t/pageview", Some(ORIGIN), &"x".repeat(100_000)).await;
    assert_eq!(huge.status(), 413);
    let suid = Suid::parse(&suid).expect("suid");
    assert!(domain::visitor_page_views(&app.store, shop.id(), suid)
        .expect("views")
        .is_empty());
    assert!(app.store.visitor(shop.id(), suid).expect("store").is_none());
}

#[tokio::test]
async fn preflight_names_the_origin() {
    let app = spawn_app().await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("t/identify"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("preflight");
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
}

#[tokio::test]
async fn track_user_is_rate_limited_with_the_not_found_answer() {
    let app = spawn_app_with(|state| {
        state.with_identify_limit(
            NonZeroU32::new(2).expect("not zero"),
            Duration::from_secs(3600),
        )
    })
    .await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "email": "jan@example.com"}),
    )
    .await;
    for _ in 0..2 {
        let answer = track_user(&app, ORIGIN, &key, Suid::random(), "jan@example.com", None).await;
        assert_eq!(answer["success"], json!(true), "{answer}");
    }
    let device = Suid::random();
    let limited = track_user(&app, ORIGIN, &key, device, "jan@example.com", None).await;
    assert_eq!(
        limited,
        json!({"success": false, "suid": device.to_string(), "message": "Nie znaleziono kontaktu"}),
        "the third call is refused with the not-found answer"
    );
    assert_eq!(link(&app, &shop, device), None);
}

#[tokio::test]
async fn track_user_by_email_links_an_anonymous_visitor_and_answers_the_canonical_suid() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let canonical = Suid::random();
    let id = add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "email": "jan@example.com", "suid": canonical.to_string()}),
    )
    .await;
    let device = Suid::random();
    page_view(&app, &key, device, "https://shop.example.com/login").await;
    let body = json!({"site": key, "suid": device.to_string(), "value": " Jan@Example.com ", "hash": null});
    let response = send(&app, "t/identify", Some(ORIGIN), &body.to_string()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
    assert!(!response
        .headers()
        .contains_key("access-control-allow-credentials"));
    let answer: Value = response.json().await.expect("JSON answer");
    assert_eq!(
        answer,
        json!({"success": true, "suid": canonical.to_string(), "message": "Kontakt pobrany"})
    );
    assert_eq!(link(&app, &shop, device), Some((id, LinkCause::TrackUser)));
    let history = app
        .call(&shop.token, "contacts/history.json", json!({"id": id}))
        .await;
    assert_eq!(
        history["items"][0]["url"],
        json!("https://shop.example.com/login"),
        "the new device's page views joined the contact"
    );
}

#[tokio::test]
async fn track_user_by_a_phone_typed_without_the_country_code_finds_the_contact() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let id = add_contact(&app, &shop, json!({"phone": "+48500600700"})).await;
    let device = Suid::random();
    let answer = track_user(&app, ORIGIN, &key, device, "500 600 700", None).await;
    assert_eq!(
        answer,
        json!({"success": true, "suid": device.to_string(), "message": "Kontakt pobrany"}),
        "a contact without a suid takes the visitor's"
    );
    assert_eq!(link(&app, &shop, device), Some((id, LinkCause::TrackUser)));
    // The contact keeps that suid: a second device (the link does not rewrite a contact that
    // already has its suid) is answered the first one's, and the first device again too.
    let second = Suid::random();
    for visitor in [second, device] {
        let again = track_user(&app, ORIGIN, &key, visitor, "500 600 700", None).await;
        assert_eq!(again["suid"], json!(device.to_string()), "{again}");
        assert_eq!(link(&app, &shop, visitor), Some((id, LinkCause::TrackUser)));
    }
    let contact =
        domain::view_contact(&app.store, shop.id(), domain::ContactId(id)).expect("contact");
    assert_eq!(contact.suid, Some(device));
}

#[tokio::test]
async fn track_user_with_an_unknown_or_placeholder_value_links_nothing() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    add_contact(&app, &shop, json!({"phone": "500600700"})).await;
    let device = Suid::random();
    page_view(&app, &key, device, "https://shop.example.com/").await;
    for value in [
        "nobody@example.com",
        "600000000",
        "undefined",
        "guest",
        "0",
        "",
    ] {
        let answer = track_user(&app, ORIGIN, &key, device, value, None).await;
        assert_eq!(
            answer,
            json!({"success": false, "suid": device.to_string(), "message": "Nie znaleziono kontaktu"}),
            "{value:?}"
        );
    }
    assert_eq!(link(&app, &shop, device), None);
}

#[tokio::test]
async fn a_visitor_linked_to_one_contact_is_not_relinked_to_another() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let device = Suid::random();
    let first = add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "suid": device.to_string()}),
    )
    .await;
    let canonical = Suid::random();
    add_contact(
        &app,
        &shop,
        json!({"phone": "600700800", "email": "b@example.com", "suid": canonical.to_string()}),
    )
    .await;
    let answer = track_user(&app, ORIGIN, &key, device, "b@example.com", None).await;
    assert_eq!(
        (answer["success"].clone(), answer["suid"].clone()),
        (json!(true), json!(canonical.to_string())),
        "the cookie may move to the other contact"
    );
    assert_eq!(
        link(&app, &shop, device),
        Some((first, LinkCause::ContactsAdd)),
        "but the visitor stays with its contact"
    );
}

/// An app with account `shop`, its site (the key) and a contact jan@example.com, 500600700.
async fn shop_with_jan() -> (TestApp, TestAccount, String) {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    add_contact(
        &app,
        &shop,
        json!({"email": "jan@example.com", "phone": "500600700"}),
    )
    .await;
    (app, shop, key)
}

#[tokio::test]
async fn reports_from_an_unregistered_origin_store_nothing() {
    let (app, shop, key) = shop_with_jan().await;
    let device = Suid::random();
    let foreign = "https://evil.example.net";
    let event =
        json!({"site": key, "suid": device.to_string(), "name": "x", "props": {}, "url": ""});
    assert_eq!(
        send(&app, "t/event", Some(foreign), &event.to_string())
            .await
            .status(),
        403
    );
    let identify = json!({"site": key, "suid": device.to_string(), "value": "jan@example.com"});
    let response = send(&app, "t/identify", Some(foreign), &identify.to_string()).await;
    assert_eq!(response.status(), 200);
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
    let answer: Value = response.json().await.expect("JSON answer");
    assert_eq!(
        answer,
        json!({"success": false, "suid": device.to_string(), "message": "Nie znaleziono kontaktu"})
    );
    let unknown_site = track_user(
        &app,
        ORIGIN,
        "no-such-site",
        device,
        "jan@example.com",
        None,
    )
    .await;
    assert_eq!(unknown_site["success"], json!(false));
    assert!(app
        .store
        .visitor(shop.id(), device)
        .expect("store")
        .is_none());
}

#[tokio::test]
async fn a_domain_that_requires_verification_accepts_only_the_right_hash() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    site(&app, &shop);
    let strict = domain::require_hash(&app.store, shop.id(), "shop.example.com").expect("require");
    let id = add_contact(
        &app,
        &shop,
        json!({"email": "jan@example.com", "phone": "500600700"}),
    )
    .await;
    let device = Suid::random();
    for hash in [None, Some("00"), Some(&*"a".repeat(64))] {
        let answer = track_user(
            &app,
            ORIGIN,
            &strict.site_key,
            device,
            "jan@example.com",
            hash,
        )
        .await;
        assert_eq!(
            answer,
            json!({"success": false, "suid": device.to_string(), "message": "Nie znaleziono kontaktu"}),
            "{hash:?}"
        );
    }
    assert_eq!(link(&app, &shop, device), None);
    let right = domain::identity_hash(&strict.secret, "jan@example.com");
    let answer = track_user(
        &app,
        ORIGIN,
        &strict.site_key,
        device,
        "JAN@example.com",
        Some(&right),
    )
    .await;
    assert_eq!(answer["success"], json!(true), "{answer}");
    assert_eq!(
        link(&app, &shop, device),
        Some((id, LinkCause::VerifiedTrackUser))
    );
}

#[tokio::test]
async fn an_english_site_answers_in_english() {
    let app = spawn_app().await;
    let account =
        domain::create_account_with_language(&app.store, "shop", None, domain::Language::En)
            .expect("account");
    let key = domain::add_domain(&app.store, account.id, "shop.example.com")
        .expect("domain")
        .site_key;
    let answer = track_user(
        &app,
        ORIGIN,
        &key,
        Suid::random(),
        "nobody@example.com",
        None,
    )
    .await;
    assert_eq!(answer["message"], json!("Contact not found"));
}

#[tokio::test]
async fn a_malformed_track_user_is_400() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    for body in [
        "{".to_owned(),
        json!({"site": key, "suid": "x", "value": "jan@example.com"}).to_string(),
        json!({"site": key, "value": "jan@example.com"}).to_string(),
        json!({"site": key, "suid": Suid::random().to_string(), "value": "a", "hash": 5})
            .to_string(),
    ] {
        let response = send(&app, "t/identify", Some(ORIGIN), &body).await;
        assert_eq!(response.status(), 400, "{body}");
        assert!(!response.text().await.expect("reason").is_empty());
    }
}

#[tokio::test]
async fn history_lists_the_linked_visitors_page_views_and_events_newest_first() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let suid = Suid::random();
    let view = json!({"site": key, "suid": suid.to_string(), "url": "https://shop.example.com/p/1", "title": "Kubek", "referrer": ""}).to_string();
    assert_eq!(
        send(&app, "t/pageview", Some(ORIGIN), &view).await.status(),
        204
    );
    let event = json!({"site": key, "suid": suid.to_string(), "name": "add_to_cart", "props": {"product": 1}, "url": "https://shop.example.com/p/1"}).to_string();
    assert_eq!(
        send(&app, "t/event", Some(ORIGIN), &event).await.status(),
        204
    );
    let id = add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "suid": suid.to_string()}),
    )
    .await;
    let history = app
        .call(&shop.token, "contacts/history.json", json!({"id": id}))
        .await;
    assert_eq!(history["paging"], json!({"page": 1, "count": 1}));
    let items = history["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(
        (
            items[0]["type"].clone(),
            items[0]["name"].clone(),
            items[0]["props"].clone()
        ),
        (json!("event"), json!("add_to_cart"), json!({"product": 1}))
    );
    assert_eq!(
        (
            items[1]["type"].clone(),
            items[1]["url"].clone(),
            items[1]["title"].clone()
        ),
        (
            json!("pageview"),
            json!("https://shop.example.com/p/1"),
            json!("Kubek")
        )
    );
    let other = app.account("other");
    assert_eq!(
        app.call(&other.token, "contacts/history.json", json!({"id": id}))
            .await["error"]["code"],
        json!(1004)
    );
}

/// trackUser tallies are gathered in memory and written by the next flush, a site's calls of
/// one outcome and day as one tally with their count (`store/tallies.rs`): concurrent calls
/// are all counted, none twice, including those no flush was asked for (not found).
#[tokio::test]
async fn every_track_user_call_is_counted_once_on_the_dashboard() {
    let (app, shop, key) = shop_with_jan().await;
    // Ten calls: the trackUser limit's burst for one client.
    let calls = (0..10).map(|n| {
        let (app, key) = (&app, &key);
        async move {
            let value = if n % 5 == 0 {
                "jan@example.com".to_owned()
            } else {
                format!("nobody{n}@example.com")
            };
            track_user(app, ORIGIN, key, Suid::random(), &value, None).await
        }
    });
    let answers = futures_util::future::join_all(calls).await;
    let found = answers
        .iter()
        .filter(|answer| answer["success"] == json!(true))
        .count();
    assert_eq!(found, 2, "{answers:?}");
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let dashboard =
        domain::traffic_dashboard(&app.store, shop.id(), domain::Period::Today, None, now)
            .expect("dashboard");
    assert_eq!(dashboard.totals.track_user.found, 2);
    assert_eq!(dashboard.totals.track_user.not_found, 8);
    assert_eq!(dashboard.totals.track_user.refused, 0);
    // Counted once: folding again adds nothing.
    domain::fold_traffic(&app.store, shop.id()).expect("fold");
    let again = domain::traffic_dashboard(&app.store, shop.id(), domain::Period::Today, None, now)
        .expect("dashboard");
    assert_eq!(again.totals.track_user, dashboard.totals.track_user);
}
