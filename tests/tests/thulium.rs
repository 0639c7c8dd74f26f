//! The Thulium-compatible campaign API over real HTTP: the documentation's example, every
//! refusal reason, big and concurrent batches, tenant isolation and malformed requests.

use resolver_server::demo::seed_thulium_example;
use resolver_server::domain::{self, CampaignId, ContactId, ContactInput};
use serde_json::{json, Value};
use ssrm_tests::{spawn_app, TestAccount, TestApp};

const SEED_BODY: &str = r#"{ "records": [ { "customer_id": 441, "status_id": 3 }, { "customer_id": 445, "status_id": 1 }, { "customer_id": 448, "status_id": 1 } ] }"#;

async fn post(app: &TestApp, login: (&str, &str), path: &str, body: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .basic_auth(login.0, Some(login.1))
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON answer"))
}

fn login(account: &TestAccount) -> (&str, &str) {
    (&account.username, &account.password)
}

/// `POST`s `body` as a batch of records into campaign `id`, as `account`.
async fn batch(app: &TestApp, account: &TestAccount, id: &CampaignId, body: Value) -> (u16, Value) {
    let path = format!("api/batch/crm_outbounds/{id}/records");
    post(app, login(account), &path, &body.to_string()).await
}

/// The JSON answer of a request that must get one.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

fn contacts(app: &TestApp, account: &TestAccount, count: usize) -> Vec<ContactId> {
    let items: Vec<ContactInput> = (0..count)
        .map(|n| ContactInput {
            phone: Some(format!("5{:08}", n)),
            ..ContactInput::default()
        })
        .collect();
    app.import(account, "Kampania", &items)
}

fn campaign(app: &TestApp, account: &TestAccount) -> CampaignId {
    domain::add_campaign(&app.store, account.id(), "Oddzwonienia")
        .expect("campaign")
        .id
}

#[tokio::test]
async fn the_documentation_example_gives_the_documented_answer() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    seed_thulium_example(&app.store, shop.id()).expect("seed");
    let existing = app
        .store
        .campaign_record(
            shop.id(),
            &CampaignId::parse("00001").expect("id"),
            ContactId(445),
        )
        .expect("store")
        .expect("record");
    let (status, answer) = post(
        &app,
        ("api_user", "api_pass"),
        "api/batch/crm_outbounds/00001/records",
        SEED_BODY,
    )
    .await;
    assert_eq!(status, 200);
    let keys: Vec<&String> = answer.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["441", "445", "448"]);
    let added = answer["441"]["record_id"]
        .as_u64()
        .expect("record id is an integer");
    assert_eq!(
        answer["441"],
        json!({"http_status": 201, "record_id": added, "status": "ADDED"})
    );
    assert_eq!(
        answer["445"],
        json!({"http_status": 400, "record_id": existing.record_id, "status": "ALREADY_EXISTS"})
    );
    assert_eq!(
        answer["448"],
        json!({"http_status": 400, "status": "FAILED", "message": "Customer not found."})
    );
}

#[tokio::test]
async fn the_documentation_curl_example_runs_against_the_demo_server() {
    let app = spawn_app().await;
    resolver_server::demo::ensure_demo(&app.store, app.dir.path()).expect("demo data");
    let url = app.url("api/batch/crm_outbounds/00001/records");
    let output = tokio::task::spawn_blocking(move || {
        // The documentation's command, only the host changed.
        std::process::Command::new("curl")
            .args([
                "-s",
                "-u",
                "api_user:api_pass",
                "-k",
                "-X",
                "POST",
                "-H",
                "Content-type: application/json",
                "-d",
                SEED_BODY,
                &url,
            ])
            .output()
            .expect("curl runs")
    })
    .await
    .expect("curl");
    let answer: Value = serde_json::from_slice(&output.stdout).expect("JSON answer");
    assert_eq!(answer["441"]["status"], json!("ADDED"), "{answer}");
    assert_eq!(answer["445"]["status"], json!("ALREADY_EXISTS"));
    assert_eq!(
        answer["448"],
        json!({"http_status": 400, "status": "FAILED", "message": "Customer not found."})
    );
}

