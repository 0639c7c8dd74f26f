//! The dashboard, the visitors list and a campaign page in a real headless Chromium, after
//! four browser profiles (four devices) used the demo shop: one browses anonymously, one signs
//! up, one signs in on another device with the sign-up's e-mail (trackUser) and then tries an
//! unknown e-mail and a placeholder, one looks at a single product. The operator's figures must
//! be what they did. Screenshots at 1280 and 375 px wide are saved in `target/screenshots/`,
//! and no page is wider than a 375 px screen.

use fantoccini::Locator;
use resolver_server::domain::{self, Suid};
use serde_json::{json, Value};
use ssrm_tests::browser::{eventually, Browser};
use ssrm_tests::site::Site;

/// Opens the shop's pages one after the other, each until the tracker has run; answers the
/// browser's suid.
async fn browse(site: &Site, browser: &Browser, paths: &[&str]) -> String {
    for path in paths {
        browser.goto(&site.shop(path)).await;
        browser.wait_for_tracker().await;
    }
    browser.suid_cookie().await.expect("ssrm_user cookie")
}

async fn track_user(browser: &Browser, value: &str) -> Value {
    let script = format!(
        "var done = arguments[arguments.length - 1];\n\
         _ssrm.push(['trackUser', {}, function () {{ done(this.success); }}]);",
        json!(value)
    );
    browser.eval_async(&script).await
}

/// Waits until the visitor's page views are stored (beacons are asynchronous).
async fn stored(site: &Site, suid: &str, count: usize) {
    eventually(|| async { (site.page_views(suid).len() >= count).then_some(()) }).await;
    assert_eq!(site.page_views(suid).len(), count, "{suid}");
}

/// The numbers of every `data-metric` element of the page, by name (the first of each name).
async fn metrics(browser: &Browser) -> Value {
    browser
        .eval(
            "var out = {}; document.querySelectorAll('[data-metric]').forEach(function (e) { \
             var name = e.getAttribute('data-metric'); if (!(name in out)) out[name] = Number(e.textContent.trim()); }); \
             return out;",
        )
        .await
}

/// Screenshots of the current page at 1280 and 375 px, and a check that at 375 px nothing
/// makes the page scroll sideways.
async fn at_both_widths(browser: &Browser, name: &str) {
    browser
        .client
        .set_window_size(1280, 900)
        .await
        .expect("resize");
    browser.screenshot(&format!("{name}-1280.png")).await;
    browser
        .client
        .set_window_size(375, 812)
        .await
        .expect("resize");
    browser.wait_until("return window.innerWidth <= 400;").await;
    browser.screenshot(&format!("{name}-375.png")).await;
    let widths = browser
        .eval("return [document.documentElement.scrollWidth, window.innerWidth];")
        .await;
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "{name} is wider than the phone's screen: {widths}"
    );
    browser
        .client
        .set_window_size(1280, 900)
        .await
        .expect("resize");
}

