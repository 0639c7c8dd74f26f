//! An admin-pages session as a browser holds it: cookies kept, redirects not followed, and the
//! CSRF token of the page a form came from.

use crate::{admin_login, TestAccount, TestApp};
use reqwest::redirect::Policy;

/// The value of the first hidden input named `name` in a page (`&amp;` decoded).
pub use crate::hidden_input as hidden;

/// The HTML of the admin page at `path`, whatever its status.
pub async fn page_html(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    client
        .get(app.url(path))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html")
}

/// The CSRF token the forms of the admin page at `path` carry.
pub async fn form_token(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    hidden(&page_html(client, app, path).await, "csrf")
}

/// A client signed in to the admin pages as `account`.
pub async fn signed_in(app: &TestApp, account: &TestAccount) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client");
    let credentials = (account.username.as_str(), account.password.as_str());
    let response = admin_login(app, &client, "", credentials, Some("/contacts")).await;
    assert_eq!(response.status(), 303, "login");
    client
}
