//! The SerwerSMS contacts & groups API over real HTTP: the request styles of the official
//! clients, the `.xml` format, paging, search, import, and every error code.

use serde_json::{json, Value};
use ssrm_tests::{error_code, spawn_app};

#[tokio::test]
async fn form_body_with_password_and_php_arrays_as_the_php_client_sends_it() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let credentials = format!(
        "username={}&password={}&system=client_php",
        shop.username, shop.password
    );
    let first = app
        .form("groups/add.json", &format!("{credentials}&name=Klienci"))
        .await["id"]
        .as_u64()
        .expect("id");
    let second = app
        .form("groups/add.json", &format!("{credentials}&name=VIP"))
        .await["id"]
        .as_u64()
        .expect("id");
    let added = app
        .form(
            "contacts/add.json",
            &format!("{credentials}&phone=500600700&email=jan%40example.com&first_name=Jan&group_id%5B0%5D={first}&group_id%5B1%5D={second}"),
        )
        .await;
    assert_eq!(added["success"], json!(true));
    assert!(added["id"].is_u64(), "id must be a JSON integer: {added}");
    for group in [first, second] {
        let listed = app
            .form(
                "contacts/index.json",
                &format!("{credentials}&group_id={group}"),
            )
            .await;
        assert_eq!(
            listed["items"][0]["phone"],
            json!("+48500600700"),
            "group {group}: {listed}"
        );
        assert_eq!(listed["items"][0]["group_id"], json!(group));
    }
}

#[tokio::test]
async fn json_body_with_password_and_no_format_suffix() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let answer = app
        .client
        .post(app.url("groups/add"))
        .json(&json!({"username": shop.username, "password": shop.password, "name": "Bez sufiksu", "system": "client_java"}))
        .send()
        .await
        .expect("request");
    assert_eq!(answer.headers()["content-type"], "application/json");
    let answer: Value = answer.json().await.expect("json");
    assert_eq!(answer["success"], json!(true));
    // A trailing slash is tolerated.
    let view = app
        .call(&shop.token, "groups/view/", json!({"id": answer["id"]}))
        .await;
    assert_eq!(
        view,
        json!({"id": answer["id"], "name": "Bez sufiksu", "count": 0})
    );
}

#[tokio::test]
async fn bearer_token_wins_over_wrong_form_credentials() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let answer: Value = app
        .client
        .post(app.url("groups/index.json"))
        .bearer_auth(&shop.token)
        .form(&[("username", "nobody"), ("password", "wrong")])
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(
        answer,
        json!({"paging": {"page": 1, "count": 1}, "items": []})
    );
}

#[tokio::test]
async fn xml_format_has_the_json_structure() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let response = app
        .client
        .post(app.url("groups/add.xml"))
        .bearer_auth(&shop.token)
        .form(&[("name", "Grupa <&>")])
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.headers()["content-type"],
        "application/xml; charset=utf-8"
    );
    let body = response.text().await.expect("text");
    assert!(
        body.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><success>true</success><id>"
        ),
        "{body}"
    );
    let listed = app
        .client
        .post(app.url("groups/index.xml"))
        .bearer_auth(&shop.token)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    assert!(
        listed.contains("<paging><page>1</page><count>1</count></paging><items><item><id>"),
        "{listed}"
    );
    assert!(
        listed.contains("<name>Grupa &lt;&amp;&gt;</name><count>0</count></item></items>"),
        "{listed}"
    );
    let error = app
        .client
        .post(app.url("contacts/view.xml"))
        .bearer_auth(&shop.token)
        .form(&[("id", "12345")])
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    assert_eq!(
        error,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><error><code>1004</code><type>InvalidID</type><message>Nieprawidłowy identyfikator: id</message></error>"
    );
}

