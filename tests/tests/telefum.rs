//! The TelefUM CRM API (`/rest`) over real HTTP: find, addcont, addevent, their errors, XML
//! escaping, windows-1251 input and tenant isolation.

use resolver_server::domain::{self, ContactId};
use serde_json::json;
use ssrm_tests::{spawn_app, TestAccount, TestApp};

fn credentials(account: &TestAccount) -> String {
    format!("login={}&password={}", account.username, account.password)
}

async fn get(app: &TestApp, query: &str) -> String {
    let response = app
        .client
        .get(format!("{}/rest?{query}", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/xml; charset=utf-8"
    );
    response.text().await.expect("text")
}

async fn post(app: &TestApp, body: &str) -> String {
    let response = app
        .client
        .post(format!("{}/rest", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    response.text().await.expect("text")
}

fn error(description: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<result>error</result>\n<description>{description}</description>\n</response>")
}

/// The text of every `<tag>` in document order, read with a real XML parser (which also proves
/// the document well-formed).
fn texts(xml: &str, tag: &str) -> Vec<String> {
    let document = roxmltree::Document::parse(xml).expect("well-formed XML");
    document
        .descendants()
        .filter(|node| node.has_tag_name(tag))
        .map(|node| node.text().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn find_answers_every_contact_with_the_number_however_it_is_written() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let first = app.created(&shop.token, "contacts/add.json", json!({"phone": "500600700", "first_name": "Jan", "last_name": "Kowalski", "company": "Herbaciarnia", "description": "Stały klient"}))
.await;
    let second = app
        .created(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "+48 500 600 700", "first_name": "Anna"}),
        )
        .await;
    app.call(
        &shop.token,
        "contacts/add.json",
        json!({"phone": "600700800"}),
    )
    .await;
    for typed in [
        "500600700",
        "%2B48500600700",
        "0048500600700",
        "48500600700",
        "+48+500+600+700",
    ] {
        let xml = get(
            &app,
            &format!("typereq=find&phone={typed}&{}", credentials(&shop)),
        )
        .await;
        assert_eq!(
            texts(&xml, "id"),
            [first.to_string(), second.to_string()],
            "phone {typed}: {xml}"
        );
        assert_eq!(texts(&xml, "total"), ["2"]);
    }
    let xml = get(
        &app,
        &format!("typereq=find&phone=500600700&{}", credentials(&shop)),
    )
    .await;
    assert!(xml.starts_with(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<item>\n<id>{first}</id>\n<typecont>contact</typecont>\n<name>Jan Kowalski</name>\n<company>Herbaciarnia</company>\n<description>Stały klient</description>\n</item>"
    )), "{xml}");
    let none = get(
        &app,
        &format!("typereq=find&phone=111222333&{}", credentials(&shop)),
    )
    .await;
    assert_eq!(
        none,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<total>0</total>\n</response>"
    );
}

#[tokio::test]
async fn a_russian_caller_is_found_from_the_national_8_prefix() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let created = get(
        &app,
        &format!(
            "typereq=addcont&typecont=contact&phone=%2B79012222222&name=Ivan&{}",
            credentials(&shop)
        ),
    )
    .await;
    let id = texts(&created, "id");
    for typed in ["89012222222", "9012222222", "%2B7+901+222-22-22"] {
        let xml = get(
            &app,
            &format!("typereq=find&phone={typed}&{}", credentials(&shop)),
        )
        .await;
        assert_eq!(texts(&xml, "id"), id, "{typed}");
    }
}

