//! End-to-end: the real tracker (built by scripts/build-tracker.sh into www/tracker/) in a real
//! headless Chromium, a real resolver and the demo shop on two different origins. Each test has
//! its own browser profile: a new device.

use resolver_server::domain::{self, ContactId, Suid};
use serde_json::{json, Value};
use ssrm_tests::browser::{eventually, Browser};
use ssrm_tests::site::Site;

fn is_uuid_v4(text: &str) -> bool {
    uuid::Uuid::try_parse(text)
        .is_ok_and(|uuid| uuid.get_version_num() == 4 && uuid.hyphenated().to_string() == text)
}

/// Runs trackUser in the page and returns `{self, arg, same}`: the callback's `this`, its first
/// argument, and whether they are the same object.
async fn track_user(browser: &Browser, value: &str, options: Value) -> Value {
    let script = format!(
        "var done = arguments[arguments.length - 1];\n\
         _ssrm.push(['trackUser', {}, function (answer) {{ done({{self: this, arg: answer, same: this === answer}}); }}, {}]);",
        json!(value),
        options
    );
    browser.eval_async(&script).await
}

#[tokio::test]
async fn first_visit_sets_a_uuid_v4_cookie_with_the_right_attributes_and_records_the_page_view() {
    let site = Site::start().await;
    let browser = Browser::start().await;
    browser.goto(&site.shop("/")).await;
    browser.wait_for_tracker().await;
    let suid = browser.suid_cookie().await.expect("ssrm_user cookie");
    assert!(is_uuid_v4(&suid), "{suid}");
    let cookie = browser
        .client
        .get_named_cookie("ssrm_user")
        .await
        .expect("cookie via WebDriver");
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.same_site(), Some(cookie::SameSite::Lax));
    assert_eq!(cookie.secure(), Some(false), "http page: no Secure");
    assert_eq!(
        cookie.domain(),
        Some("127.0.0.1"),
        "first-party: the shop's host, not the resolver's"
    );
    let expires = cookie.expires_datetime().expect("persistent cookie");
    let days = (expires - time::OffsetDateTime::now_utc()).whole_days();
    assert!(
        (380..=400).contains(&days),
        "about 13 months, got {days} days"
    );
    let expected = site.shop("/");
    let views =
        eventually(|| async { Some(site.page_views(&suid)).filter(|views| !views.is_empty()) })
            .await;
    assert_eq!(views, [expected]);
    browser.close().await;
}

#[tokio::test]
async fn commands_queued_before_and_pushed_after_load_run_in_order_and_a_throwing_one_stops_nothing(
) {
    let site = Site::start().await;
    let port = site.page(
        "_ssrm.push(function () { log.push('function:' + typeof this.getSuid); });\n\
         _ssrm.push(function () { throw new Error('boom'); });\n\
         _ssrm.push(['noSuchCommand', 1]);\n\
         _ssrm.push('not a command');\n\
         _ssrm.push(['trackEvent', 'queued', {n: 1}]);\n\
         _ssrm.push(function () { log.push('after the errors'); });",
    );
    let browser = Browser::start().await;
    browser.goto(&format!("http://127.0.0.1:{port}/")).await;
    browser.wait_for_tracker().await;
    browser.eval("_ssrm.push(function () { log.push('pushed after load'); }, function () { log.push('second of one push'); }); return true;").await;
    let log = browser.eval("return window.log;").await;
    assert_eq!(
        log,
        json!([
            "function:function",
            "after the errors",
            "pushed after load",
            "second of one push"
        ])
    );
    let globals = browser.eval("return typeof window.wasm_bindgen;").await;
    assert_eq!(globals, json!("undefined"), "no global but _ssrm");
    browser.close().await;
}

#[tokio::test]
async fn a_function_wrapped_in_an_array_runs_like_a_bare_one_with_the_same_this() {
    let site = Site::start().await;
    // Queued before load, both forms; `this` of each is kept to compare after load.
    let port = site.page(
        "window.seen = [];\n\
         _ssrm.push(function () { seen.push(['bare, queued', this]); });\n\
         _ssrm.push([function () { seen.push(['wrapped, queued', this]); }]);",
    );
    let browser = Browser::start().await;
    browser.goto(&format!("http://127.0.0.1:{port}/")).await;
    browser.wait_for_tracker().await;
    browser
        .eval(
            "_ssrm.push([function () { seen.push(['wrapped, pushed', this]); }]);\n\
             _ssrm.push(function () { seen.push(['bare, pushed', this]); });\n\
             return true;",
        )
        .await;
    let seen = browser
        .eval(
            "return seen.map(function (entry) { return [entry[0], entry[1] === window._ssrm, \
             typeof entry[1].getSuid]; });",
        )
        .await;
    assert_eq!(
        seen,
        json!([
            ["bare, queued", true, "function"],
            ["wrapped, queued", true, "function"],
            ["wrapped, pushed", true, "function"],
            ["bare, pushed", true, "function"]
        ])
    );
    browser.close().await;
}

