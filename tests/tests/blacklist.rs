//! SerwerSMS blacklist calls over real HTTP: add, check, index, delete as the official clients'
//! `Blacklist` classes call them, their errors, the contacts' `blacklist` flag, the `.xml` form
//! and isolation between accounts.

use resolver_server::domain::{self, Country, Phone};
use serde_json::{json, Value};
use ssrm_tests::{error_code, spawn_app, TestAccount, TestApp};

async fn call(app: &TestApp, account: &TestAccount, path: &str, body: Value) -> Value {
    app.call(&account.token, path, body).await
}

fn phones(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["phone"].as_str().expect("phone is a string"))
        .collect()
}

#[tokio::test]
async fn the_php_clients_blacklist_test_passes_with_documented_answer_types() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    // BlacklistTest.php: add('500600720'), index(), check('500600720'), delete('500600720').
    let added = call(
        &app,
        &shop,
        "blacklist/add.json",
        json!({"phone": "500600720"}),
    )
    .await;
    let id = added["id"].as_u64().expect("the id is an integer");
    assert_eq!(added, json!({"success": true, "id": id}));
    let listed = call(&app, &shop, "blacklist/index.json", json!({"phone": null})).await;
    assert_eq!(listed["paging"], json!({"page": 1, "count": 1}));
    assert_eq!(phones(&listed), ["+48500600720"]);
    let added_at = listed["items"][0]["added"].as_str().expect("a date");
    assert!(
        time::PrimitiveDateTime::parse(
            added_at,
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]")
        )
        .is_ok(),
        "{added_at}"
    );
    assert_eq!(
        call(
            &app,
            &shop,
            "blacklist/check.json",
            json!({"phone": "500600720"})
        )
        .await,
        json!({"exists": true})
    );
    assert_eq!(
        call(
            &app,
            &shop,
            "blacklist/delete.json",
            json!({"phone": "500600720"})
        )
        .await,
        json!({"success": true})
    );
    assert_eq!(
        call(
            &app,
            &shop,
            "blacklist/check.json",
            json!({"phone": "+48 500 600 720"})
        )
        .await,
        json!({"exists": false})
    );
    assert_eq!(
        call(&app, &shop, "blacklist/index.json", json!({})).await,
        json!({"paging": {"page": 1, "count": 1}, "items": []})
    );
}

#[tokio::test]
async fn adding_a_phone_twice_keeps_one_entry_in_any_spelling() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let first = call(
        &app,
        &shop,
        "blacklist/add.json",
        json!({"phone": "+48500600700"}),
    )
    .await;
    let again = call(
        &app,
        &shop,
        "blacklist/add.json",
        json!({"phone": "0048 500-600-700"}),
    )
    .await;
    assert_eq!(first, again);
    let listed = call(&app, &shop, "blacklist/index.json", json!({})).await;
    assert_eq!(phones(&listed), ["+48500600700"]);
}

#[tokio::test]
async fn index_filters_by_phone_and_pages() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    for phone in ["500600700", "500600701", "600700800"] {
        call(&app, &shop, "blacklist/add.json", json!({"phone": phone})).await;
    }
    let page = call(
        &app,
        &shop,
        "blacklist/index.json",
        json!({"page": 2, "limit": 2}),
    )
    .await;
    assert_eq!(page["paging"], json!({"page": 2, "count": 2}));
    assert_eq!(phones(&page), ["+48600700800"]);
    let one = call(
        &app,
        &shop,
        "blacklist/index.json",
        json!({"phone": "500 600 701"}),
    )
    .await;
    assert_eq!(phones(&one), ["+48500600701"]);
    let partial = call(
        &app,
        &shop,
        "blacklist/index.json",
        json!({"phone": "5006007"}),
    )
    .await;
    assert_eq!(phones(&partial), ["+48500600700", "+48500600701"]);
}

/// Every contact's `(id, blacklist)` from `contacts/index`, in id order.
async fn flags(app: &TestApp, shop: &TestAccount) -> Vec<(Value, Value)> {
    let index = call(app, shop, "contacts/index.json", json!({})).await;
    let mut flags: Vec<(Value, Value)> = index["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| (c["id"].clone(), c["blacklist"].clone()))
        .collect();
    flags.sort_by_key(|(id, _)| id.as_u64());
    flags
}

#[tokio::test]
async fn a_contacts_blacklist_flag_follows_the_blacklist_in_every_answer() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let listed_contact = call(
        &app,
        &shop,
        "contacts/add.json",
        json!({"phone": "500600700", "first_name": "Jan"}),
    )
    .await["id"]
        .clone();
    let other = call(
        &app,
        &shop,
        "contacts/add.json",
        json!({"phone": "600700800"}),
    )
    .await["id"]
        .clone();
    call(
        &app,
        &shop,
        "blacklist/add.json",
        json!({"phone": "+48500600700"}),
    )
    .await;
    assert_eq!(
        flags(&app, &shop).await,
        [
            (listed_contact.clone(), json!(true)),
            (other.clone(), json!(false))
        ]
    );
    let view = call(
        &app,
        &shop,
        "contacts/view.json",
        json!({"id": listed_contact}),
    )
    .await;
    assert_eq!(view["blacklist"], json!(true));
    // A contact added or moved onto a listed phone is flagged at once.
    let later = call(
        &app,
        &shop,
        "contacts/add.json",
        json!({"phone": "48500600700"}),
    )
    .await["id"]
        .clone();
    call(
        &app,
        &shop,
        "contacts/edit.json",
        json!({"id": other, "phone": "500600700"}),
    )
    .await;
    assert_eq!(
        flags(&app, &shop).await,
        [
            (listed_contact.clone(), json!(true)),
            (other.clone(), json!(true)),
            (later.clone(), json!(true))
        ]
    );
    // What the rules' SMS action asks.
    let phone = Phone::parse("500600700", Country::POLAND).expect("valid");
    assert!(domain::is_blacklisted(&app.store, shop.id(), &phone).expect("store"));
    call(
        &app,
        &shop,
        "blacklist/delete.json",
        json!({"phone": "500600700"}),
    )
    .await;
    assert_eq!(
        flags(&app, &shop).await,
        [
            (listed_contact, json!(false)),
            (other, json!(false)),
            (later, json!(false))
        ]
    );
    assert!(!domain::is_blacklisted(&app.store, shop.id(), &phone).expect("store"));
}