#[tokio::test]
async fn every_refusal_reason_is_a_failed_record_and_the_rest_still_go_in() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let other = app.account("other");
    let ids = contacts(&app, &shop, 9);
    let foreign = contacts(&app, &other, 1)[0];
    let id = campaign(&app, &shop);
    let body = json!({"records": [
        {"customer_id": ids[0], "status_id": 1},
        {"customer_id": foreign.0, "status_id": 1},
        {"customer_id": 999_999_999u64, "status_id": 1},
        {"customer_id": ids[1], "status_id": 99},
        {"customer_id": ids[2], "status_id": 4, "next_call_date": "2030-01-01 10:00"},
        {"customer_id": ids[3], "status_id": 4, "agent_login": "shop"},
        {"customer_id": ids[4], "status_id": 7, "next_call_date": "jutro"},
        {"customer_id": ids[5], "status_id": 4, "agent_login": "nobody", "next_call_date": "2030-01-01 10:00"},
        {"status_id": 1},
        {"customer_id": ids[6], "status_id": "x"},
        {"customer_id": ids[7].0.to_string(), "status_id": "4", "agent_login": "shop", "next_call_date": "2030-01-01 10:00", "order": 50},
    ]});
    let (status, answer) = post(
        &app,
        login(&shop),
        &format!("api/batch/crm_outbounds/{id}/records"),
        &body.to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let message = |key: String| answer[key.as_str()]["message"].as_str().map(str::to_owned);
    assert_eq!(answer[ids[0].0.to_string()]["status"], json!("ADDED"));
    assert_eq!(answer[ids[7].0.to_string()]["status"], json!("ADDED"));
    assert_eq!(
        message(foreign.0.to_string()).as_deref(),
        Some("Customer not found."),
        "another account's contact looks unknown"
    );
    for (key, expected) in [
        ("999999999".to_owned(), "Customer not found."),
        (ids[1].0.to_string(), "Status not found in this campaign."),
        (
            ids[2].0.to_string(),
            "agent_login is required for status MY_RECORD.",
        ),
        (
            ids[3].0.to_string(),
            "next_call_date is required for statuses MY_RECORD and CALL_NO_SOONER_THAN.",
        ),
        (
            ids[4].0.to_string(),
            "next_call_date must have the format YYYY-MM-DD hh:mm.",
        ),
        (ids[5].0.to_string(), "Agent not found."),
        (
            "#8".to_owned(),
            "customer_id is required and must be an integer.",
        ),
        (
            ids[6].0.to_string(),
            "status_id is required and must be an integer.",
        ),
    ] {
        assert_eq!(message(key.clone()).as_deref(), Some(expected), "{key}");
    }
    // The answers of the added records name the records stored (written together, after the
    // refusals were decided).
    for added in [ids[0], ids[7]] {
        let stored = app
            .store
            .campaign_record(shop.id(), &id, added)
            .expect("store")
            .expect("added");
        assert_eq!(
            answer[added.0.to_string()]["record_id"],
            json!(stored.record_id),
            "{added}"
        );
    }
    for failed in [ids[1], ids[2], ids[3], ids[4], ids[5], ids[6]] {
        assert!(
            app.store
                .campaign_record(shop.id(), &id, failed)
                .expect("store")
                .is_none(),
            "nothing half-written for {failed}"
        );
    }
    let polish = app
        .client
        .post(app.url(&format!("api/batch/crm_outbounds/{id}/records")))
        .basic_auth(&shop.username, Some(&shop.password))
        .header("accept-language", "pl-PL,pl;q=0.9,en;q=0.5")
        .json(&json!({"records": [{"customer_id": 999_999_999u64}]}))
        .send()
        .await
        .expect("request")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(
        polish["999999999"]["message"],
        json!("Nie znaleziono klienta.")
    );
}

#[tokio::test]
async fn a_thousand_record_batch_goes_in_and_one_more_is_refused_whole() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let ids = contacts(&app, &shop, 1001);
    let id = campaign(&app, &shop);
    let records: Vec<Value> = ids[..1000]
        .iter()
        .map(|c| json!({"customer_id": c.0, "status_id": 1}))
        .collect();
    let (status, answer) = batch(&app, &shop, &id, json!({"records": records})).await;
    assert_eq!(status, 200);
    let answers = answer.as_object().expect("object");
    assert_eq!(answers.len(), 1000);
    assert!(answers.values().all(|a| a["status"] == json!("ADDED")));
    let too_many: Vec<Value> = ids.iter().map(|c| json!({"customer_id": c.0})).collect();
    let (status, error) = batch(&app, &shop, &id, json!({"records": too_many})).await;
    assert_eq!(status, 400);
    assert_eq!(
        error["errors"][0]["message"],
        json!("Too many records: at most 1000 in one request.")
    );
    assert!(app
        .store
        .campaign_record(shop.id(), &id, ids[1000])
        .expect("store")
        .is_none());
}

