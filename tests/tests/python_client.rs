//! Compatibility: the official SerwerSMS Python client from PyPI (`serwersmsv2api`) drives a
//! full contacts & groups scenario against a real server, unchanged but for its base URL.

use resolver_server::domain::{ContactId, Suid};
use ssrm_tests::{python_with_serwersms_client, repository_root, spawn_app};
use std::process::Command;

#[tokio::test]
async fn official_python_client_runs_the_whole_scenario() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let suid = Suid::random();
    let python = tokio::task::spawn_blocking(python_with_serwersms_client)
        .await
        .expect("venv");
    let script = repository_root().join("tests/python/serwersms_client_scenario.py");
    let base = format!("{}/", app.base);
    let token = shop.token.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(base)
            .arg(token)
            .arg(suid.to_string())
            .output()
            .expect("python runs")
    })
    .await
    .expect("scenario");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.lines().any(|line| line == "scenario ok"), "{stdout}");

    // The suid sent through contacts/add linked the visitor to the contact.
    let linked: serde_json::Value =
        serde_json::from_str(stdout.lines().next().expect("first line")).expect("json line");
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
