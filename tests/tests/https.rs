//! HTTPS with rustls and a self-signed certificate made for the test: the tracker's endpoints
//! and the admin pages' cookies (Secure only under HTTPS). The official Python client over
//! HTTPS is in `python_client.rs`.

use resolver_server::domain::{self, Suid};
use serde_json::{json, Value};
use ssrm_tests::spawn_https_app;

#[tokio::test]
async fn a_plain_http_client_is_not_served_on_the_https_port() {
    let app = spawn_https_app().await;
    let plain = app.base.replacen("https://", "http://", 1);
    let answer = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(
        answer.map_or(true, |response| response.status() != 200),
        "plain HTTP answered on the HTTPS port"
    );
    let health = app
        .client
        .get(app.url("healthz"))
        .send()
        .await
        .expect("https");
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn the_tracker_endpoints_work_over_https() {
    const ORIGIN: &str = "https://shop.example.com";
    let app = spawn_https_app().await;
    let shop = app.account("shop");
    let key = domain::add_domain(&app.store, shop.id(), "shop.example.com")
        .expect("domain")
        .site_key;
    let suid = Suid::random();
    let send = |endpoint: &str, body: Value| {
        app.client
            .post(app.url(endpoint))
            .header("origin", ORIGIN)
            .header("content-type", "text/plain;charset=UTF-8")
            .body(body.to_string())
            .send()
    };
    let view = send(
        "t/pageview",
        json!({"site": key, "suid": suid.to_string(), "url": "https://shop.example.com/kubek",
               "title": "Kubek", "referrer": ""}),
    )
    .await
    .expect("pageview");
    assert_eq!(view.status(), 204);
    assert_eq!(view.headers()["access-control-allow-origin"], ORIGIN);
    let event = send(
        "t/event",
        json!({"site": key, "suid": suid.to_string(), "name": "koszyk", "props": {"sku": "k1"}}),
    )
    .await
    .expect("event");
    assert_eq!(event.status(), 204);

    let added = app
        .call(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "500600700", "email": "jan@example.com"}),
        )
        .await;
    let contact = added["id"].as_u64().expect("id");
    let answer: Value = send(
        "t/identify",
        json!({"site": key, "suid": suid.to_string(), "value": "jan@example.com"}),
    )
    .await
    .expect("identify")
    .json()
    .await
    .expect("JSON");
    assert_eq!(answer["success"], true, "{answer}");
    let visitor = app
        .store
        .visitor(shop.id(), suid)
        .expect("store")
        .expect("visitor");
    assert_eq!(visitor.link.map(|link| link.contact.0), Some(contact));
    let views = app.store.page_views(shop.id(), suid).expect("views");
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].url, "https://shop.example.com/kubek");
}

#[tokio::test]
async fn admin_cookies_are_secure_under_https() {
    let app = spawn_https_app().await;
    let shop = app.account("shop");
    let page = app
        .client
        .get(app.url("login"))
        .send()
        .await
        .expect("login page");
    let csrf_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(str::to_owned)
        .find(|value| value.contains("csrf"))
        .expect("login CSRF cookie");
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    let html = page.text().await.expect("html");
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    let csrf = html[start..].split('"').next().expect("value").to_owned();
    let cookie_pair = csrf_cookie.split(';').next().expect("pair").to_owned();
    let login = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(
                &std::fs::read(app.ca_file.as_ref().expect("ca")).expect("read"),
            )
            .expect("PEM"),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(app.url("login"))
        .header("cookie", cookie_pair)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "shop"),
            ("password", shop.password.as_str()),
            ("next", "/contacts"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 303);
    let session = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("ssrm_session="))
        .expect("session cookie")
        .to_owned();
    assert!(
        session.contains("Secure") && session.contains("HttpOnly"),
        "{session}"
    );
}
