//! The admin pages in a real headless Chromium, as a call-centre operator uses them: log in
//! through a redirect, search a number typed differently, open the card, see the page views
//! and the logged call, dial through a `telf:` link, log out. Screenshots of the search and card
//! pages are saved in `target/screenshots/` for a person to look at.

use fantoccini::Locator;
use serde_json::json;
use ssrm_tests::browser::Browser;
use ssrm_tests::site::Site;

async fn text(browser: &Browser, css: &str) -> String {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css}"))
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn an_operator_finds_the_caller_opens_the_card_and_sees_visits_and_calls() {
    let site = Site::start().await;
    // A visitor browses the shop and signs up: its page views become the contact's.
    let visitor = Browser::start().await;
    for path in ["/", "/product/3"] {
        visitor.goto(&site.shop(path)).await;
        visitor.wait_for_tracker().await;
    }
    let suid = visitor.suid_cookie().await.expect("cookie");
    visitor.close().await;
    let added = site.app.call(&site.owner.token, "contacts/add.json", json!({"phone": "500600700", "first_name": "Ewa", "last_name": "Nowak", "email": "ewa@example.com", "suid": suid})).await;
    let contact = added["id"].as_u64().expect("contact id");
    // TelefUM logs the call.
    let logged = site
        .app
        .client
        .post(site.app.url("rest"))
        .form(&[
            ("typereq", "addevent"),
            ("id", &contact.to_string()),
            ("typecont", "contact"),
            ("subj", "Połączenie przychodzące"),
            ("desc", "Czas rozmowy 3:54"),
            ("login", "shop"),
            ("password", site.owner.password.as_str()),
        ])
        .send()
        .await
        .expect("addevent")
        .text()
        .await
        .expect("xml");
    assert!(logged.contains("<result>ok</result>"));

    let operator = Browser::start().await;
    operator
        .goto(&site.app.url("search?phone=0048+500-600-700"))
        .await;
    assert!(
        operator
            .client
            .current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/login"),
        "sent to log in first"
    );
    operator.log_in("shop", &site.owner.password).await;
    operator.wait_until("return location.pathname === '/search' && document.body.textContent.indexOf('Wyniki: 1') >= 0;").await;
    operator.screenshot("search.png").await;
    operator
        .client
        .find(Locator::Css("a.card"))
        .await
        .expect("result link")
        .click()
        .await
        .expect("open card");
    operator
        .wait_until("return location.pathname === '/card';")
        .await;
    assert_eq!(text(&operator, "h1").await, "Ewa Nowak");
    let timeline = text(&operator, "ol.timeline").await;
    assert!(
        timeline.contains("Połączenie przychodzące") && timeline.contains("Czas rozmowy 3:54"),
        "{timeline}"
    );
    assert!(
        timeline.contains(&site.shop("/product/3")),
        "the visitor's page views: {timeline}"
    );
    let dial = operator
        .client
        .find(Locator::Css("a.phone"))
        .await
        .expect("phone link");
    assert_eq!(
        dial.attr("href").await.expect("href").as_deref(),
        Some("telf:+48500600700")
    );
    operator.screenshot("card.png").await;

    operator
        .client
        .find(Locator::Css("form.logout button"))
        .await
        .expect("logout")
        .click()
        .await
        .expect("log out");
    operator
        .wait_until("return location.pathname === '/login';")
        .await;
    operator
        .goto(&site.app.url(&format!("card?id={contact}&typecont=contact")))
        .await;
    assert!(
        operator
            .client
            .current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/login"),
        "logged out"
    );
    operator.close().await;
}

#[tokio::test]
async fn a_contact_named_like_a_script_is_shown_as_text_and_runs_nothing() {
    let site = Site::start().await;
    let hostile = "<script>window.pwned = true</script>";
    let id = site
        .app
        .call(
            &site.owner.token,
            "contacts/add.json",
            json!({"phone": "500600700", "first_name": hostile}),
        )
        .await["id"]
        .clone();
    let browser = Browser::start().await;
    browser
        .goto(&site.app.url(&format!("card?id={id}&typecont=contact")))
        .await;
    browser.log_in("shop", &site.owner.password).await;
    browser
        .wait_until("return location.pathname === '/card';")
        .await;
    assert_eq!(text(&browser, "h1").await, hostile);
    assert_eq!(
        browser.eval("return window.pwned === undefined;").await,
        json!(true)
    );
    browser.close().await;
}

#[tokio::test]
async fn a_form_posted_without_its_csrf_token_is_refused() {
    let site = Site::start().await;
    let browser = Browser::start().await;
    browser.goto(&site.app.url("groups")).await;
    browser.log_in("shop", &site.owner.password).await;
    browser
        .wait_until("return location.pathname === '/groups';")
        .await;
    browser.eval("var form = document.querySelector('form.inline'); form.querySelector('[name=csrf]').remove(); form.querySelector('[name=name]').value = 'Podrzucona'; form.submit(); return true;").await;
    browser
        .wait_until("return document.body.textContent.indexOf('Formularz odrzucony') >= 0;")
        .await;
    let groups = site.app.store.groups(site.account()).expect("groups");
    assert!(groups.is_empty(), "nothing created");
    browser.close().await;
}

/// The probe's open redirect, in the browser that would follow it: `next=/%09/evil.example`
/// once came back as `Location: /<TAB>/evil.example`, which Chromium reads as
/// `//evil.example`. After logging in the operator must still be on the resolver.
#[tokio::test]
async fn a_login_link_with_a_tab_in_next_keeps_the_operator_on_the_resolver() {
    let site = Site::start().await;
    let host = site.app.base.trim_start_matches("http://").to_owned();
    for next in [
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%5C%5Cevil.example",
    ] {
        let operator = Browser::start().await;
        operator
            .goto(&site.app.url(&format!("login?next={next}")))
            .await;
        operator.log_in("shop", &site.owner.password).await;
        operator
            .wait_until(&format!(
                "return location.host === '{host}' && location.pathname === '/';"
            ))
            .await;
        let url = operator.client.current_url().await.expect("url");
        assert_eq!(url.host_str(), Some("127.0.0.1"), "{next}: {url}");
        operator.close().await;
    }
}
