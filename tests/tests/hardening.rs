//! What a hostile client tried, over real HTTP against a real server: open redirects after
//! login, brute-forcing passwords through every API, `javascript:` links, text XML cannot hold,
//! form values that are not UTF-8, flooding the tracker, and bodies that never finish.

use base64::Engine as _;
use reqwest::redirect::Policy;
use resolver_server::domain::{IngestLimits, Suid};
use resolver_server::http::ClientAddress;
use serde_json::{json, Value};
use ssrm_tests::{admin_login, error_code, spawn_app, spawn_app_with, TestAccount, TestApp};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ORIGIN: &str = "https://shop.example.com";

fn browser_like() -> reqwest::Client {
    browser_from(1)
}

/// A browser-like client (cookies kept, redirects not followed) that a server behind a proxy
/// sees at `192.0.2.{address}` (the admin login is also rate-limited per address).
fn browser_from(address: u8) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        format!("192.0.2.{address}").parse().expect("header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"]
        .to_str()
        .expect("ASCII location")
        .to_owned()
}

// ----- 1, 2: the redirect after login -----

#[tokio::test]
async fn a_next_that_a_browser_reads_as_another_site_lands_on_the_contact_list() {
    let app = spawn_app_with(|state| resolver_server::http::AppState {
        client_address: ClientAddress::Forwarded,
        ..state
    })
    .await;
    let shop = app.account("shop");
    let credentials = (shop.username.as_str(), shop.password.as_str());
    // Through the login page's own hidden field (as a victim's browser would).
    for (index, query) in [
        "next=/%09/evil.example",
        "next=/%0a/evil.example",
        "next=/%0d%0a/evil.example",
        "next=//evil.example",
        "next=/%5Cevil.example",
        "next=https://evil.example/",
    ]
    .into_iter()
    .enumerate()
    {
        let client = browser_from(10 + u8::try_from(index).expect("few cases"));
        let response = admin_login(&app, &client, query, credentials, None).await;
        assert_eq!(response.status(), 303, "{query}");
        assert_eq!(location(&response), "/", "{query}");
    }
    // Posted directly, raw characters included: never a 500, never another site.
    for (index, next) in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/ /evil.example",
        "/\\evil.example",
        "/\u{0}/x",
    ]
    .into_iter()
    .enumerate()
    {
        let client = browser_from(20 + u8::try_from(index).expect("few cases"));
        let response = admin_login(&app, &client, "", credentials, Some(next)).await;
        assert_eq!(response.status(), 303, "{next:?}");
        let target = location(&response);
        assert!(
            target.starts_with('/') && !target.starts_with("//") && !target.contains('\\'),
            "{next:?} → {target}"
        );
        // The session the redirect carries works: nothing was half done.
        let contacts = client.get(app.url(&target)).send().await.expect("page");
        assert_ne!(contacts.status(), 500, "{next:?} → {target}");
        assert_eq!(
            client
                .get(app.url("contacts"))
                .send()
                .await
                .expect("contacts")
                .status(),
            200,
            "{next:?}"
        );
    }
    // A path on this site still comes back, percent-encoded where it must be.
    let client = browser_from(30);
    let response = admin_login(
        &app,
        &client,
        "next=%2Fcard%3Fid%3D7%26q%3Dja%C5%BA%C5%84",
        credentials,
        None,
    )
    .await;
    assert_eq!(location(&response), "/card?id=7&q=ja%C5%BA%C5%84");
}

// ----- 3: brute force through every API -----

/// A server whose throttle trips after three failures (the default ten, in unit tests, costs
/// argon2 time in a debug build).
async fn throttled_app() -> TestApp {
    spawn_app_with(|state| state.with_login_throttle(3, Duration::from_secs(600))).await
}

async fn serwersms_password_login(app: &TestApp, username: &str, password: &str) -> Value {
    app.form(
        "groups/index.json",
        &format!("username={username}&password={password}"),
    )
    .await
}

