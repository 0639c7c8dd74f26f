//! Tenant isolation (no call of one account reads or touches another's data) and hostile
//! input (every malformed request gets a clear error, nothing half-written, the server stays up).

use serde_json::{json, Value};
use ssrm_tests::{error_code, spawn_app, TestApp};

async fn snapshot(app: &TestApp, token: &str) -> (Value, Value) {
    let groups = app.call(token, "groups/index.json", json!({})).await;
    let contacts = app.call(token, "contacts/index.json", json!({})).await;
    (groups, contacts)
}

#[tokio::test]
async fn another_accounts_ids_are_unknown_ids_and_nothing_of_theirs_changes() {
    let app = spawn_app().await;
    let a = app.account("alpha");
    let b = app.account("beta");
    let group = app
        .created(&a.token, "groups/add.json", json!({"name": "A only"}))
        .await;
    let contact = app
        .created(
            &a.token,
            "contacts/add.json",
            json!({"phone": "500600700", "first_name": "Ala", "group_id": group}),
        )
        .await;
    let before = snapshot(&app, &a.token).await;

    let attempts = [
        ("groups/view.json", json!({"id": group})),
        ("groups/edit.json", json!({"id": group, "name": "hijacked"})),
        (
            "groups/delete.json",
            json!({"id": group, "delete_contacts": true}),
        ),
        ("contacts/view.json", json!({"id": contact})),
        (
            "contacts/edit.json",
            json!({"id": contact, "phone": "600700800", "first_name": "Ewa"}),
        ),
        ("contacts/delete.json", json!({"id": contact})),
        ("contacts/delete.json", json!({"id": [contact]})),
        ("contacts/index.json", json!({"group_id": group})),
    ];
    for (path, body) in attempts {
        let answer = app.call(&b.token, path, body.clone()).await;
        assert_eq!(error_code(&answer), Some(1004), "{path} {body}: {answer}");
    }
    // Adding to A's group id is "an unknown group": B's contact is created, A's group untouched.
    let added = app
        .call(
            &b.token,
            "contacts/add.json",
            json!({"phone": "700800900", "group_id": group}),
        )
        .await;
    assert_eq!(added["success"], json!(true));
    // B cannot find A's contact by phone or search.
    assert_eq!(
        app.call(&b.token, "groups/check.json", json!({"phone": "500600700"}))
            .await,
        json!({"items": []})
    );
    let searched = app
        .call(&b.token, "contacts/index.json", json!({"search": "Ala"}))
        .await;
    assert_eq!(searched["items"], json!([]));

    assert_eq!(
        snapshot(&app, &a.token).await,
        before,
        "account A's data changed"
    );
}

#[tokio::test]
async fn malformed_json_wrong_types_and_invalid_utf8_are_invalid_data() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let raw = |content_type: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("contacts/add.json"))
            .bearer_auth(&shop.token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"{\"phone\": \"500600700\"".to_vec()),
        ("application/json", b"[\"phone\"]".to_vec()),
        (
            "application/json",
            br#"{"phone": {"nested": true}}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"phone": "500600700", "group_id": {"a": "x"}}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"phone": "500600700", "first_name": ["a"]}"#.to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"phone=500600700&first_name=\xff\xfe".to_vec(),
        ),
        (
            "application/json",
            b"{\"phone\": \"500600700\", \"city\": \"\xc3\x28\"}".to_vec(),
        ),
    ];
    for (content_type, body) in cases {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let response = raw(content_type, body).await.expect("request");
        assert_eq!(response.status(), 200, "{shown}");
        let answer: Value = response.json().await.expect("json");
        assert_eq!(error_code(&answer), Some(1006), "{shown}: {answer}");
    }
    assert_eq!(
        app.call(&shop.token, "contacts/index.json", json!({}))
            .await["items"],
        json!([]),
        "nothing may be stored"
    );
}

#[tokio::test]
async fn too_long_fields_store_nothing() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let long = "x".repeat(300);
    for field in [
        "first_name",
        "last_name",
        "company",
        "tax_id",
        "address",
        "city",
        "description",
        "email",
    ] {
        let answer = app
            .call(
                &shop.token,
                "contacts/add.json",
                json!({"phone": "500600700", field: long}),
            )
            .await;
        assert_eq!(error_code(&answer), Some(1006), "{field}: {answer}");
    }
    let answer = app
        .call(&shop.token, "groups/add.json", json!({"name": long}))
        .await;
    assert_eq!(error_code(&answer), Some(1006));
    let contact = app
        .created(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "500600700", "city": "Łódź"}),
        )
        .await;
    let edit = app
        .call(
            &shop.token,
            "contacts/edit.json",
            json!({"id": contact, "phone": "600700800", "city": long}),
        )
        .await;
    assert_eq!(error_code(&edit), Some(1006));
    let view = app
        .call(&shop.token, "contacts/view.json", json!({"id": contact}))
        .await;
    assert_eq!(
        (view["phone"].clone(), view["city"].clone()),
        (json!("+48500600700"), json!("Łódź")),
        "a refused edit changes nothing"
    );
    assert_eq!(
        app.call(&shop.token, "groups/index.json", json!({})).await["items"],
        json!([])
    );
    assert_eq!(
        app.call(&shop.token, "contacts/index.json", json!({}))
            .await["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let answer = app.call(&shop.token, "contacts/add.json", json!({"phone": "500600700", "system": "client_python", "favourite_colour": "green", "test": null})).await;
    assert_eq!(answer["success"], json!(true), "{answer}");
}

#[tokio::test]
async fn a_ten_megabyte_body_is_refused_with_413_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let huge = format!(
        "{{\"phone\":\"500600700\",\"description\":\"{}\"}}",
        "x".repeat(10 * 1024 * 1024)
    );
    let response = app
        .client
        .post(app.url("contacts/add.json"))
        .bearer_auth(&shop.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 413);
    let answer: Value = response.json().await.expect("json error object");
    assert_eq!(error_code(&answer), Some(1006));
    let after = app
        .call(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "500600700"}),
        )
        .await;
    assert_eq!(after["success"], json!(true));
    assert_eq!(
        app.call(&shop.token, "contacts/index.json", json!({}))
            .await["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn concurrent_adds_to_one_group_keep_its_count_exact() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let group = app
        .created(&shop.token, "groups/add.json", json!({"name": "Race"}))
        .await;
    let adds = (0..40).map(|n| {
        let body = json!({"phone": format!("5006007{n:02}"), "group_id": group});
        let app = &app;
        let token = shop.token.clone();
        async move { app.call(&token, "contacts/add.json", body).await }
    });
    for answer in futures_util::future::join_all(adds).await {
        assert_eq!(answer["success"], json!(true));
    }
    assert_eq!(
        app.call(&shop.token, "groups/view.json", json!({"id": group}))
            .await["count"],
        json!(40)
    );
}
