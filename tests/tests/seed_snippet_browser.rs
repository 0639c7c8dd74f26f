//! The tracking seed's snippet as written (`../shared/seeds/serwersms-automation-trackuser.txt`):
//! `_ssrm.push(['trackUser', '+48500000000', function () { console.log(this); }])` with no
//! `setSite` before it. The page's origin (`127.0.0.1`, registered by one account) decides the
//! site. Real Chromium, a real resolver on another origin.

use serde_json::{json, Value};
use ssrm_tests::browser::{eventually, Browser};
use ssrm_tests::serve_page;
use ssrm_tests::site::Site;

/// The seed's call, its `console.log(this)` kept as `log.push(this)` so the test can read it
/// (the seed's closing quote is a typographic `’`, a syntax error in any browser, so it is `'`).
const SEED_CALL: &str =
    "_ssrm.push(['trackUser', '+48500000000', function() { log.push(this); }]);";

async fn contact_with_seed_phone(site: &Site) -> (u64, String) {
    let canonical = resolver_server::domain::Suid::random().to_string();
    let added = site
        .app
        .call(
            &site.owner.token,
            "contacts/add.json",
            json!({"phone": "+48500000000", "suid": canonical}),
        )
        .await;
    (added["id"].as_u64().expect("contact id"), canonical)
}

/// Opens `page` (on the registered origin), waits for the seed's callback and returns its `this`.
async fn callback_answer(page_port: u16) -> (Value, Option<String>) {
    let browser = Browser::start().await;
    browser
        .goto(&format!("http://127.0.0.1:{page_port}/"))
        .await;
    browser.wait_until("return window.log.length > 0;").await;
    let answer = browser.eval("return window.log[0];").await;
    let cookie = browser.suid_cookie().await;
    browser.close().await;
    (answer, cookie)
}

#[tokio::test]
async fn the_seeds_bare_snippet_without_set_site_finds_the_contact_by_the_pages_origin() {
    let site = Site::start().await;
    let (contact, canonical) = contact_with_seed_phone(&site).await;
    let port = serve_page(format!(
        "<!doctype html><html><head><title>Seed</title><script>window.log = [];\n\
         window._ssrm = window._ssrm || [];\n{SEED_CALL}</script>\
         <script async src=\"{}/ssrm.js\"></script></head><body>seed</body></html>",
        site.resolver
    ));
    let (answer, cookie) = callback_answer(port).await;
    assert_eq!(
        answer,
        json!({"success": true, "suid": canonical, "message": "Kontakt pobrany"})
    );
    assert_eq!(cookie.as_deref(), Some(canonical.as_str()));
    // The page view went to the account too, without a site key, and joined the contact's
    // history when trackUser linked this (anonymous) browser to the contact.
    let page = format!("http://127.0.0.1:{port}/");
    let history = eventually(|| async {
        Some(site.history_urls(contact).await).filter(|urls| !urls.is_empty())
    })
    .await;
    assert_eq!(history, [page]);
}

/// The snippet with the site key in the script's URL (`ssrm.js?site=KEY`).
fn page_with_key_in_url(site: &Site, key: &str) -> u16 {
    serve_page(format!(
        "<!doctype html><html><head><title>Seed</title><script>window.log = [];\n\
         window._ssrm = window._ssrm || [];\n{SEED_CALL}</script>\
         <script async src=\"{}/ssrm.js?site={key}\"></script></head><body>seed</body></html>",
        site.resolver
    ))
}

#[tokio::test]
async fn the_site_key_can_come_in_the_script_url_and_is_then_the_one_used() {
    let site = Site::start().await;
    let (_, canonical) = contact_with_seed_phone(&site).await;
    let (answer, _) = callback_answer(page_with_key_in_url(&site, &site.site_key)).await;
    assert_eq!(
        answer,
        json!({"success": true, "suid": canonical, "message": "Kontakt pobrany"})
    );
    // A key that names no site is not overruled by the origin: the key in the URL is used.
    let (answer, _) =
        callback_answer(page_with_key_in_url(&site, "0123456789abcdef01234567")).await;
    assert_eq!(answer["success"], json!(false), "{answer}");
}
