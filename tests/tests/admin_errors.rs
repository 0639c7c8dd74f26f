//! What the admin pages answer when a form is refused or a record is missing: the reason in
//! Polish (never the domain's English text), "not found" naming what was looked for, and a
//! token expiry that is not a number of days refused without creating a token.

use ssrm_tests::admin_session::{form_token, signed_in};
use ssrm_tests::spawn_app;

async fn post(client: &reqwest::Client, url: String, form: &[(&str, &str)]) -> (u16, String) {
    let response = client.post(url).form(form).send().await.expect("post");
    (
        response.status().as_u16(),
        response.text().await.expect("html"),
    )
}

#[tokio::test]
async fn a_refused_domain_is_explained_in_polish() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let client = signed_in(&app, &shop).await;
    let csrf = form_token(&client, &app, "domains").await;
    let (status, html) = post(
        &client,
        app.url("domains"),
        &[("csrf", &csrf), ("domain", "not a host!")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("to nie jest nazwa hosta"), "{html}");
    assert!(
        !html.contains("not a host name"),
        "English text shown: {html}"
    );
    // Registered by another account: refused in Polish too.
    let other = app.account("other");
    let other_client = signed_in(&app, &other).await;
    let other_csrf = form_token(&other_client, &app, "domains").await;
    let (status, _) = post(
        &other_client,
        app.url("domains"),
        &[("csrf", &other_csrf), ("domain", "sklep.example.com")],
    )
    .await;
    assert_eq!(status, 303);
    let (status, html) = post(
        &client,
        app.url("domains"),
        &[("csrf", &csrf), ("domain", "sklep.example.com")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("tę domenę zarejestrowało inne konto"),
        "{html}"
    );
    assert!(
        !html.contains("another account"),
        "English text shown: {html}"
    );
}

#[tokio::test]
async fn not_found_names_the_domain_the_token_and_the_campaign() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let client = signed_in(&app, &shop).await;
    let csrf = form_token(&client, &app, "domains").await;
    let (status, html) = post(
        &client,
        app.url("domains/verification"),
        &[
            ("csrf", &csrf),
            ("domain", "nieznana.example.com"),
            ("required", "true"),
        ],
    )
    .await;
    assert_eq!(status, 404);
    assert!(html.contains("Nie ma takiej domeny."), "{html}");
    let (status, html) = post(
        &client,
        app.url("tokens/revoke"),
        &[("csrf", &csrf), ("prefix", "zzzzzzzz")],
    )
    .await;
    assert_eq!(status, 404);
    assert!(html.contains("Nie ma takiego tokenu."), "{html}");
    let response = client
        .get(app.url("campaigns/99999"))
        .send()
        .await
        .expect("campaign");
    assert_eq!(response.status(), 404);
    let html = response.text().await.expect("html");
    assert!(html.contains("Nie ma takiej kampanii."), "{html}");
    assert!(!html.contains("Nie ma takiego kontaktu."), "{html}");
}

#[tokio::test]
async fn a_token_expiry_that_is_not_a_number_of_days_creates_no_token() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let client = signed_in(&app, &shop).await;
    let csrf = form_token(&client, &app, "tokens").await;
    let before = app.store.tokens(shop.id()).expect("tokens").len();
    for days in ["abc", "-1", "0", "36501"] {
        let (status, html) = post(
            &client,
            app.url("tokens"),
            &[("csrf", &csrf), ("expires_days", days)],
        )
        .await;
        assert_eq!(status, 400, "{days}: {html}");
        assert!(html.contains("Nie utworzono tokenu"), "{days}: {html}");
        assert!(!html.contains("new-token"), "{days}: a token was shown");
    }
    assert_eq!(
        app.store.tokens(shop.id()).expect("tokens").len(),
        before,
        "no token created"
    );
    let (status, html) = post(
        &client,
        app.url("tokens"),
        &[("csrf", &csrf), ("expires_days", "30")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("new-token"), "a valid expiry still works");
}