#[tokio::test]
async fn every_blacklist_call_refuses_bad_input_with_its_error_code() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    for path in [
        "blacklist/add.json",
        "blacklist/check.json",
        "blacklist/delete.json",
    ] {
        let missing = call(&app, &shop, path, json!({})).await;
        assert_eq!(error_code(&missing), Some(2000), "{path}: {missing}");
        let invalid = call(&app, &shop, path, json!({"phone": "0123456789"})).await;
        assert_eq!(error_code(&invalid), Some(2001), "{path}: {invalid}");
        assert_eq!(
            invalid["error"]["type"],
            json!("ValidationPhoneError"),
            "{path}"
        );
    }
    let not_listed = call(
        &app,
        &shop,
        "blacklist/delete.json",
        json!({"phone": "500600700"}),
    )
    .await;
    assert_eq!(error_code(&not_listed), Some(1004), "{not_listed}");
    let garbage = call(&app, &shop, "blacklist/index.json", json!({"phone": "abc"})).await;
    assert_eq!(error_code(&garbage), Some(2001), "{garbage}");
    let unauthenticated = app
        .form(
            "blacklist/add.json",
            "phone=500600700&username=shop&password=wrong",
        )
        .await;
    assert_eq!(error_code(&unauthenticated), Some(1001));
    assert!(app.store.blacklist(shop.id()).expect("store").is_empty());
}

#[tokio::test]
async fn an_accounts_blacklist_is_its_own() {
    let app = spawn_app().await;
    let alpha = app.account("alpha");
    let beta = app.account("beta");
    let beta_contact = call(
        &app,
        &beta,
        "contacts/add.json",
        json!({"phone": "500600700"}),
    )
    .await["id"]
        .clone();
    call(
        &app,
        &alpha,
        "blacklist/add.json",
        json!({"phone": "500600700"}),
    )
    .await;
    assert_eq!(
        call(
            &app,
            &beta,
            "blacklist/check.json",
            json!({"phone": "500600700"})
        )
        .await,
        json!({"exists": false})
    );
    assert_eq!(
        phones(&call(&app, &beta, "blacklist/index.json", json!({})).await),
        Vec::<&str>::new()
    );
    let view = call(
        &app,
        &beta,
        "contacts/view.json",
        json!({"id": beta_contact}),
    )
    .await;
    assert_eq!(view["blacklist"], json!(false));
    let foreign = call(
        &app,
        &beta,
        "blacklist/delete.json",
        json!({"phone": "500600700"}),
    )
    .await;
    assert_eq!(error_code(&foreign), Some(1004));
    assert_eq!(
        call(
            &app,
            &alpha,
            "blacklist/check.json",
            json!({"phone": "500600700"})
        )
        .await,
        json!({"exists": true})
    );
}

#[tokio::test]
async fn the_xml_form_has_the_json_structure() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let xml = |path: &'static str, phone: &'static str| {
        let app = &app;
        let token = shop.token.clone();
        async move {
            app.client
                .post(app.url(path))
                .bearer_auth(token)
                .form(&[("phone", phone)])
                .send()
                .await
                .expect("request")
                .text()
                .await
                .expect("text")
        }
    };
    let added = xml("blacklist/add.xml", "500600700").await;
    assert!(
        added.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><success>true</success><id>"
        ),
        "{added}"
    );
    assert_eq!(
        xml("blacklist/check.xml", "500600700").await,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><exists>true</exists></response>"
    );
    let listed = xml("blacklist/index.xml", "").await;
    assert!(
        listed.contains("<paging><page>1</page><count>1</count></paging><items><item><phone>+48500600700</phone><added>"),
        "{listed}"
    );
    assert_eq!(
        xml("blacklist/delete.xml", "500600700").await,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><success>true</success></response>"
    );
    assert_eq!(
        xml("blacklist/delete.xml", "12").await,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><error><code>2001</code><type>ValidationPhoneError</type><message>Nieprawidłowy numer telefonu: phone</message></error>"
    );
}
