//! Reports without a site key (the seed's snippet has no `setSite`): the page's `Origin`
//! decides the site when exactly one account registered the longest domain matching it.

use resolver_server::domain::{self, Suid};
use serde_json::{json, Value};
use ssrm_tests::{spawn_app, TestApp};

async fn send(app: &TestApp, endpoint: &str, origin: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(endpoint))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("origin", origin)
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn reports_without_a_site_go_to_the_account_of_the_longest_matching_domain() {
    let app = spawn_app().await;
    let parent = app.account("parent");
    let shop = app.account("shop");
    domain::add_domain(&app.store, parent.id(), "example.com").expect("domain");
    domain::add_domain(&app.store, shop.id(), "shop.example.com").expect("domain");
    let suid = Suid::random();
    // No `site`, `null` and `""` all mean "the origin decides".
    for (site, path) in [
        (None, "/a"),
        (Some(Value::Null), "/b"),
        (Some(json!("")), "/c"),
    ] {
        let mut body =
            json!({"suid": suid.to_string(), "url": format!("https://m.shop.example.com{path}")});
        if let Some(site) = site {
            body["site"] = site;
        }
        let response = send(&app, "t/pageview", "https://m.shop.example.com", body).await;
        assert_eq!(response.status(), 204);
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "https://m.shop.example.com"
        );
    }
    let event = json!({"suid": suid.to_string(), "name": "cart", "props": {"n": 1}, "url": "https://m.shop.example.com/c"});
    assert_eq!(
        send(&app, "t/event", "https://m.shop.example.com", event)
            .await
            .status(),
        204
    );
    let views = domain::visitor_page_views(&app.store, shop.id(), suid).expect("views");
    assert_eq!(views.len(), 3, "all in the shop's account");
    assert!(app
        .store
        .visitor(parent.id(), suid)
        .expect("store")
        .is_none());

    // The parent domain's other hosts are the parent account's.
    let other = Suid::random();
    let body = json!({"suid": other.to_string(), "url": "https://blog.example.com/"});
    assert_eq!(
        send(&app, "t/pageview", "https://blog.example.com", body)
            .await
            .status(),
        204
    );
    assert_eq!(
        domain::visitor_page_views(&app.store, parent.id(), other)
            .expect("views")
            .len(),
        1
    );

    // An origin nobody registered: refused, stored nowhere.
    let stranger = Suid::random();
    let body = json!({"suid": stranger.to_string(), "url": "https://example.org/"});
    let refused = send(&app, "t/pageview", "https://example.org", body).await;
    assert_eq!(refused.status(), 403);
    for account in [&parent, &shop] {
        assert!(app
            .store
            .visitor(account.id(), stranger)
            .expect("store")
            .is_none());
    }
}

#[tokio::test]
async fn track_user_without_a_site_finds_the_contact_of_the_origins_account() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    domain::add_domain(&app.store, shop.id(), "shop.example.com").expect("domain");
    let canonical = Suid::random().to_string();
    app.call(
        &shop.token,
        "contacts/add.json",
        json!({"phone": "+48500000000", "suid": canonical}),
    )
    .await;
    let device = Suid::random();
    let body = json!({"suid": device.to_string(), "value": "+48500000000", "hash": null});
    let response = send(&app, "t/identify", "https://shop.example.com", body.clone()).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(
        answer,
        json!({"success": true, "suid": canonical, "message": "Kontakt pobrany"})
    );
    let elsewhere: Value = send(&app, "t/identify", "https://other.example.com", body)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(elsewhere["success"], json!(false));
}