#[tokio::test]
async fn addcont_creates_the_contact_with_its_source_type_and_creator() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let xml = get(&app, &format!("typereq=addcont&typecont=%D0%9B%D0%B8%D0%B4&phone=500100200&name=%D0%98%D0%BC%D1%8F%20%D0%BA%D0%BE%D0%BD%D1%82%D0%B0%D0%BA%D1%82%D0%B0&x_pstn=+79012222222&{}", credentials(&shop))).await;
    let id: u64 = texts(&xml, "id")[0].parse().expect("id");
    assert_eq!(
        xml,
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<result>ok</result>\n<id>{id}</id>\n<typecont>lead</typecont>\n<description>Контакт добавлен</description>\n</response>")
    );
    let contact = app
        .store
        .contact(shop.id(), ContactId(id))
        .expect("store")
        .expect("stored");
    assert_eq!(
        (contact.first_name.as_str(), contact.last_name.as_str()),
        ("Имя", "контакта")
    );
    assert_eq!(
        contact.source.as_deref(),
        Some("+79012222222"),
        "the seed's unencoded + arrives as a space"
    );
    assert_eq!(contact.created_by.as_deref(), Some("shop"));
    let company = get(
        &app,
        &format!(
            "typereq=addcont&typecont=Company&phone=500600700&name=OOO+Rezume&{}",
            credentials(&shop)
        ),
    )
    .await;
    assert_eq!(texts(&company, "typecont"), ["company"]);
    let found = get(
        &app,
        &format!("typereq=find&phone=500600700&{}", credentials(&shop)),
    )
    .await;
    assert_eq!(
        (texts(&found, "name"), texts(&found, "company")),
        (vec!["OOO Rezume".to_owned()], vec!["OOO Rezume".to_owned()])
    );
}

#[tokio::test]
async fn addcont_and_find_errors_are_the_seeds() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let cases = [
        (
            format!(
                "typereq=addcont&typecont=contact&name=X&{}",
                credentials(&shop)
            ),
            "Не указан номер телефона",
        ),
        (
            format!(
                "typereq=addcont&typecont=contact&phone=12&{}",
                credentials(&shop)
            ),
            "Неправильный номер телефона",
        ),
        (
            format!(
                "typereq=addcont&typecont=partner&phone=500600700&{}",
                credentials(&shop)
            ),
            "Неизвестный тип контакта",
        ),
        (
            format!("typereq=find&{}", credentials(&shop)),
            "Не указан номер телефона",
        ),
        (
            format!("typereq=delete&{}", credentials(&shop)),
            "Неизвестный тип запроса",
        ),
        (
            "typereq=find&phone=500600700&login=shop&password=wrong".to_owned(),
            "Неправильный логин или пароль",
        ),
        (
            "typereq=find&phone=500600700".to_owned(),
            "Неправильный логин или пароль",
        ),
        (
            format!("typereq=addevent&id=1&{}", credentials(&shop)),
            "Событие добавляется запросом POST",
        ),
    ];
    for (query, description) in cases {
        assert_eq!(get(&app, &query).await, error(description), "{query}");
    }
}

#[tokio::test]
async fn addevent_logs_a_call_by_the_authenticated_user() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let id = app
        .call(
            &shop.token,
            "contacts/add.json",
            json!({"phone": "500600700"}),
        )
        .await["id"]
        .as_u64()
        .expect("id");
    let xml = post(&app, &format!("typereq=addevent&id={id}&typecont=contact&subj=%D0%92%D1%85%D0%BE%D0%B4%D1%8F%D1%89%D0%B8%D0%B9%20%D0%97%D0%B2%D0%BE%D0%BD%D0%BE%D0%BA&desc=%D0%94%D0%BB%D0%B8%D1%82%D0%B5%D0%BB%D1%8C%D0%BD%D0%BE%D1%81%D1%82%D1%8C%203:54&{}", credentials(&shop))).await;
    let event: u64 = texts(&xml, "idev")[0].parse().expect("idev");
    assert_eq!(xml, format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<result>ok</result>\n<idev>{event}</idev>\n<description>Событие добавлено</description>\n</response>"));
    let activities =
        domain::contact_activities(&app.store, shop.id(), ContactId(id)).expect("activities");
    assert_eq!(activities.len(), 1);
    assert_eq!(
        (
            activities[0].subject.as_str(),
            activities[0].description.as_str(),
            activities[0].author.as_deref()
        ),
        ("Входящий Звонок", "Длительность 3:54", Some("shop"))
    );
    assert_eq!(
        post(
            &app,
            &format!(
                "typereq=addevent&typecont=contact&subj=x&{}",
                credentials(&shop)
            )
        )
        .await,
        error("Не указано id-контакта")
    );
    assert_eq!(
        post(
            &app,
            &format!(
                "typereq=addevent&id=987654321&subj=x&{}",
                credentials(&shop)
            )
        )
        .await,
        error("Контакт не найден")
    );
}