#[tokio::test]
async fn sign_up_links_the_visitor_and_its_earlier_page_views_join_the_contact_history() {
    let site = Site::start().await;
    let browser = Browser::start().await;
    for path in ["/", "/product/1"] {
        browser.goto(&site.shop(path)).await;
        browser.wait_for_tracker().await;
    }
    let suid = browser.suid_cookie().await.expect("cookie");
    browser.goto(&site.shop("/signup")).await;
    browser.wait_for_tracker().await;
    browser.eval("document.querySelector('[name=first_name]').value = 'Jan'; document.querySelector('[name=email]').value = 'jan@example.com'; document.querySelector('[name=phone]').value = '500600700'; document.querySelector('form[method=post]').submit(); return true;").await;
    browser.wait_until("var r = document.getElementById('signup-result'); return !!r && r.classList.contains('ok');").await;
    let contact: u64 = browser
        .eval("return Number(document.getElementById('signup-result').dataset.contact);")
        .await
        .as_u64()
        .expect("contact id");
    let stored = site
        .app
        .store
        .contact(site.account(), ContactId(contact))
        .expect("store")
        .expect("contact");
    assert_eq!(
        stored.suid.map(|s| s.to_string()),
        Some(suid.clone()),
        "the cookie's suid became the contact's"
    );
    let history = eventually(|| async {
        let urls = site.history_urls(contact).await;
        Some(urls).filter(|urls| urls.contains(&site.shop("/product/1")))
    })
    .await;
    for path in ["/", "/product/1", "/signup"] {
        assert!(
            history.contains(&site.shop(path)),
            "{path} missing from {history:?}"
        );
    }
    browser.close().await;
}

/// Signs a contact up through the shop's form handler path (contacts/add with a suid) without
/// a browser, as the first device.
async fn signed_up_contact(site: &Site) -> (u64, String) {
    let first_device = Suid::random().to_string();
    let added = site
        .app
        .call(&site.owner.token, "contacts/add.json", json!({"phone": "+48500600700", "email": "Ewa.Nowak@example.com", "first_name": "Ewa", "suid": first_device}))
        .await;
    (added["id"].as_u64().expect("id"), first_device)
}

#[tokio::test]
async fn a_new_device_logging_in_by_email_gets_the_contacts_suid_and_its_views_join_the_history() {
    let site = Site::start().await;
    let (contact, canonical) = signed_up_contact(&site).await;
    let browser = Browser::start().await;
    for path in ["/", "/product/2"] {
        browser.goto(&site.shop(path)).await;
        browser.wait_for_tracker().await;
    }
    let anonymous = browser.suid_cookie().await.expect("cookie");
    assert_ne!(anonymous, canonical);
    browser.goto(&site.shop("/login")).await;
    browser.wait_for_tracker().await;
    browser.eval("document.getElementById('login').value = '  EWA.NOWAK@example.com '; document.querySelector('#login-form button').click(); return true;").await;
    browser
        .wait_until("return document.getElementById('login-result').hasAttribute('data-success');")
        .await;
    let answer: Value = serde_json::from_str(
        browser
            .eval("return document.getElementById('login-result').textContent;")
            .await
            .as_str()
            .expect("text"),
    )
    .expect("json");
    assert_eq!(
        answer,
        json!({"success": true, "suid": canonical, "message": "Kontakt pobrany"})
    );
    assert_eq!(
        browser.suid_cookie().await.as_deref(),
        Some(canonical.as_str()),
        "the cookie now holds the contact's suid"
    );
    let history = eventually(|| async {
        Some(site.history_urls(contact).await)
            .filter(|urls| urls.contains(&site.shop("/product/2")))
    })
    .await;
    assert!(history.contains(&site.shop("/")), "{history:?}");
    browser.close().await;
}

#[tokio::test]
async fn a_new_device_logging_in_by_phone_without_prefix_gets_this_bound_to_the_answer() {
    let site = Site::start().await;
    let (_, canonical) = signed_up_contact(&site).await;
    let browser = Browser::start().await;
    browser.goto(&site.shop("/")).await;
    browser.wait_for_tracker().await;
    let result = track_user(&browser, "500 600 700", Value::Null).await;
    assert_eq!(
        result["self"],
        json!({"success": true, "suid": canonical, "message": "Kontakt pobrany"})
    );
    assert_eq!(
        result["same"],
        json!(true),
        "callback called as cb.call(answer, answer)"
    );
    assert_eq!(
        browser.suid_cookie().await.as_deref(),
        Some(canonical.as_str())
    );
    browser.close().await;
}