#[tokio::test]
async fn contacts_index_pages_count_pages_and_search_finds_phones_in_any_form() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    for n in 0..12 {
        let phone = format!("5006007{n:02}");
        let added = app
            .call(
                &shop.token,
                "contacts/add.json",
                json!({"phone": phone, "last_name": format!("Nazwisko {n:02}")}),
            )
            .await;
        assert_eq!(added["success"], json!(true), "{added}");
    }
    let page = app
        .call(
            &shop.token,
            "contacts/index.json",
            json!({"page": 3, "limit": "5"}),
        )
        .await;
    assert_eq!(page["paging"], json!({"page": 3, "count": 3}));
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    for typed in [
        "500600705",
        "48500600705",
        "+48500600705",
        "+48 500 600 705",
    ] {
        let found = app
            .call(&shop.token, "contacts/index.json", json!({"search": typed}))
            .await;
        assert_eq!(
            found["items"].as_array().map(Vec::len),
            Some(1),
            "search {typed}: {found}"
        );
        assert_eq!(found["items"][0]["phone"], json!("+48500600705"));
    }
    let sorted = app
        .call(
            &shop.token,
            "contacts/index.json",
            json!({"sort": "last_name", "order": "desc", "limit": 1}),
        )
        .await;
    assert_eq!(sorted["items"][0]["last_name"], json!("Nazwisko 11"));
    assert_eq!(sorted["items"][0]["group_id"], Value::Null);
}

#[tokio::test]
async fn group_id_none_lists_only_contacts_without_a_group() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let group = app
        .created(&shop.token, "groups/add.json", json!({"name": "G"}))
        .await;
    app.call(
        &shop.token,
        "contacts/add.json",
        json!({"phone": "500600700", "group_id": group}),
    )
    .await;
    app.call(
        &shop.token,
        "contacts/add.json",
        json!({"phone": "600700800", "group_id": "none"}),
    )
    .await;
    let none = app
        .call(
            &shop.token,
            "contacts/index.json",
            json!({"group_id": "none"}),
        )
        .await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(none["items"][0]["phone"], json!("+48600700800"));
}

#[tokio::test]
async fn unknown_group_id_on_add_and_edit_is_ignored_as_the_official_suites_expect() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let added = app
        .call(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "500600700", "group_id": 123}),
        )
        .await;
    assert_eq!(added["success"], json!(true), "{added}");
    let edited = app
        .call(
            &shop.token,
            "contacts/edit.json",
            json!({"id": added["id"], "phone": "500600700", "group_id": 123}),
        )
        .await;
    assert_eq!(edited, json!({"success": true, "id": added["id"]}));
}

#[tokio::test]
async fn import_creates_a_group_holding_exactly_the_imported_contacts() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    app.call(
        &shop.token,
        "contacts/add.json",
        json!({"phone": "700800900"}),
    )
    .await;
    // `contact` as a string holding a JSON array, as the Java and C# clients send it.
    let contacts = json!([{"phone": "500600700", "first_name": "A"}, {"phone": "600700800", "email": "b@example.com"}, {"phone": "12"}]).to_string();
    let report = app
        .call(
            &shop.token,
            "contacts/import.json",
            json!({"group_name": "Import", "contact": contacts}),
        )
        .await;
    assert_eq!(report["success"], json!(true));
    assert_eq!(
        (report["correct"].clone(), report["failed"].clone()),
        (json!(2), json!(1))
    );
    let listed = app
        .call(
            &shop.token,
            "contacts/index.json",
            json!({"group_id": report["id"]}),
        )
        .await;
    let phones: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["phone"].as_str())
        .collect();
    assert_eq!(phones, ["+48500600700", "+48600700800"]);
    let group = app
        .call(&shop.token, "groups/view.json", json!({"id": report["id"]}))
        .await;
    assert_eq!(group["count"], json!(2));
}

#[tokio::test]
async fn groups_check_lists_the_groups_of_every_contact_with_the_phone() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let a = app
        .created(&shop.token, "groups/add.json", json!({"name": "A"}))
        .await;
    let b = app
        .created(&shop.token, "groups/add.json", json!({"name": "B"}))
        .await;
    let contact = app
        .created(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "+48500600700", "group_id": [a, b]}),
        )
        .await;
    let check = app
        .call(
            &shop.token,
            "groups/check.json",
            json!({"phone": "500 600 700"}),
        )
        .await;
    // The document writes this contact id as a string ("id":"228274991"); group ids stay numbers.
    let contact = contact
        .as_u64()
        .expect("contacts/add answers a number")
        .to_string();
    assert_eq!(
        check,
        json!({"items": [{"id": contact, "group_id": a, "group_name": "A"}, {"id": contact, "group_id": b, "group_name": "B"}]})
    );
}

