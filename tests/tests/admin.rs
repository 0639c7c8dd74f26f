//! The admin pages over real HTTP: sessions, redirects, CSRF, rate limiting, escaping, tenant
//! isolation, and what each page shows.

use reqwest::redirect::Policy;
use serde_json::json;
use ssrm_tests::admin_session::{form_token, hidden, signed_in};
use ssrm_tests::{admin_login, spawn_app, TestApp};

async fn login(
    app: &TestApp,
    client: &reqwest::Client,
    username: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    admin_login(app, client, "", (username, password), Some(next)).await
}

async fn page(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.expect("page");
    (
        response.status().as_u16(),
        response.text().await.expect("html"),
    )
}

#[tokio::test]
async fn a_page_asked_for_before_login_comes_back_after_it() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client");
    let response = client
        .get(app.url("card?id=7&typecont=contact"))
        .send()
        .await
        .expect("card");
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/login?next=%2Fcard%3Fid%3D7%26typecont%3Dcontact"
    );
    let back = login(
        &app,
        &client,
        "shop",
        &shop.password,
        "/card?id=7&typecont=contact",
    )
    .await;
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], "/card?id=7&typecont=contact");
    let cookie = back
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ssrm_session="))
        .expect("session cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag");
    // An absolute or protocol-relative next is not followed.
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client");
    let response = login(&app, &other, "shop", &shop.password, "//evil.example/").await;
    assert_eq!(response.headers()["location"], "/");
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_repeated_attempts_are_limited() {
    let app = spawn_app().await;
    app.account("shop");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client");
    let first = login(&app, &client, "shop", "wrong password", "/contacts").await;
    assert_eq!(first.status(), 401);
    assert!(first
        .text()
        .await
        .expect("html")
        .contains("Nieprawidłowy login lub hasło"));
    let mut limited = false;
    for _ in 0..12 {
        if login(&app, &client, "shop", "wrong password", "/contacts")
            .await
            .status()
            == 429
        {
            limited = true;
            break;
        }
    }
    assert!(limited, "login attempts are rate-limited");
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let client = signed_in(&app, &shop).await;
    for body in [
        vec![("name", "Bez tokenu")],
        vec![("name", "Zły token"), ("csrf", "0123456789abcdef")],
    ] {
        let response = client
            .post(app.url("groups"))
            .form(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), 403);
    }
    assert!(app.store.groups(shop.id()).expect("groups").is_empty());
    // The login form has its own token too.
    let bare = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    let response = bare
        .post(app.url("login"))
        .form(&[
            ("csrf", "x"),
            ("username", "shop"),
            ("password", shop.password.as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_contact_named_like_a_script_renders_as_text() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let id = app.created(&shop.token, "contacts/add.json", json!({"phone": "500600700", "first_name": "<script>alert(1)</script>", "description": "\"><img src=x onerror=alert(2)>"}))
.await;
    let client = signed_in(&app, &shop).await;
    for url in [
        app.url(&format!("card?id={id}&typecont=contact")),
        app.url("contacts"),
        app.url("search?phone=500600700"),
    ] {
        let (status, html) = page(&client, &url).await;
        assert_eq!(status, 200, "{url}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{url}"
        );
        assert!(
            !html.contains("<script>alert(1)") && !html.contains("<img src=x"),
            "{url}"
        );
    }
}

#[tokio::test]
async fn search_by_phone_in_another_format_lists_the_contact_with_card_and_telf_links() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let id = app
        .created(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "+48500600700", "first_name": "Jan", "last_name": "Kowalski"}),
        )
        .await;
    app.call(
        &shop.token,
        "contacts/add.json",
        json!({"phone": "600700800", "first_name": "Inny"}),
    )
    .await;
    let client = signed_in(&app, &shop).await;
    let (_, html) = page(&client, &app.url("search?phone=0048+500-600-700")).await;
    assert!(html.contains("Wyniki: 1"), "{html}");
    assert!(
        html.contains(&format!("href=\"/card?id={id}&amp;typecont=contact\"")),
        "{html}"
    );
    assert!(html.contains("href=\"telf:+48500600700\""));
    let (_, text) = page(&client, &app.url("search?q=kowal")).await;
    assert!(text.contains("Jan Kowalski") && !text.contains("Inny"));
}

#[tokio::test]
async fn the_card_shows_fields_groups_source_and_the_logged_call() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let group = app
        .created(&shop.token, "groups/add.json", json!({"name": "VIP"}))
        .await;
    let id = app.created(&shop.token, "contacts/add.json", json!({"phone": "500600700", "first_name": "Jan", "email": "jan@example.com", "group_id": group}))