#[tokio::test]
async fn concurrent_batches_never_add_a_customer_twice() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let ids = contacts(&app, &shop, 150);
    let id = campaign(&app, &shop);
    let body =
        json!({"records": ids.iter().map(|c| json!({"customer_id": c.0})).collect::<Vec<_>>()})
            .to_string();
    let path = format!("api/batch/crm_outbounds/{id}/records");
    let batches = (0..4).map(|_| post(&app, login(&shop), &path, &body));
    let answers = futures_util::future::join_all(batches).await;
    for customer in &ids {
        let key = customer.0.to_string();
        let added = answers
            .iter()
            .filter(|(_, answer)| answer[&key]["status"] == json!("ADDED"))
            .count();
        assert_eq!(added, 1, "customer {key} added {added} times");
        let record_ids: Vec<&Value> = answers
            .iter()
            .map(|(_, answer)| &answer[&key]["record_id"])
            .collect();
        assert!(
            record_ids.windows(2).all(|pair| pair[0] == pair[1]),
            "every batch names the one record: {record_ids:?}"
        );
    }
}

#[tokio::test]
async fn another_account_cannot_see_or_touch_a_campaign_or_its_records() {
    let app = spawn_app().await;
    let a = app.account("alpha");
    let b = app.account("beta");
    let customer = contacts(&app, &a, 1)[0];
    let id = campaign(&app, &a);
    let (_, added) = batch(
        &app,
        &a,
        &id,
        json!({"records": [{"customer_id": customer.0}]}),
    )
    .await;
    assert_eq!(added[customer.0.to_string()]["status"], json!("ADDED"));

    let (status, error) = batch(
        &app,
        &b,
        &id,
        json!({"records": [{"customer_id": customer.0}]}),
    )
    .await;
    assert_eq!(
        (status, error["errors"][0]["message"].clone()),
        (404, json!("Campaign not found."))
    );
    let view = app
        .client
        .get(app.url(&format!("api/crm_outbounds/{id}/records/{customer}")))
        .basic_auth("beta", Some(&b.password))
        .send()
        .await
        .expect("request");
    assert_eq!(view.status(), 404);
    let removed = app
        .client
        .delete(app.url(&format!(
            "api/batch/crm_outbounds/{id}/records?customer_id[]={customer}"
        )))
        .basic_auth("beta", Some(&b.password))
        .send()
        .await
        .expect("request");
    assert_eq!(removed.status(), 404);
    // B's own campaign cannot take A's customer either.
    let own = campaign(&app, &b);
    let (_, answer) = batch(
        &app,
        &b,
        &own,
        json!({"records": [{"customer_id": customer.0}]}),
    )
    .await;
    assert_eq!(
        answer[customer.0.to_string()]["message"],
        json!("Customer not found.")
    );
    assert!(
        app.store
            .campaign_record(a.id(), &id, customer)
            .expect("store")
            .is_some(),
        "A's record is still there"
    );
}

#[tokio::test]
async fn whole_request_errors_have_a_request_id_a_message_and_a_code() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let id = campaign(&app, &shop);
    let path = format!("api/batch/crm_outbounds/{id}/records");
    let unauthenticated = app
        .client
        .post(app.url(&path))
        .json(&json!({"records": []}))
        .send()
        .await
        .expect("request");
    assert_eq!(unauthenticated.status(), 401);
    assert!(unauthenticated.headers().contains_key("www-authenticate"));
    let cases: Vec<(u16, String, &str, &str)> = vec![
        (401, path.clone(), "application/json", r#"{"records": []}"#),
        (
            404,
            "api/batch/crm_outbounds/00099/records".into(),
            "application/json",
            r#"{"records": []}"#,
        ),
        (
            404,
            "api/batch/crm_outbounds/1/records".into(),
            "application/json",
            r#"{"records": []}"#,
        ),
        (
            400,
            path.clone(),
            "application/json",
            r#"{"records": [ {"customer_id": 1 "#,
        ),
        (
            400,
            path.clone(),
            "application/json",
            r#"{"records": "all"}"#,
        ),
        (400, path.clone(), "application/json", "[]"),
        (415, path.clone(), "text/plain", r#"{"records": []}"#),
    ];
    for (expected, path, content_type, body) in cases {
        let password = if expected == 401 {
            "wrong password"
        } else {
            shop.password.as_str()
        };
        let response = app
            .client
            .post(app.url(&path))
            .basic_auth(&shop.username, Some(password))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), expected, "{path} {body}");
        let answer: Value = response.json().await.expect("JSON error");
        assert!(
            answer["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{answer}"
        );
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
        assert!(answer["errors"][0]["code"].is_u64(), "{answer}");
    }
    let polish = json_of(
        app.client
            .post(app.url("api/batch/crm_outbounds/00099/records"))
            .basic_auth(&shop.username, Some(&shop.password))
            .header("accept-language", "pl")
            .json(&json!({"records": []})),
    )
    .await;
    assert_eq!(
        polish["errors"][0]["message"],
        json!("Nie znaleziono kampanii.")
    );
}