#[tokio::test]
async fn the_dashboard_and_visitors_list_show_what_four_browsers_did_in_the_shop() {
    let site = Site::start().await;

    let anonymous = Browser::start().await;
    let anonymous_suid = browse(&site, &anonymous, &["/", "/product/1", "/product/2"]).await;
    anonymous.close().await;

    let signing_up = Browser::start().await;
    let signed_up_suid = browse(&site, &signing_up, &["/", "/signup"]).await;
    signing_up.fill("input[name=first_name]", "Ewa").await;
    signing_up
        .fill("input[name=email]", "ewa@example.com")
        .await;
    signing_up.fill("input[name=phone]", "500600700").await;
    signing_up
        .client
        .find(Locator::Css("form button[type=submit]"))
        .await
        .expect("sign-up button")
        .click()
        .await
        .expect("sign up");
    signing_up
        .wait_until("return !!document.querySelector('#signup-result.ok');")
        .await;
    signing_up.wait_for_tracker().await;
    let contact: u64 = signing_up
        .eval("return document.querySelector('#signup-result').getAttribute('data-contact');")
        .await
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("contact id");
    signing_up.close().await;

    let other_device = Browser::start().await;
    let other_suid = browse(&site, &other_device, &["/login"]).await;
    assert_eq!(
        track_user(&other_device, "ewa@example.com").await,
        json!(true)
    );
    assert_eq!(
        track_user(&other_device, "nobody@example.com").await,
        json!(false)
    );
    assert_eq!(track_user(&other_device, "guest").await, json!(false));
    other_device.close().await;

    let one_product = Browser::start().await;
    let one_product_suid = browse(&site, &one_product, &["/product/1"]).await;
    one_product.close().await;

    // What was done: 3 + 3 (home, form, the page after signing up) + 1 + 1 page views.
    stored(&site, &anonymous_suid, 3).await;
    stored(&site, &signed_up_suid, 3).await;
    stored(&site, &other_suid, 1).await;
    stored(&site, &one_product_suid, 1).await;

    // A campaign holding the new customer, for the campaign page.
    let campaign =
        domain::add_campaign(&site.app.store, site.account(), "Oddzwonienia").expect("campaign");
    let added = site
        .app
        .client
        .post(
            site.app
                .url(&format!("api/batch/crm_outbounds/{}/records", campaign.id)),
        )
        .basic_auth("shop", Some(&site.owner.password))
        .json(&json!({"records": [{"customer_id": contact, "status_id": 3}]}))
        .send()
        .await
        .expect("records");
    assert_eq!(added.status(), 200);

    let operator = Browser::start().await;
    operator.goto(&site.app.url("login")).await;
    operator.log_in("shop", &site.owner.password).await;
    operator
        .wait_until("return location.pathname === '/' && !!document.querySelector('[data-metric=pageviews]');")
        .await;
    let figures = metrics(&operator).await;
    let expected = json!({
        "pageviews": 8,
        "visitors": 4,
        "identified": 2,
        "identified-percent": 50,
        "identified-signup": 1,
        "identified-trackuser": 1,
        "identified-verified": 0,
        "trackuser-found": 1,
        "trackuser-not-found": 1,
        "trackuser-refused": 1,
        "rule-firings": 0,
    });
    assert_eq!(figures, expected, "the dashboard's figures");
    let top_pages = operator
        .eval("return Array.from(document.querySelectorAll('table.top')[0].querySelectorAll('tbody tr')).map(function (r) { return [r.cells[0].textContent, Number(r.cells[1].textContent)]; });")
        .await;
    assert_eq!(top_pages[0], json!(["/", 2]), "{top_pages}");
    assert!(
        top_pages
            .as_array()
            .expect("rows")
            .contains(&json!(["/product/1", 2])),
        "{top_pages}"
    );
    assert_eq!(
        operator
            .eval("return document.querySelectorAll('svg rect.bar').length;")
            .await,
        json!(2),
        "today: one bar (and the legend's sample)"
    );
    at_both_widths(&operator, "dashboard").await;

    // The same figures for the shop's domain, and none for 7 days of another.
    operator
        .goto(&site.app.url("?period=7&domain=127.0.0.1"))
        .await;
    let figures = metrics(&operator).await;
    assert_eq!(figures["pageviews"], json!(8));
    assert_eq!(
        operator
            .eval("return document.querySelectorAll('svg rect.bar').length;")
            .await,
        json!(8),
        "seven days: seven bars and the legend's sample"
    );

    // The visitors list: every browser, its page views, its contact.
    operator.goto(&site.app.url("visitors")).await;
    let rows = operator
        .eval(
            "var out = {}; document.querySelectorAll('tr[data-suid]').forEach(function (r) { \
             var contact = r.querySelector('a.contact'); \
             out[r.getAttribute('data-suid')] = [Number(r.querySelector('[data-metric=visitor-pageviews]').textContent), \
             r.querySelector('td.site').textContent, contact ? contact.getAttribute('href') : null]; }); return out;",
        )
        .await;
    let card = format!("/card?id={contact}&typecont=contact");
    assert_eq!(
        rows,
        json!({
            anonymous_suid.clone(): [3, "127.0.0.1", null],
            signed_up_suid.clone(): [3, "127.0.0.1", card],
            other_suid.clone(): [1, "127.0.0.1", card],
            one_product_suid.clone(): [1, "127.0.0.1", null],
        })
    );
    at_both_widths(&operator, "visitors").await;
    operator
        .goto(&site.app.url("visitors?anonymous=1&url=%2Fproduct%2F2"))
        .await;
    let filtered = operator
        .eval("return Array.from(document.querySelectorAll('tr[data-suid]')).map(function (r) { return r.getAttribute('data-suid'); });")
        .await;
    assert_eq!(filtered, json!([anonymous_suid]));
    operator
        .client
        .find(Locator::Css("a.suid"))
        .await
        .expect("suid link")
        .click()
        .await
        .expect("open the visitor");
    operator
        .wait_until("return location.pathname.indexOf('/visitors/') === 0;")
        .await;
    let timeline = operator
        .eval("return document.querySelectorAll('ol.timeline li.pageview').length;")
        .await;
    assert_eq!(timeline, json!(3));
    assert!(Suid::parse(&anonymous_suid).is_some());

    // The campaign page lists the customer with a link to the card.
    operator
        .goto(&site.app.url(&format!("campaigns/{}", campaign.id)))
        .await;
    let record = operator
        .eval("var r = document.querySelector('table.records tbody tr'); return [r.querySelector('a').getAttribute('href'), r.textContent.indexOf('Do zadzwonienia') >= 0, r.textContent.indexOf('+48500600700') >= 0];")
        .await;
    assert_eq!(record, json!([card, true, true]));
    at_both_widths(&operator, "campaign").await;
    operator.close().await;
}