#[tokio::test]
async fn deleting_ids_given_as_a_list_and_groups_with_their_contacts() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let group = app
        .created(&shop.token, "groups/add.json", json!({"name": "G"}))
        .await;
    let in_group = app
        .created(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "500600700", "group_id": group}),
        )
        .await;
    let x = app
        .created(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "600700800"}),
        )
        .await;
    let y = app
        .created(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "700800900"}),
        )
        .await;
    assert_eq!(
        app.call(&shop.token, "contacts/delete.json", json!({"id": [x, y]}))
            .await,
        json!({"success": true})
    );
    assert_eq!(
        app.call(
            &shop.token,
            "groups/delete.json",
            json!({"id": group, "delete_contacts": "true"})
        )
        .await,
        json!({"success": true})
    );
    assert_eq!(
        error_code(
            &app.call(&shop.token, "contacts/view.json", json!({"id": in_group}))
                .await
        ),
        Some(1004)
    );
    let all = app
        .call(&shop.token, "contacts/index.json", json!({}))
        .await;
    assert_eq!(all["items"], json!([]));
}

/// Provokes each error code the API answers, always with HTTP 200 and the error object.
#[tokio::test]
async fn every_error_code_is_answered_as_an_error_object() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let expired =
        resolver_server::domain::create_token(&app.store, shop.id(), None, Some(0)).expect("token");
    let cases: Vec<(u16, Value)> = vec![
        (
            1000,
            app.call(&shop.token, "contacts/frobnicate.json", json!({}))
                .await,
        ),
        (1000, app.call(&shop.token, "nothing/here", json!({})).await),
        (
            1001,
            app.form("contacts/index.json", "username=shop&password=wrong")
                .await,
        ),
        (1001, app.form("contacts/index.json", "").await),
        (
            1004,
            app.call(&shop.token, "contacts/view.json", json!({"id": 999_999}))
                .await,
        ),
        (
            1004,
            app.call(
                &shop.token,
                "groups/edit.json",
                json!({"id": 999_999, "name": "x"}),
            )
            .await,
        ),
        (
            1006,
            app.call(
                &shop.token,
                "groups/add.json",
                json!({"name": "n".repeat(101)}),
            )
            .await,
        ),
        (
            1006,
            app.call(
                &shop.token,
                "contacts/add.json",
                json!({"phone": "500600700", "email": "not-an-email"}),
            )
            .await,
        ),
        (
            1006,
            app.call(
                &shop.token,
                "contacts/index.json",
                json!({"sort": "password"}),
            )
            .await,
        ),
        (
            1006,
            app.call(
                &shop.token,
                "contacts/add.json",
                json!({"phone": "500600700", "suid": "not-a-uuid"}),
            )
            .await,
        ),
        (
            1011,
            app.call(&expired.secret, "groups/index.json", json!({}))
                .await,
        ),
        (
            1012,
            app.call(
                "ssrm_0000000000000000000000000000000000000000000000000",
                "groups/index.json",
                json!({}),
            )
            .await,
        ),
        (
            1012,
            app.call("garbage", "groups/index.json", json!({})).await,
        ),
        (
            2000,
            app.call(
                &shop.token,
                "contacts/add.json",
                json!({"email": "a@example.com"}),
            )
            .await,
        ),
        (
            2000,
            app.call(&shop.token, "groups/add.json", json!({"name": null}))
                .await,
        ),
        (
            2001,
            app.call(&shop.token, "contacts/add.json", json!({"phone": "123"}))
                .await,
        ),
        (
            2001,
            app.call(&shop.token, "groups/check.json", json!({"phone": "guest"}))
                .await,
        ),
        (
            2002,
            app.call(&shop.token, "error/9999.json", json!({})).await,
        ),
    ];
    for (code, answer) in cases {
        assert_eq!(error_code(&answer), Some(i64::from(code)), "{answer}");
        let error = &answer["error"];
        assert!(
            error["type"].as_str().is_some_and(|t| !t.is_empty()),
            "{answer}"
        );
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn error_view_answers_the_object_for_a_known_code_in_the_asked_language() {
    let app = spawn_app().await;
    let polish: Value = app
        .client
        .post(app.url("error/1001.json"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(
        polish,
        json!({"error": {"code": 1001, "type": "InvalidUser", "message": "Nieprawidłowy login lub hasło"}})
    );
    let english: Value = app
        .client
        .post(app.url("error/1001.json"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(
        english["error"]["message"],
        json!("Invalid username or password")
    );
}
