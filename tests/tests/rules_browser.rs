//! The seed's promise in a real browser: a visitor browses the demo shop anonymously on a new
//! device, logs in (trackUser), and a rule counting what it did before fires once, with the
//! contact's data, at a real webhook receiver.

use resolver_server::domain::{self, ContactId, DeliveryState};
use serde_json::json;
use ssrm_tests::browser::{eventually, Browser};
use ssrm_tests::receivers::Receiver;
use ssrm_tests::site::Site;
use std::time::Duration;

#[tokio::test]
async fn products_viewed_anonymously_on_a_new_device_fire_the_rule_at_login() {
    let site = Site::start().await;
    let hook = Receiver::webhook(&[]);
    let group =
        domain::add_group(&site.app.store, site.account(), "Zainteresowani").expect("group");
    let rule = json!({
        "name": "Produkt 3 razy",
        "when": {"pageview": {"url_contains": "/product/"}, "count": 3, "within_days": 7},
        "then": [{"add_to_group": group.id}, {"webhook": {"url": hook.base, "secret": "0123456789abcdef0123"}}]
    });
    let id = domain::add_rule(
        &site.app.store,
        site.account(),
        domain::parse_rule(&rule.to_string()).expect("rule"),
    )
    .expect("saved")
    .rule
    .id;
    let added = site
        .app
        .call(
            &site.owner.token,
            "contacts/add.json",
            json!({"phone": "+48500600700", "email": "ewa@example.com", "first_name": "Ewa"}),
        )
        .await;
    let contact = ContactId(added["id"].as_u64().expect("id"));

    let browser = Browser::start().await;
    for path in ["/product/1", "/product/2", "/product/1"] {
        browser.goto(&site.shop(path)).await;
        browser.wait_for_tracker().await;
    }
    let anonymous = browser.suid_cookie().await.expect("cookie");
    eventually(|| async { Some(()).filter(|()| site.page_views(&anonymous).len() >= 3) }).await;
    let fired = |site: &Site| {
        site.app
            .store
            .rule_stats(site.account(), id)
            .expect("stats")
            .fired
    };
    assert_eq!(fired(&site), 0, "an anonymous visitor fires nothing");

    browser.goto(&site.shop("/login")).await;
    browser.wait_for_tracker().await;
    browser.eval("document.getElementById('login').value = 'ewa@example.com'; document.querySelector('#login-form button').click(); return true;").await;
    browser
        .wait_until("return document.getElementById('login-result').hasAttribute('data-success');")
        .await;
    let requests = hook.wait_for(1, Duration::from_secs(15)).await;
    let body = requests[0].json();
    assert_eq!(body["contact"]["id"], contact.0);
    assert_eq!(body["contact"]["first_name"], "Ewa");
    assert_eq!(body["trigger"]["type"], "pageview");
    assert!(body["trigger"]["url"]
        .as_str()
        .is_some_and(|url| url.contains("/product/")));
    assert_eq!(fired(&site), 1);
    let member = eventually(|| async {
        let deliveries = site
            .app
            .store
            .contact_deliveries(site.account(), contact)
            .expect("deliveries");
        Some(deliveries)
            .filter(|d| d.len() == 2 && d.iter().all(|d| d.state == DeliveryState::Delivered))
    })
    .await;
    assert_eq!(member.len(), 2);
    // More product views after the login do not fire it again.
    browser.goto(&site.shop("/product/3")).await;
    browser.wait_for_tracker().await;
    assert_eq!(fired(&site), 1);
    assert_eq!(hook.requests().len(), 1);
    browser.close().await;
}