#[tokio::test]
async fn single_record_view_update_removal_and_statuses() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let customer = contacts(&app, &shop, 1)[0];
    let id = campaign(&app, &shop);
    let (status, added) = post(
        &app,
        login(&shop),
        &format!("api/crm_outbounds/{id}/records"),
        &json!({"customer_id": customer.0, "status_id": 3}).to_string(),
    )
    .await;
    assert_eq!(status, 201);
    let record_id = added["record_id"]
        .as_str()
        .expect("record id as a string")
        .to_owned();
    let (again, error) = post(
        &app,
        login(&shop),
        &format!("api/crm_outbounds/{id}/records"),
        &json!({"customer_id": customer.0}).to_string(),
    )
    .await;
    assert_eq!(
        (again, error["errors"][0]["message"].clone()),
        (400, json!("Customer is already in the campaign."))
    );

    let record_url = app.url(&format!("api/crm_outbounds/{id}/records/{customer}"));
    let view = json_of(
        app.client
            .get(&record_url)
            .basic_auth("shop", Some(&shop.password)),
    )
    .await;
    assert_eq!(view["record_id"].to_string(), record_id);
    assert_eq!(
        (
            view["system_status"].clone(),
            view["status_id"].clone(),
            view["phone_number"].clone()
        ),
        (json!("CALL"), json!(3), json!("+48500000000"))
    );

    let refused = app
        .client
        .put(&record_url)
        .basic_auth("shop", Some(&shop.password))
        .json(&json!({"status_id": 4}))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 400);
    let changed = json_of(app
        .client
        .put(&record_url)
        .basic_auth("shop", Some(&shop.password))
        .json(&json!({"status_id": 4, "agent_login": "shop", "next_call_date": "2030-05-24 12:24", "order": 50}))).await;
    assert_eq!(
        (
            changed["system_status"].clone(),
            changed["agent_login"].clone(),
            changed["next_call_date"].clone(),
            changed["order"].clone()
        ),
        (
            json!("MY_RECORD"),
            json!("shop"),
            json!("2030-05-24 12:24"),
            json!(50)
        )
    );

    let statuses = json_of(
        app.client
            .get(app.url(&format!("api/outbounds/{id}/statuses")))
            .basic_auth("shop", Some(&shop.password)),
    )
    .await;
    assert_eq!(
        statuses[2],
        json!({"system_status": "CALL", "status_id": "3", "dictionary_status_id": null, "name": "Do zadzwonienia"})
    );
    assert_eq!(statuses.as_array().map(Vec::len), Some(8));

    let removed = json_of(
        app.client
            .delete(app.url(&format!(
            "api/batch/crm_outbounds/{id}/records?customer_id[]={customer}&customer_id[]=424242"
        )))
            .basic_auth("shop", Some(&shop.password)),
    )
    .await;
    assert_eq!(
        removed[customer.0.to_string()],
        json!({"http_status": 200, "record_id": view["record_id"], "status": "REMOVED"})
    );
    assert_eq!(
        removed["424242"],
        json!({"http_status": 404, "status": "NOT_EXIST"})
    );
    assert!(app
        .store
        .campaign_record(shop.id(), &id, customer)
        .expect("store")
        .is_none());
}

#[tokio::test]
async fn an_api_token_works_in_place_of_the_password() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let id = campaign(&app, &shop);
    let response = app
        .client
        .get(app.url(&format!("api/outbounds/{id}/statuses")))
        .basic_auth("shop", Some(&shop.token))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let other = app.account("other");
    let mismatched = app
        .client
        .get(app.url(&format!("api/outbounds/{id}/statuses")))
        .basic_auth("other", Some(&shop.token))
        .send()
        .await
        .expect("request");
    assert_eq!(
        mismatched.status(),
        401,
        "a token works only with a login of its own account"
    );
    drop(other);
}

async fn get(app: &TestApp, login: (&str, &str), path: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(path))
        .basic_auth(login.0, Some(login.1))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON answer"))
}

