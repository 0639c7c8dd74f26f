//! An admin-pages session as a browser holds it: cookies kept, redirects not followed, and the
//! CSRF token of the page a form came from.

use crate::{TestAccount, TestApp};
use reqwest::redirect::Policy;

/// A client signed in to the admin pages as `account`.
pub async fn signed_in(app: &TestApp, account: &TestAccount) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client");
    let form = client
        .get(app.url("login"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("html");
    let csrf = hidden(&form, "csrf");
    let response = client
        .post(app.url("login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", account.username.as_str()),
            ("password", account.password.as_str()),
            ("next", "/contacts"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 303, "login");
    client
}

/// The value of the first hidden input named `name` in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}