#[tokio::test]
async fn serwersms_refuses_the_right_password_after_the_limit_but_not_the_token() {
    let app = throttled_app().await;
    let shop = app.account("shop");
    let other = app.account("other");
    assert!(serwersms_password_login(&app, "shop", &shop.password)
        .await
        .get("error")
        .is_none());
    for _ in 0..3 {
        let answer = serwersms_password_login(&app, "shop", "wrong-password").await;
        assert_eq!(error_code(&answer), Some(1001));
    }
    let answer = serwersms_password_login(&app, "shop", &shop.password).await;
    assert_eq!(
        error_code(&answer),
        Some(1001),
        "the right password is refused too"
    );
    // The token of the same user, and another user from the same address, still get in.
    assert!(app
        .call(&shop.token, "groups/index.json", json!({}))
        .await
        .get("error")
        .is_none());
    assert!(serwersms_password_login(&app, "other", &other.password)
        .await
        .get("error")
        .is_none());
}

async fn thulium_status(app: &TestApp, login: &str, password: &str) -> reqwest::Response {
    app.client
        .get(app.url("api/outbounds/1/statuses"))
        .basic_auth(login, Some(password))
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn thulium_answers_429_with_retry_after_after_the_limit() {
    let app = throttled_app().await;
    let shop = app.account("shop");
    for _ in 0..3 {
        assert_eq!(
            thulium_status(&app, "shop", "wrong-password")
                .await
                .status(),
            401
        );
    }
    let refused = thulium_status(&app, "shop", &shop.password).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("seconds");
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["code"], 1001);
    // The scheme in another case, with the account's token in place of the password.
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("shop:{}", shop.token));
    let by_token = app
        .client
        .get(app.url("api/outbounds/1/statuses"))
        .header("authorization", format!("BASIC {encoded}"))
        .send()
        .await
        .expect("request");
    assert_ne!(by_token.status(), 401);
    assert_ne!(by_token.status(), 429);
}