.await;
    let logged = app
        .client
        .post(app.url("rest"))
        .form(&[
            ("typereq", "addevent"),
            ("id", &id.to_string()),
            ("typecont", "contact"),
            ("subj", "Połączenie przychodzące"),
            ("desc", "Czas 3:54"),
            ("login", "shop"),
            ("password", shop.password.as_str()),
        ])
        .send()
        .await
        .expect("addevent")
        .text()
        .await
        .expect("xml");
    assert!(logged.contains("<result>ok</result>"), "{logged}");
    let client = signed_in(&app, &shop).await;
    let (status, html) = page(&client, &app.url(&format!("card?id={id}&typecont=contact"))).await;
    assert_eq!(status, 200);
    for expected in [
        "Jan",
        "href=\"telf:+48500600700\"",
        "href=\"mailto:jan@example.com\"",
        "VIP",
        "Połączenie przychodzące",
        "Czas 3:54",
        "(shop)",
    ] {
        assert!(html.contains(expected), "{expected} missing");
    }
}

#[tokio::test]
async fn one_account_never_sees_or_changes_anothers_contacts() {
    let app = spawn_app().await;
    let a = app.account("alpha");
    let b = app.account("beta");
    let id = app
        .created(
            &a.token,
            "contacts/add.json",
            json!({"phone": "500600700", "first_name": "Ala"}),
        )
        .await;
    let client = signed_in(&app, &b).await;
    assert_eq!(
        page(&client, &app.url(&format!("card?id={id}&typecont=contact")))
            .await
            .0,
        404
    );
    assert_eq!(
        page(&client, &app.url(&format!("contacts/{id}/edit")))
            .await
            .0,
        404
    );
    let (_, list) = page(&client, &app.url("contacts")).await;
    assert!(!list.contains("Ala"));
    let (_, search) = page(&client, &app.url("search?phone=500600700")).await;
    assert!(search.contains("Wyniki: 0"));
    let csrf = form_token(&client, &app, "tokens").await;
    let response = client
        .post(app.url(&format!("contacts/{id}/edit")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("phone", "600700800"),
            ("first_name", "Przejęta"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 404);
    let view = app
        .call(&a.token, "contacts/view.json", json!({"id": id}))
        .await;
    assert_eq!(view["first_name"], json!("Ala"));
}

#[tokio::test]
async fn editing_a_contact_can_clear_fields_and_set_groups() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let group = app
        .created(
            &shop.token,
            "groups/add.json",
            json!({"name": "Newsletter"}),
        )
        .await;
    let id = app
        .created(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "500600700", "first_name": "Jan", "city": "Kraków"}),
        )
        .await;
    let client = signed_in(&app, &shop).await;
    let (_, form) = page(&client, &app.url(&format!("contacts/{id}/edit"))).await;
    let csrf = hidden(&form, "csrf");
    let group_text = group.to_string();
    let response = client
        .post(app.url(&format!("contacts/{id}/edit")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("phone", "+48 600 700 800"),
            ("first_name", "Janek"),
            ("city", ""),
            ("groups[]", group_text.as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 303);
    let view = app
        .call(&shop.token, "contacts/view.json", json!({"id": id}))
        .await;
    assert_eq!(
        (
            view["phone"].clone(),
            view["first_name"].clone(),
            view["city"].clone()
        ),
        (json!("+48600700800"), json!("Janek"), json!(""))
    );
    let listed = app
        .call(
            &shop.token,
            "contacts/index.json",
            json!({"group_id": group}),
        )
        .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    let bad = client
        .post(app.url(&format!("contacts/{id}/edit")))
        .form(&[("csrf", csrf.as_str()), ("phone", "12")])
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn domains_show_the_snippet_and_switch_verification() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let client = signed_in(&app, &shop).await;
    let csrf = form_token(&client, &app, "domains").await;
    let added = client
        .post(app.url("domains"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("domain", "https://Sklep.Example.com/"),
        ])
        .send()
        .await
        .expect("add");
    assert_eq!(added.status(), 303);
    let domain = app
        .store
        .domain(shop.id(), "sklep.example.com")
        .expect("store")
        .expect("domain");
    let (_, html) = page(&client, &app.url("domains")).await;
    assert!(
        html.contains(&format!(
            "_ssrm.push([&#39;setSite&#39;, &#39;{}&#39;]);",
            domain.site_key
        )) || html.contains(&format!("_ssrm.push(['setSite', '{}']);", domain.site_key)),
        "{html}"
    );
    assert!(html.contains(&format!("{}/ssrm.js", app.base)));
    assert!(html.contains("Weryfikacja tożsamości wyłączona") && !html.contains(&domain.secret));
    client
        .post(app.url("domains/verification"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("domain", "sklep.example.com"),
            ("required", "true"),
        ])
        .send()
        .await
        .expect("switch");
    let (_, html) = page(&client, &app.url("domains")).await;
    assert!(html.contains(&domain.secret) && !html.contains("Weryfikacja tożsamości wyłączona"));
    assert!(
        app.store
            .domain(shop.id(), "sklep.example.com")
            .expect("store")
            .expect("domain")
            .require_hash
    );
}

#[tokio::test]
async fn a_token_is_shown_once_and_can_be_revoked() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let client = signed_in(&app, &shop).await;
    let csrf = form_token(&client, &app, "tokens").await;
    let created = client
        .post(app.url("tokens"))
        .form(&[("csrf", csrf.as_str()), ("expires_days", "30")])
        .send()
        .await
        .expect("create")
        .text()
        .await
        .expect("html");
    let start = created.find("<pre id=\"new-token\">").expect("token shown")
        + "<pre id=\"new-token\">".len();
    let secret = created[start..]
        .split('<')
        .next()
        .expect("token")
        .to_owned();
    assert_eq!(
        app.call(&secret, "groups/index.json", json!({})).await["items"],
        json!([]),
        "the new token works"
    );
    let (_, listed) = page(&client, &app.url("tokens")).await;
    assert!(!listed.contains(&secret), "shown once");
    client
        .post(app.url("tokens/revoke"))
        .form(&[("csrf", csrf.as_str()), ("prefix", &secret[5..13])])
        .send()
        .await
        .expect("revoke");
    assert_eq!(
        app.call(&secret, "groups/index.json", json!({})).await["error"]["code"],
        json!(1012)
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let client = signed_in(&app, &shop).await;
    let csrf = form_token(&client, &app, "contacts").await;
    let response = client
        .post(app.url("logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), 303);
    assert_eq!(page(&client, &app.url("contacts")).await.0, 303);
}

#[tokio::test]
async fn campaigns_are_created_and_given_statuses_in_the_admin_pages() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let client = signed_in(&app, &shop).await;
    let csrf = form_token(&client, &app, "campaigns").await;
    let created = client
        .post(app.url("campaigns"))
        .form(&[("csrf", csrf.as_str()), ("name", "Oddzwonienia")])
        .send()
        .await
        .expect("create");
    assert_eq!(
        (
            created.status().as_u16(),
            created.headers()["location"].to_str().ok()
        ),
        (303, Some("/campaigns/00001"))
    );
    let added = client
        .post(app.url("campaigns/00001/statuses"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Oddzwonić jutro"),
            ("system", "CALL_NO_SOONER_THAN"),
            ("dictionary_status_id", "7"),
        ])
        .send()
        .await
        .expect("add status");
    assert_eq!(added.status(), 303);
    let (_, html) = page(&client, &app.url("campaigns/00001")).await;
    assert!(
        html.contains("Oddzwonić jutro")
            && html.contains("CALL_NO_SOONER_THAN")
            && html.contains("MY_RECORD"),
        "{html}"
    );
    let statuses: serde_json::Value = app
        .client
        .get(app.url("api/outbounds/00001/statuses"))
        .basic_auth("shop", Some(&shop.password))
        .send()
        .await
        .expect("statuses")
        .json()
        .await
        .expect("json");
    assert_eq!(
        statuses[8],
        json!({"system_status": "CALL_NO_SOONER_THAN", "status_id": "9", "dictionary_status_id": 7, "name": "Oddzwonić jutro"})
    );
    let forged = client
        .post(app.url("campaigns"))
        .form(&[("name", "Bez tokenu")])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), 403);
    let other = app.account("other");
    let intruder = signed_in(&app, &other).await;
    assert_eq!(
        page(&intruder, &app.url("campaigns/00001")).await.0,
        404,
        "another account's campaign 00001 does not exist for it"
    );
}