#[tokio::test]
async fn another_accounts_contact_is_not_found_and_gets_no_event() {
    let app = spawn_app().await;
    let a = app.account("alpha");
    let b = app.account("beta");
    let id = app
        .call(&a.token, "contacts/add.json", json!({"phone": "500600700"}))
        .await["id"]
        .as_u64()
        .expect("id");
    assert_eq!(
        post(
            &app,
            &format!("typereq=addevent&id={id}&subj=x&{}", credentials(&b))
        )
        .await,
        error("Контакт не найден")
    );
    let found = get(
        &app,
        &format!("typereq=find&phone=500600700&{}", credentials(&b)),
    )
    .await;
    assert_eq!(texts(&found, "total"), ["0"]);
    assert!(
        domain::contact_activities(&app.store, a.id(), ContactId(id))
            .expect("activities")
            .is_empty()
    );
}

#[tokio::test]
async fn an_api_token_works_in_place_of_the_password() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let other = app.account("other");
    let ok = get(
        &app,
        &format!(
            "typereq=find&phone=500600700&login=shop&password={}",
            shop.token
        ),
    )
    .await;
    assert_eq!(texts(&ok, "total"), ["0"]);
    let foreign = get(
        &app,
        &format!(
            "typereq=find&phone=500600700&login=other&password={}",
            shop.token
        ),
    )
    .await;
    assert_eq!(foreign, error("Неправильный логин или пароль"));
    drop(other);
}

#[tokio::test]
async fn hostile_names_are_escaped_and_windows_1251_input_is_read() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    app.call(&shop.token, "contacts/add.json", json!({"phone": "500600700", "first_name": "<b>&\"'", "last_name": "</name><total>9</total>", "description": "]]> <![CDATA["})).await;
    let xml = get(
        &app,
        &format!("typereq=find&phone=500600700&{}", credentials(&shop)),
    )
    .await;
    assert_eq!(texts(&xml, "name"), ["<b>&\"' </name><total>9</total>"]);
    assert_eq!(texts(&xml, "total"), ["1"]);
    assert_eq!(texts(&xml, "description"), ["]]> <![CDATA["]);
    // "Иван Петров" in windows-1251, as old Russian PBX software sends it.
    let created = post(&app, &format!("typereq=addcont&typecont=contact&phone=600700800&name=%C8%E2%E0%ED+%CF%E5%F2%F0%EE%E2&{}", credentials(&shop))).await;
    assert_eq!(texts(&created, "result"), ["ok"]);
    let found = get(
        &app,
        &format!("typereq=find&phone=600700800&{}", credentials(&shop)),
    )
    .await;
    assert_eq!(texts(&found, "name"), ["Иван Петров"]);
}

fn found_ids(xml: &str) -> Vec<u64> {
    texts(xml, "id")
        .iter()
        .map(|id| id.parse().expect("numeric id"))
        .collect()
}

async fn addcont(app: &TestApp, account: &TestAccount, phone: &str, name: &str) -> u64 {
    let xml = get(
        app,
        &format!(
            "typereq=addcont&typecont=contact&phone={phone}&name={name}&{}",
            credentials(account)
        ),
    )
    .await;
    assert_eq!(texts(&xml, "result"), ["ok"], "{phone}: {xml}");
    texts(&xml, "id")[0].parse().expect("id")
}

