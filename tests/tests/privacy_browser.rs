//! Global Privacy Control and Do Not Track in a real Chromium: on a domain that honours them, a
//! browser sending either signal browses the demo shop and logs in, and nothing of it is stored
//! (no visitor, no page view, no link) while the same steps without a signal are.

use resolver_server::domain::{self, Suid};
use serde_json::{json, Value};
use ssrm_tests::browser::Browser;
use ssrm_tests::site::Site;

/// Browses two pages and logs in as `ewa@example.com` (a contact); returns the browser's suid
/// and what trackUser answered, once every report the tracker sent has been answered.
async fn browse_and_log_in(site: &Site, browser: &Browser) -> (Suid, Value) {
    for path in ["/product/1", "/product/2"] {
        browser.goto(&site.shop(path)).await;
        browser.wait_for_tracker().await;
        // The page view's request has been answered (resource timing lists finished fetches).
        browser
            .wait_until("return performance.getEntriesByType('resource').some(e => e.name.endsWith('/t/pageview') && e.responseEnd > 0);")
            .await;
    }
    let suid = browser
        .suid_cookie()
        .await
        .expect("the tracker sets its cookie");
    browser.goto(&site.shop("/login")).await;
    browser.wait_for_tracker().await;
    browser.eval("document.getElementById('login').value = 'ewa@example.com'; document.querySelector('#login-form button').click(); return true;").await;
    browser
        .wait_until("return document.getElementById('login-result').hasAttribute('data-success');")
        .await;
    let success = browser
        .eval("return document.getElementById('login-result').getAttribute('data-success');")
        .await;
    (Suid::parse(&suid).expect("suid"), success)
}

async fn site_honouring_signals() -> Site {
    let site = Site::start().await;
    domain::set_honour_browser_signals(&site.app.store, site.account(), "127.0.0.1", true)
        .expect("honour GPC/DNT");
    site.app
        .call(
            &site.owner.token,
            "contacts/add.json",
            json!({"phone": "+48500600700", "email": "ewa@example.com", "first_name": "Ewa"}),
        )
        .await;
    site
}

fn nothing_stored_for(site: &Site, suid: Suid) {
    assert_eq!(
        site.app
            .store
            .visitor(site.account(), suid)
            .expect("visitor read"),
        None,
        "a browser sending a privacy signal left a visitor"
    );
    assert!(site.page_views(&suid.to_string()).is_empty());
}

#[tokio::test]
async fn a_browser_sending_do_not_track_leaves_nothing_on_a_domain_that_honours_it() {
    let site = site_honouring_signals().await;

    let browser = Browser::start_with_preferences(json!({"enable_do_not_track": true})).await;
    browser.goto(&site.shop("/")).await;
    assert_eq!(
        browser.eval("return navigator.doNotTrack;").await,
        json!("1"),
        "Chromium's own Do Not Track setting is on"
    );
    let (suid, success) = browse_and_log_in(&site, &browser).await;
    browser.close().await;
    assert_eq!(success, json!("false"), "trackUser links nobody under DNT");
    nothing_stored_for(&site, suid);

    // The same steps in a browser without the signal are tracked and linked.
    let browser = Browser::start().await;
    let (suid, success) = browse_and_log_in(&site, &browser).await;
    browser.close().await;
    assert_eq!(success, json!("true"));
    assert_eq!(site.page_views(&suid.to_string()).len(), 3);
}

#[tokio::test]
async fn a_browser_sending_global_privacy_control_leaves_nothing_on_a_domain_that_honours_it() {
    let site = site_honouring_signals().await;
    let browser = Browser::start().await;
    browser.send_extra_headers(json!({"Sec-GPC": "1"})).await;
    let (suid, success) = browse_and_log_in(&site, &browser).await;
    browser.close().await;
    assert_eq!(success, json!("false"), "trackUser links nobody under GPC");
    nothing_stored_for(&site, suid);

    // Switched off, the same signal is no refusal.
    domain::set_honour_browser_signals(&site.app.store, site.account(), "127.0.0.1", false)
        .expect("stop honouring");
    let browser = Browser::start().await;
    browser.send_extra_headers(json!({"Sec-GPC": "1"})).await;
    let (suid, success) = browse_and_log_in(&site, &browser).await;
    browser.close().await;
    assert_eq!(success, json!("true"));
    assert!(!site.page_views(&suid.to_string()).is_empty());
}
