//! The tracker's endpoints over real HTTP: the served files and their headers, origin checks
//! and CORS, malformed reports, the trackUser rate limit, and the contact history call.

use resolver_server::domain::{self, Suid};
use serde_json::{json, Value};
use ssrm_tests::{spawn_app, TestAccount, TestApp};

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

#[tokio::test]
async fn the_tracker_files_have_their_types_caching_compression_and_open_cors() {
    let app = spawn_app().await;
    for (path, mime) in [
        ("ssrm.js", "text/javascript; charset=utf-8"),
        ("ssrm_bg.wasm", "application/wasm"),
    ] {
        let plain = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(plain.status(), 200, "{path} (run scripts/build-tracker.sh)");
        assert_eq!(plain.headers()["content-type"], mime);
        assert_eq!(plain.headers()["cache-control"], "public, max-age=300");
        assert_eq!(plain.headers()["access-control-allow-origin"], "*");
        assert!(plain.headers().contains_key("etag"));
        let versioned = app
            .client
            .get(app.url(&format!("{path}?v=3")))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("request");
        assert_eq!(
            versioned.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(versioned.headers()["content-encoding"], "gzip");
    }
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
        ("t/pageview", json!({"suid": suid}).to_string()),
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
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    app.call(
        &shop.token,
        "contacts/add.json",
        json!({"phone": "500600700", "email": "jan@example.com"}),
    )
    .await;
    let mut answers = Vec::new();
    for _ in 0..12 {
        let body = json!({"site": key, "suid": Suid::random().to_string(), "value": "jan@example.com", "hash": null}).to_string();
        let response = send(&app, "t/identify", Some(ORIGIN), &body).await;
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.expect("json");
        answers.push(answer);
    }
    assert!(answers[0]["success"] == json!(true), "{}", answers[0]);
    let limited = answers.last().expect("answers");
    assert_eq!(
        limited["success"],
        json!(false),
        "the 12th call within a minute is refused"
    );
    assert_eq!(
        limited["message"],
        json!("Nie znaleziono kontaktu"),
        "same answer as not found"
    );
    let unknown = json!({"site": "no-such-site", "suid": Suid::random().to_string(), "value": "jan@example.com"}).to_string();
    assert_eq!(
        send(&app, "t/identify", Some(ORIGIN), &unknown)
            .await
            .status(),
        403
    );
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
    let id = app
        .call(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "500600700", "suid": suid.to_string()}),
        )
        .await["id"]
        .clone();
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