#[tokio::test]
async fn the_card_honours_typecont_and_shows_events_with_author_and_line() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let client = signed_in(&app, &shop).await;
    let added = client
        .get(app.url(&format!(
            "rest?typereq=addcont&typecont=lead&phone=0123456789&name=Jan&login=shop&password={}",
            shop.password
        )))
        .send()
        .await
        .expect("addcont")
        .text()
        .await
        .expect("xml");
    let id: u64 = added
        .split("<id>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|id| id.parse().ok())
        .expect("new id");
    let event = client
        .post(app.url("rest"))
        .form(&[
            ("typereq", "addevent"),
            ("id", &id.to_string()),
            ("typecont", "lead"),
            ("subj", "Входящий Звонок"),
            ("desc", "Длительность 3:54"),
            ("x_pstn", "+79012222222"),
            ("login", "shop"),
            ("password", &shop.password),
        ])
        .send()
        .await
        .expect("addevent")
        .text()
        .await
        .expect("xml");
    assert!(event.contains("<result>ok</result>"), "{event}");
    for typecont in ["lead", "Лид", ""] {
        let (status, card) = page(
            &client,
            &app.url(&format!("card?id={id}&typecont={typecont}")),
        )
        .await;
        assert_eq!(status, 200, "{typecont}");
        for shown in [
            "Входящий Звонок",
            "Длительность 3:54",
            "(shop)",
            "href=\"telf:+79012222222\"",
            "href=\"telf:0123456789\"",
        ] {
            assert!(card.contains(shown), "{typecont}: the card shows {shown:?}");
        }
    }
    for other in ["contact", "company", "partner"] {
        let (status, card) =
            page(&client, &app.url(&format!("card?id={id}&typecont={other}"))).await;
        assert_eq!(status, 404, "{other}");
        assert!(!card.contains("Входящий Звонок"));
    }
}