async fn telefum_find(app: &TestApp, login: &str, password: &str) -> String {
    app.client
        .get(app.url(&format!(
            "rest?typereq=find&phone=500600700&login={login}&password={password}"
        )))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn telefum_answers_its_bad_login_error_after_the_limit() {
    let app = throttled_app().await;
    let shop = app.account("shop");
    let bad_login = "Неправильный логин или пароль";
    assert!(!telefum_find(&app, "shop", &shop.password)
        .await
        .contains(bad_login));
    for _ in 0..3 {
        assert!(telefum_find(&app, "shop", "wrong-password")
            .await
            .contains(bad_login));
    }
    assert!(telefum_find(&app, "shop", &shop.password)
        .await
        .contains(bad_login));
    assert!(!telefum_find(&app, "shop", &shop.token)
        .await
        .contains(bad_login));
}

#[tokio::test]
async fn admin_login_answers_429_with_retry_after_after_the_limit() {
    let app = throttled_app().await;
    let shop = app.account("shop");
    let client = browser_like();
    for _ in 0..3 {
        let response = admin_login(&app, &client, "", ("shop", "wrong-password"), None).await;
        assert_eq!(response.status(), 401);
    }
    let refused = admin_login(&app, &client, "", ("shop", &shop.password), None).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(refused
        .text()
        .await
        .expect("html")
        .contains("Za dużo nieudanych prób"));
}

// ----- 4: links on the contact card -----

fn site_key(app: &TestApp, account: &TestAccount) -> String {
    resolver_server::domain::add_domain(&app.store, account.id(), "shop.example.com")
        .expect("domain")
        .site_key
}

/// Sends a report and asserts it was taken (204).
async fn accepted(app: &TestApp, endpoint: &str, body: &Value) {
    assert_eq!(
        report(app, endpoint, body, "192.0.2.1").await.status(),
        204,
        "{body}"
    );
}

/// Adds a contact with visitor `suid` through the SerwerSMS API; returns its id.
async fn contact_with_visitor(app: &TestApp, account: &TestAccount, suid: Suid) -> u64 {
    let added = app
        .call(
            &account.token,
            "contacts/add.json",
            json!({"phone": "500600700", "first_name": "Ewa", "suid": suid.to_string()}),
        )
        .await;
    added["id"].as_u64().expect("contact id")
}

async fn report(app: &TestApp, endpoint: &str, body: &Value, from: &str) -> reqwest::Response {
    app.client
        .post(app.url(endpoint))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("origin", ORIGIN)
        .header("x-forwarded-for", from)
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn only_http_and_https_page_views_become_links_on_the_card() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site_key(&app, &shop);
    let suid = Suid::random();
    for url in [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://shop.example.com/koszyk",
    ] {
        let view =
            json!({"site": key, "suid": suid.to_string(), "url": url, "title": "", "referrer": ""});
        accepted(&app, "t/pageview", &view).await;
    }
    let id = contact_with_visitor(&app, &shop, suid).await;
    let client = browser_like();
    let login = admin_login(&app, &client, "", ("shop", &shop.password), None).await;
    assert_eq!(login.status(), 303);
    let card = client
        .get(app.url(&format!("card?id={id}")))
        .send()
        .await
        .expect("card")
        .text()
        .await
        .expect("html");
    assert!(
        card.contains("href=\"https://shop.example.com/koszyk\""),
        "{card}"
    );
    assert!(!card.contains("href=\"javascript:"), "{card}");
    assert!(!card.contains("href=\"data:"), "{card}");
    assert!(
        card.contains("javascript:alert(1)"),
        "shown as text: {card}"
    );
}

// ----- 5, 6: XML and UTF-8 -----

#[tokio::test]
async fn text_xml_cannot_hold_is_refused_at_the_edge_and_never_breaks_an_xml_answer() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    // Refused where it comes in through an API field.
    for name in ["a\u{0}b", "a\u{FFFE}", "a\u{FFFF}", "a\u{1b}[31m"] {
        let answer = app
            .call(
                &shop.token,
                "contacts/add.json",
                json!({"phone": "500600700", "first_name": name}),
            )
            .await;
        assert_eq!(error_code(&answer), Some(1006), "{name:?}");
    }
    // The tracker stores what it is sent (an event's properties verbatim); the history in XML
    // still parses.
    let key = site_key(&app, &shop);
    let suid = Suid::random();
    let event = json!({"site": key, "suid": suid.to_string(), "name": "x\u{FFFE}y",
        "props": {"nul": "a\u{0}b", "nonchar": "\u{FFFF}", "k\u{0}": 1}, "url": "https://shop.example.com/\u{FFFF}"});
    accepted(&app, "t/event", &event).await;
    let view = json!({"site": key, "suid": suid.to_string(), "url": "https://shop.example.com/", "title": "t\u{0}\u{FFFE}", "referrer": ""});
    accepted(&app, "t/pageview", &view).await;
    let id = contact_with_visitor(&app, &shop, suid).await;
    for (path, body) in [
        ("contacts/history.xml", format!("{{\"id\":{id}}}")),
        ("contacts/index.xml", "{}".to_owned()),
    ] {
        let xml = app
            .client
            .post(app.url(path))
            .bearer_auth(&shop.token)
            .json(&serde_json::from_str::<Value>(&body).expect("JSON"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("text");
        let parsed = roxmltree::Document::parse(&xml)
            .unwrap_or_else(|error| panic!("{path} does not parse ({error}): {xml:?}"));
        assert_eq!(parsed.root_element().tag_name().name(), "response", "{xml}");
    }
    let found = app
        .client
        .get(app.url(&format!(
            "rest?typereq=find&phone=500600700&login=shop&password={}",
            shop.token
        )))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    roxmltree::Document::parse(&found).expect("TelefUM find parses");
}

#[tokio::test]
async fn form_values_that_are_not_utf8_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let answer = app
        .form(
            "contacts/add.json",
            &format!(
                "username=shop&password={}&phone=500600700&first_name=%ff%fe",
                shop.password
            ),
        )
        .await;
    assert_eq!(error_code(&answer), Some(1006), "{answer}");
    let list = app
        .call(&shop.token, "contacts/index.json", json!({}))
        .await;
    assert_eq!(list["items"], json!([]), "{list}");
}

// ----- 7: the ingest quota -----

#[tokio::test]
async fn reports_over_the_quota_are_429_and_store_nothing() {
    let app = spawn_app_with(|state| {
        resolver_server::http::AppState {
            client_address: ClientAddress::Forwarded,
            ..state
        }
        .with_ingest_limits(IngestLimits {
            per_client: 5,
            per_site: None,
        })
    })
    .await;
    let shop = app.account("shop");
    let key = site_key(&app, &shop);
    let suid = Suid::random();
    let view = json!({"site": key, "suid": suid.to_string(), "url": "https://shop.example.com/", "title": "", "referrer": ""});
    let event = json!({"site": key, "suid": suid.to_string(), "name": "click", "url": "https://shop.example.com/"});
    for _ in 0..3 {
        assert_eq!(
            report(&app, "t/pageview", &view, "198.51.100.7")
                .await
                .status(),
            204
        );
    }
    for _ in 0..2 {
        assert_eq!(
            report(&app, "t/event", &event, "198.51.100.7")
                .await
                .status(),
            204
        );
    }
    for endpoint in ["t/pageview", "t/event"] {
        let body = if endpoint == "t/event" { &event } else { &view };
        let refused = report(&app, endpoint, body, "198.51.100.7").await;
        assert_eq!(refused.status(), 429, "{endpoint}");
        assert!(refused.headers().contains_key("retry-after"));
    }
    let stored = app.store.page_views(shop.id(), suid).expect("store").len();
    assert_eq!(stored, 3, "the refused page view is not stored");
    // Another address is counted on its own.
    assert_eq!(
        report(&app, "t/pageview", &view, "198.51.100.8")
            .await
            .status(),
        204
    );
}

// ----- 8: bodies that never finish -----

/// Sends `head` and part of a body that its Content-Length promises more of, then waits for the
/// answer (a deadline guards the test, not the server's timing).
async fn slow_body(app: &TestApp, head: &str, partial: &str) -> String {
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "{head}\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n{partial}",
        partial.len() + 100
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes before the guard")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_body_slower_than_the_deadline_is_cut_off_with_408_on_every_api() {
    let app = spawn_app_with(|state| resolver_server::http::AppState {
        body_timeout: Duration::from_secs(1),
        ..state
    })
    .await;
    let shop = app.account("shop");
    let key = site_key(&app, &shop);
    let campaign = resolver_server::domain::add_campaign(&app.store, shop.id(), "Oddzwonienia")
        .expect("campaign")
        .id;
    let cases = [
        (
            "POST /contacts/index.json HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded".to_owned(),
            "username=shop".to_owned(),
        ),
        (
            format!(
                "POST /api/batch/crm_outbounds/{campaign}/records HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("shop:{}", shop.token))
            ),
            "{\"records\":".to_owned(),
        ),
        (
            "POST /rest HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded".to_owned(),
            "typereq=find".to_owned(),
        ),
        (
            format!("POST /t/pageview HTTP/1.1\r\nContent-Type: text/plain\r\nOrigin: {ORIGIN}"),
            format!("{{\"site\":\"{key}\""),
        ),
        (
            "POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded".to_owned(),
            "username=shop".to_owned(),
        ),
    ];
    for (head, partial) in cases {
        let answer = slow_body(&app, &head, &partial).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{head}: {answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{head}: {answer}"
        );
    }
}