/// Puts `customers` into campaign `id`, the even ones in status 3 (CALL), the odd ones in 1.
async fn records_in_two_statuses(
    app: &TestApp,
    account: &TestAccount,
    id: &CampaignId,
    customers: &[ContactId],
) {
    let records: Vec<Value> = customers
        .iter()
        .enumerate()
        .map(|(n, customer)| json!({"customer_id": customer.0, "status_id": if n % 2 == 0 { 3 } else { 1 }}))
        .collect();
    let (status, answer) = batch(app, account, id, json!({ "records": records })).await;
    assert_eq!(status, 200);
    assert!(
        answer
            .as_object()
            .expect("object")
            .values()
            .all(|v| v["status"] == json!("ADDED")),
        "{answer}"
    );
}

#[tokio::test]
async fn the_records_list_pages_and_filters_records_shaped_like_the_single_record_answer() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let customers = contacts(&app, &shop, 5);
    let id = campaign(&app, &shop);
    records_in_two_statuses(&app, &shop, &id, &customers).await;

    let mut listed = Vec::new();
    for page in 1..=3 {
        let (status, answer) = get(
            &app,
            login(&shop),
            &format!("api/crm_outbounds/{id}/records?page={page}&limit=2"),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["paging"], json!({"page": page, "count": 3}));
        for item in answer["items"].as_array().expect("items") {
            let customer = item["customer_id"].as_u64().expect("customer_id");
            let (_, single) = get(
                &app,
                login(&shop),
                &format!("api/crm_outbounds/{id}/records/{customer}"),
            )
            .await;
            assert_eq!(*item, single, "the single-record answer's shape");
            listed.push(ContactId(customer));
        }
    }
    assert_eq!(listed, customers, "every record once, in the order added");

    let (_, calls) = get(
        &app,
        login(&shop),
        &format!("api/crm_outbounds/{id}/records?status_id=3"),
    )
    .await;
    let statuses: Vec<&Value> = calls["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| &item["system_status"])
        .collect();
    assert_eq!(statuses, [&json!("CALL"); 3]);
    assert_eq!(calls["paging"], json!({"page": 1, "count": 1}));
    let (status, none) = get(
        &app,
        login(&shop),
        &format!("api/crm_outbounds/{id}/records?status_id=99&page=&limit="),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        none,
        json!({"items": [], "paging": {"page": 1, "count": 1}})
    );
}

#[tokio::test]
async fn the_records_list_refuses_like_the_other_calls() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let other = app.account("other");
    let id = campaign(&app, &shop);
    let path = format!("api/crm_outbounds/{id}/records");
    let anonymous = app
        .client
        .get(app.url(&path))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), 401);
    let anonymous: Value = anonymous.json().await.expect("JSON");
    assert_eq!(anonymous["errors"][0]["code"], json!(1001));
    for (login, path, status, code) in [
        (login(&other), path.clone(), 404, 1004),
        (
            login(&shop),
            "api/crm_outbounds/00099/records".into(),
            404,
            1004,
        ),
        (
            login(&shop),
            "api/crm_outbounds/1/records".into(),
            404,
            1004,
        ),
        (login(&shop), format!("{path}?status_id=abc"), 400, 1010),
        (login(&shop), format!("{path}?page=second"), 400, 1010),
        (login(&shop), format!("{path}?limit=-"), 400, 1010),
    ] {
        let (answer_status, answer) = get(&app, login, &path).await;
        assert_eq!(answer_status, status, "{path}: {answer}");
        assert_eq!(answer["errors"][0]["code"], json!(code), "{path}: {answer}");
        assert!(answer["request_id"].is_string());
    }
}

#[tokio::test]
async fn deleting_a_contact_takes_it_out_of_every_campaign() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let customers = contacts(&app, &shop, 2);
    let first = campaign(&app, &shop);
    let second = campaign(&app, &shop);
    for id in [&first, &second] {
        records_in_two_statuses(&app, &shop, id, &customers).await;
    }
    let deleted = app
        .call(
            &shop.token,
            "contacts/delete.json",
            json!({"id": customers[0].0}),
        )
        .await;
    assert_eq!(deleted, json!({"success": true}));
    for id in [&first, &second] {
        let (status, answer) = get(
            &app,
            login(&shop),
            &format!("api/crm_outbounds/{id}/records/{}", customers[0]),
        )
        .await;
        assert_eq!(status, 404, "{answer}");
        assert_eq!(answer["errors"][0]["code"], json!(1005));
        let (_, list) = get(
            &app,
            login(&shop),
            &format!("api/crm_outbounds/{id}/records"),
        )
        .await;
        let left: Vec<&Value> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| &item["customer_id"])
            .collect();
        assert_eq!(left, [&json!(customers[1].0)], "the other customer stays");
    }
    assert!(
        domain::contact_campaigns(&app.store, shop.id(), customers[0])
            .expect("campaigns")
            .is_empty()
    );
}