#[tokio::test]
async fn any_dialable_number_is_kept_as_typed_and_found_again() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    // A national number with a trunk 0 (no E.164 form in Poland) and an internal extension.
    let national = addcont(&app, &shop, "0123456789", "Pierwszy").await;
    let extension = addcont(&app, &shop, "101", "Recepcja").await;
    for typed in ["0123456789", "012-345-67-89", "(012)%203456789"] {
        let xml = get(
            &app,
            &format!("typereq=find&phone={typed}&{}", credentials(&shop)),
        )
        .await;
        assert_eq!(found_ids(&xml), [national], "{typed}");
    }
    // The same nine last digits, as today.
    let xml = get(
        &app,
        &format!("typereq=find&phone=%2B7123456789&{}", credentials(&shop)),
    )
    .await;
    assert_eq!(found_ids(&xml), [national]);
    let xml = get(
        &app,
        &format!("typereq=find&phone=101&{}", credentials(&shop)),
    )
    .await;
    assert_eq!(found_ids(&xml), [extension]);
    // Shown as typed in every API.
    let view = app
        .call(&shop.token, "contacts/view.json", json!({"id": national}))
        .await;
    assert_eq!(view["phone"], json!("0123456789"));
    let stored = domain::view_contact(&app.store, shop.id(), ContactId(extension)).expect("stored");
    assert_eq!((stored.phone.as_str(), stored.phone.e164()), ("101", None));
    // Garbage and too short or too long are still refused.
    for refused in ["12", "abc", "1234567890123456789012", "5%2B5"] {
        let xml = get(
            &app,
            &format!("typereq=find&phone={refused}&{}", credentials(&shop)),
        )
        .await;
        assert_eq!(xml, error("Неправильный номер телефона"), "{refused}");
    }
}

#[tokio::test]
async fn a_number_with_an_e164_form_is_shown_and_found_in_e164() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let id = addcont(&app, &shop, "500%20600%20700", "Jan").await;
    let view = app
        .call(&shop.token, "contacts/view.json", json!({"id": id}))
        .await;
    assert_eq!(view["phone"], json!("+48500600700"));
    for typed in ["%2B48500600700", "48500600700", "500600700"] {
        let xml = get(
            &app,
            &format!("typereq=find&phone={typed}&{}", credentials(&shop)),
        )
        .await;
        assert_eq!(found_ids(&xml), [id], "{typed}");
    }
}

#[tokio::test]
async fn serwersms_still_refuses_what_telefum_accepts() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    addcont(&app, &shop, "0123456789", "Pierwszy").await;
    for phone in ["0123456789", "101"] {
        let answer = app
            .call(&shop.token, "contacts/add.json", json!({"phone": phone}))
            .await;
        assert_eq!(ssrm_tests::error_code(&answer), Some(2001), "{phone}");
        let check = app
            .call(&shop.token, "groups/check.json", json!({"phone": phone}))
            .await;
        assert_eq!(ssrm_tests::error_code(&check), Some(2001), "{phone}");
    }
}

#[tokio::test]
async fn addevent_with_a_contradicting_typecont_is_refused_and_logs_nothing() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let lead = get(
        &app,
        &format!(
            "typereq=addcont&typecont=lead&phone=500600700&name=Jan&{}",
            credentials(&shop)
        ),
    )
    .await;
    let id: u64 = texts(&lead, "id")[0].parse().expect("id");
    for typecont in ["contact", "company", "Компания"] {
        assert_eq!(
            post(
                &app,
                &format!(
                    "typereq=addevent&id={id}&typecont={typecont}&subj=x&{}",
                    credentials(&shop)
                )
            )
            .await,
            error("Тип контакта (typecont) не совпадает с типом контакта с этим id"),
            "{typecont}"
        );
    }
    assert!(
        domain::contact_activities(&app.store, shop.id(), ContactId(id))
            .expect("activities")
            .is_empty()
    );
    let ok = post(
        &app,
        &format!(
            "typereq=addevent&id={id}&typecont=%D0%9B%D0%B8%D0%B4&subj=x&x_pstn=+48%20221%20234%20567&{}",
            credentials(&shop)
        ),
    )
    .await;
    assert_eq!(texts(&ok, "result"), ["ok"], "{ok}");
    let activities =
        domain::contact_activities(&app.store, shop.id(), ContactId(id)).expect("activities");
    assert_eq!(activities[0].line.as_deref(), Some("+48221234567"));
}