#[tokio::test]
async fn an_unknown_email_fails_and_leaves_the_cookie_alone() {
    let site = Site::start().await;
    signed_up_contact(&site).await;
    let browser = Browser::start().await;
    browser.goto(&site.shop("/")).await;
    browser.wait_for_tracker().await;
    let before = browser.suid_cookie().await.expect("cookie");
    let result = track_user(&browser, "nobody@example.com", Value::Null).await;
    assert_eq!(result["self"]["success"], json!(false));
    assert_eq!(result["self"]["suid"], json!(before));
    assert!(result["self"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert_eq!(browser.suid_cookie().await, Some(before));
    browser.close().await;
}

/// Waits until the page's own `/t/pageview` request has completed (whatever its answer).
async fn wait_for_page_view_request(browser: &Browser) {
    browser
        .wait_until("return performance.getEntriesByType('resource').some(function (e) { return e.name.indexOf('/t/pageview') >= 0 && e.responseEnd > 0; });")
        .await;
}

#[tokio::test]
async fn a_page_on_an_unregistered_origin_stores_nothing() {
    let site = Site::start().await;
    let browser = Browser::start().await;
    // The shop served under `localhost`, a host the account never registered.
    let foreign = site.shop("/").replace("127.0.0.1", "localhost");
    browser.goto(&foreign).await;
    browser.wait_for_tracker().await;
    wait_for_page_view_request(&browser).await;
    let suid = browser
        .suid_cookie()
        .await
        .expect("the cookie is the page's own business");
    assert!(
        site.page_views(&suid).is_empty(),
        "nothing stored for the unregistered origin"
    );
    // The same page on the registered origin is stored, by the same mechanism.
    browser.goto(&site.shop("/")).await;
    browser.wait_for_tracker().await;
    wait_for_page_view_request(&browser).await;
    let own = browser.suid_cookie().await.expect("cookie");
    assert_eq!(site.page_views(&own).len(), 1);
    browser.close().await;
}

#[tokio::test]
async fn verification_required_refuses_a_wrong_hash_and_accepts_the_right_one() {
    let site = Site::start().await;
    signed_up_contact(&site).await;
    let secret = domain::require_hash(&site.app.store, site.account(), "127.0.0.1")
        .expect("require hash")
        .secret;
    let browser = Browser::start().await;
    browser.goto(&site.shop("/")).await;
    browser.wait_for_tracker().await;
    let before = browser.suid_cookie().await.expect("cookie");
    for options in [Value::Null, json!({"hash": "00".repeat(32)})] {
        let result = track_user(&browser, "ewa.nowak@example.com", options.clone()).await;
        assert_eq!(result["self"]["success"], json!(false), "{options}");
    }
    assert_eq!(
        browser.suid_cookie().await.as_deref(),
        Some(before.as_str())
    );
    let hash = {
        use hmac::Mac;
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(b"ewa.nowak@example.com");
        hex::encode(mac.finalize().into_bytes())
    };
    let result = track_user(&browser, "Ewa.Nowak@example.com", json!({"hash": hash})).await;
    assert_eq!(result["self"]["success"], json!(true), "{result}");
    browser.close().await;
}

#[tokio::test]
async fn single_page_navigation_records_page_views() {
    let site = Site::start().await;
    let browser = Browser::start().await;
    browser.goto(&site.shop("/spa")).await;
    browser.wait_for_tracker().await;
    let suid = browser.suid_cookie().await.expect("cookie");
    browser
        .eval("document.querySelector('[data-step=\"2\"]').click(); return true;")
        .await;
    let step = site.shop("/spa/krok-2");
    let views =
        eventually(|| async { Some(site.page_views(&suid)).filter(|views| views.contains(&step)) })
            .await;
    assert_eq!(views.first(), Some(&site.shop("/spa")));
    browser.close().await;
}

#[tokio::test]
async fn with_consent_required_nothing_is_set_or_sent_until_consent_is_given() {
    let site = Site::start().await;
    let port = site.page("_ssrm.push(['requireConsent']);");
    let browser = Browser::start().await;
    browser.goto(&format!("http://127.0.0.1:{port}/")).await;
    browser.wait_for_tracker().await;
    assert_eq!(
        browser.suid_cookie().await,
        None,
        "no cookie before consent"
    );
    let requests = browser.eval("return performance.getEntriesByType('resource').filter(function (e) { return e.name.indexOf('/t/') >= 0; }).length;").await;
    assert_eq!(requests, json!(0), "no tracking request before consent");
    browser
        .eval("_ssrm.push(['setConsent', true]); return true;")
        .await;
    let suid = browser.suid_cookie().await.expect("cookie after consent");
    let views =
        eventually(|| async { Some(site.page_views(&suid)).filter(|views| !views.is_empty()) })
            .await;
    assert_eq!(views.len(), 1);
    browser
        .eval("_ssrm.push(['setConsent', false]); return true;")
        .await;
    assert_eq!(
        browser.suid_cookie().await,
        None,
        "withdrawn consent deletes the cookie"
    );
    browser.close().await;
}
