//! Compatibility: the official SerwerSMS Python client from PyPI (`serwersmsv2api`) drives a
//! full contacts & groups scenario against a real server, unchanged but for its base URL, over
//! HTTP and HTTPS.

use resolver_server::domain::{ContactId, Suid};
use ssrm_tests::{run_python_scenario, spawn_app, spawn_https_app, TestApp};

#[tokio::test]
async fn official_python_client_runs_the_whole_scenario() {
    scenario(spawn_app().await).await;
}

/// The same over HTTPS (rustls, a certificate made for the test, trusted by `requests`).
#[tokio::test]
async fn official_python_client_runs_the_whole_scenario_over_https() {
    let app = spawn_https_app().await;
    assert!(app.base.starts_with("https://"));
    scenario(app).await;
}

async fn scenario(app: TestApp) {
    let shop = app.account("shop");
    let suid = Suid::random();
    let linked = run_python_scenario(&app, &shop.token, suid).await;

    // The suid sent through contacts/add linked the visitor to the contact.
    let contact = ContactId(linked["linked_contact"].as_u64().expect("contact id"));
    let visitor = app
        .store
        .visitor(shop.id(), suid)
        .expect("store")
        .expect("visitor created");
    assert_eq!(visitor.link.map(|link| link.contact), Some(contact));
    let stored = app
        .store
        .contact(shop.id(), contact)
        .expect("store")
        .expect("contact");
    assert_eq!(stored.suid, Some(suid));
}
