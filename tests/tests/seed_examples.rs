//! Every example of the four seed documents (copied verbatim into `tests/seeds/`), sent as
//! printed (only the host and the credentials changed) and answered as printed: the same
//! fields, the same types, the same messages. Requests and example answers are read out of
//! the documents themselves, so a test here cannot drift from what an integrator copies.

use resolver_server::demo::seed_thulium_example;
use resolver_server::domain::{self, Suid};
use serde_json::{json, Value};
use ssrm_tests::{spawn_app, TestAccount, TestApp};
use std::collections::BTreeSet;

const SERWERSMS: &str = include_str!("../seeds/serwersms-api-v2-contacts-groups.txt");
const TRACK_USER: &str = include_str!("../seeds/serwersms-automation-trackuser.txt");
const TELEFUM: &str = include_str!("../seeds/telefum-crm-api.txt");
const THULIUM: &str = include_str!("../seeds/thulium-batch-crm-outbounds.txt");

/// `text`, after checking that the document prints it exactly so.
fn printed<'a>(document: &str, text: &'a str) -> &'a str {
    assert!(document.contains(text), "the document prints {text:?}");
    text
}

/// The first JSON value that starts at `marker` (or right after it, if it is not a brace).
fn json_after(document: &str, marker: &str) -> Value {
    let start = document.find(marker).expect("marker in the document");
    let rest = &document[start..];
    let rest = &rest[rest.find('{').expect("a JSON object follows")..];
    serde_json::Deserializer::from_str(rest)
        .into_iter::<Value>()
        .next()
        .expect("a value")
        .expect("the document's example is JSON")
}

/// Asserts that `actual` has the documented shape: every documented field with a value of the
/// same JSON type (integers stay integers, strings stay strings), no undocumented field except
/// those in `extra`, and every list item shaped like the documented first item.
fn assert_shape(actual: &Value, documented: &Value, extra: &[&str], at: &str) {
    match (actual, documented) {
        (Value::Object(actual), Value::Object(documented)) => {
            for (key, value) in documented {
                let found = actual
                    .get(key)
                    .unwrap_or_else(|| panic!("{at}: missing field {key:?} in {actual:?}"));
                assert_shape(found, value, extra, &format!("{at}.{key}"));
            }
            for key in actual.keys() {
                assert!(
                    documented.contains_key(key) || extra.contains(&key.as_str()),
                    "{at}: undocumented field {key:?}"
                );
            }
        }
        (Value::Array(actual), Value::Array(documented)) => {
            let model = documented.first().expect("the document shows an item");
            assert!(!actual.is_empty(), "{at}: the list is empty");
            for (n, item) in actual.iter().enumerate() {
                assert_shape(item, model, extra, &format!("{at}[{n}]"));
            }
        }
        (Value::Number(a), Value::Number(d)) => {
            assert_eq!(a.is_u64(), d.is_u64(), "{at}: {a} is not typed like {d}");
        }
        (Value::String(_), Value::String(_)) | (Value::Bool(_), Value::Bool(_)) => {}
        (actual, documented) => {
            panic!("{at}: {actual} has another type than the documented {documented}")
        }
    }
}

// ----- SerwerSMS contacts and groups -----

/// The document's calls (`groups/index`, …) with their example answers, in document order.
fn serwersms_examples() -> Vec<(String, Value)> {
    let sections: Vec<&str> = SERWERSMS.split("Zwrot odpowiedzi\n").collect();
    sections
        .windows(2)
        .map(|pair| {
            let call = pair[0]
                .lines()
                .rev()
                .find(|line| {
                    let mut parts = line.split('/');
                    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None)
                        if !a.is_empty() && !b.is_empty()
                            && line.chars().all(|c| c.is_ascii_lowercase() || c == '/'))
                })
                .expect("each section names its call")
                .to_owned();
            (call, json_after(pair[1], "{"))
        })
        .collect()
}

/// A call as the seed's PHP client (`new SerwerSMS('login','haslo')`) makes it: a JSON body
/// with the credentials among the parameters.
async fn sms(app: &TestApp, account: &TestAccount, call: &str, params: Value) -> Value {
    let mut body = params;
    body["username"] = json!(account.username);
    body["password"] = json!(account.password);
    body["system"] = json!("client_php");
    let response = app
        .client
        .post(app.url(&format!("{call}.json")))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "{call}");
    let answer: Value = response.json().await.expect("JSON answer");
    assert!(answer.get("error").is_none(), "{call}: {answer}");
    answer
}

#[tokio::test]
async fn every_serwersms_contacts_and_groups_example_answers_as_documented() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let examples = serwersms_examples();
    let documented = |call: &str| -> Value {
        examples
            .iter()
            .find(|(name, _)| name == call)
            .unwrap_or_else(|| panic!("the document has {call}"))
            .1
            .clone()
    };
    let mut exercised = BTreeSet::new();
    let mut check = |call: &str, answer: &Value, extra: &[&str]| {
        assert_shape(answer, &documented(call), extra, call);
        exercised.insert(call.to_owned());
    };

    // groups/add, name as in the table ("np. „nowa grupa”"), then the example's groups.
    printed(SERWERSMS, "np. „nowa grupa”");
    let added = sms(&app, &shop, "groups/add", json!({"name": "nowa grupa"})).await;
    check("groups/add", &added, &[]);
    assert_eq!(added["success"], json!(true));
    let group = |answer: &Value| answer["id"].as_u64().expect("integer id");
    let test_api = group(&sms(&app, &shop, "groups/add", json!({"name": "Test API"})).await);
    let testing = group(&sms(&app, &shop, "groups/add", json!({"name": "Grupa testowa"})).await);

    // contacts/add with the example contacts of contacts/index.
    let index_example = documented("contacts/index");
    let mut contact_ids = Vec::new();
    for item in index_example["items"].as_array().expect("items") {
        let mut params = item.clone();
        for generated in ["id", "blacklist", "group_id", "group_name"] {
            params.as_object_mut().expect("object").remove(generated);
        }
        params["group_id"] = json!(testing);
        let answer = sms(&app, &shop, "contacts/add", params).await;
        check("contacts/add", &answer, &[]);
        contact_ids.push(answer["id"].as_u64().expect("integer id"));
    }

    // groups/index with every documented parameter.
    let groups = sms(
        &app,
        &shop,
        "groups/index",
        json!({"search": "API", "sort": "name", "order": "asc"}),
    )
    .await;
    check("groups/index", &groups, &["paging"]);
    assert_eq!(groups["items"][0]["id"], json!(test_api));
    let all_groups = sms(&app, &shop, "groups/index", json!({})).await;
    let testing_count = all_groups["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|g| g["id"] == json!(testing))
        .expect("the group is listed")["count"]
        .clone();
    assert_eq!(testing_count, json!(2));

    // contacts/index: the example's contacts come back field for field.
    let listed = sms(
        &app,
        &shop,
        "contacts/index",
        json!({"group_id": testing, "sort": "phone", "order": "desc"}),
    )
    .await;
    check("contacts/index", &listed, &["paging"]);
    for (item, id) in index_example["items"]
        .as_array()
        .expect("items")
        .iter()
        .zip(&contact_ids)
    {
        let mut expected = item.clone();
        expected["id"] = json!(id);
        expected["group_id"] = json!(testing);
        let found = listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|c| c["id"] == json!(id))
            .expect("listed");
        assert_eq!(found, &expected);
    }
    assert_eq!(
        sms(&app, &shop, "contacts/index", json!({"group_id": "none"})).await["items"],
        json!([])
    );

    // groups/check: the example's two groups of one phone; the contact id is a string.
    let other = group(
        &sms(
            &app,
            &shop,
            "groups/add",
            json!({"name": "Grupa numer dwa"}),
        )
        .await,
    );
    let second = sms(
        &app,
        &shop,
        "contacts/add",
        json!({"phone": "+48500600700", "group_id": other}),
    )
    .await["id"]
        .as_u64()
        .expect("id");
    let checked = sms(
        &app,
        &shop,
        "groups/check",
        json!({"phone": "+48500600700"}),
    )
    .await;
    check("groups/check", &checked, &[]);
    let ids: Vec<&Value> = checked["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(
        ids,
        [
            &json!(contact_ids[1].to_string()),
            &json!(second.to_string())
        ]
    );

    // groups/edit and contacts/edit, values as in their tables.
    printed(SERWERSMS, "np. „nowa nazwa”");
    let renamed = sms(
        &app,
        &shop,
        "groups/edit",
        json!({"id": test_api, "name": "nowa nazwa"}),
    )
    .await;
    check("groups/edit", &renamed, &[]);
    assert_eq!(renamed["id"], json!(test_api));
    printed(SERWERSMS, "np. adres@mail.com");
    let edited = sms(
        &app,
        &shop,
        "contacts/edit",
        json!({"id": second, "phone": "+48500600700", "email": "adres@mail.com", "group_id": 15687446}),
    )
    .await;
    check("contacts/edit", &edited, &[]);
    assert_eq!(edited["id"], json!(second));

    // contacts/delete and groups/delete (with and without delete_contacts).
    let deleted = sms(&app, &shop, "contacts/delete", json!({"id": second})).await;
    check("contacts/delete", &deleted, &[]);
    let dropped = sms(
        &app,
        &shop,
        "groups/delete",
        json!({"id": testing, "delete_contacts": true}),
    )
    .await;
    check("groups/delete", &dropped, &[]);
    assert_eq!(dropped, json!({"success": true}));
    assert_eq!(
        sms(&app, &shop, "contacts/index", json!({})).await["items"],
        json!([])
    );

    let documented_calls: BTreeSet<String> = examples.into_iter().map(|(call, _)| call).collect();
    assert_eq!(exercised, documented_calls, "every documented call is sent");
    assert_eq!(documented_calls.len(), 9);
}

// ----- Automation: contacts/add with suid, then trackUser -----

#[tokio::test]
async fn the_automation_example_links_the_cookie_and_track_user_answers_as_documented() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let site_key = domain::add_domain(&app.store, shop.id(), "shop.example.com")
        .expect("domain")
        .site_key;
    // `$serwersms->contacts->add(null, '+48500000000', ['suid' => $_SESSION['ssrm_user']])`
    printed(
        TRACK_USER,
        "$serwersms->contacts->add(null,’+48500000000’,$params)",
    );
    let cookie = Suid::random();
    let added = sms(
        &app,
        &shop,
        "contacts/add",
        json!({"group_id": null, "phone": "+48500000000", "suid": cookie.to_string()}),
    )
    .await;
    assert_eq!(added["success"], json!(true));

    // `_ssrm.push(['trackUser', '+48500000000', …])` from another browser: the tracker's call.
    printed(TRACK_USER, "_ssrm.push(['trackUser', '+48500000000’");
    let other_browser = Suid::random();
    let response = app
        .client
        .post(app.url("t/identify"))
        .header("origin", "https://shop.example.com")
        .header("content-type", "text/plain;charset=UTF-8")
        .body(
            json!({"site": site_key, "suid": other_browser.to_string(), "value": "+48500000000", "hash": null})
                .to_string(),
        )
        .send()
        .await
        .expect("trackUser");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON answer");
    let documented = json_after(TRACK_USER, "Struktura zwrotki:");
    assert_shape(&answer, &documented, &[], "trackUser");
    assert_eq!(answer["success"], documented["success"]);
    assert_eq!(answer["message"], documented["message"]);
    assert_eq!(answer["suid"], json!(cookie.to_string()));
}

// ----- Thulium -----

#[tokio::test]
async fn the_thulium_batch_example_answers_as_documented() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    seed_thulium_example(&app.store, shop.id()).expect("the example's data");
    let curl = THULIUM
        .lines()
        .find(|line| line.starts_with("curl "))
        .expect("the curl example");
    let body = curl
        .split_once("-d '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .expect("a -d body")
        .0;
    let url = printed(
        THULIUM,
        "https://your-system-name.thulium.com/api/batch/crm_outbounds/00001/records",
    )
    .replace("https://your-system-name.thulium.com", &app.base);
    printed(THULIUM, "-u api_user:api_pass");
    let response = app
        .client
        .post(url)
        .basic_auth("api_user", Some("api_pass"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON answer");
    let documented = json_after(THULIUM, "{\n\"441\"");
    assert_shape(&answer, &documented, &[], "records");
    for customer in ["441", "445", "448"] {
        for field in ["http_status", "status", "message"] {
            assert_eq!(
                answer[customer].get(field),
                documented[customer].get(field),
                "{customer}.{field}"
            );
        }
    }
}

// ----- TelefUM -----

/// The `<response>` examples of the TelefUM document, in order.
fn telefum_examples() -> Vec<&'static str> {
    TELEFUM
        .match_indices("<response>")
        .map(|(start, _)| {
            let end = TELEFUM[start..]
                .find("</response>")
                .expect("closed example");
            &TELEFUM[start..start + end + "</response>".len()]
        })
        .collect()
}

/// Element names in document order, and the text of every leaf, of a `<response>` document.
fn outline(xml: &str) -> Vec<(String, String)> {
    let document = roxmltree::Document::parse(xml.trim()).expect("well-formed XML");
    document
        .descendants()
        .filter(|node| node.is_element())
        .map(|node| {
            let leaf = node.children().all(|child| !child.is_element());
            let text = if leaf {
                node.text().unwrap_or_default().trim().to_owned()
            } else {
                String::new()
            };
            (node.tag_name().name().to_owned(), text)
        })
        .collect()
}

/// Asserts that `actual` has the example's elements in the example's order, with the same
/// texts except in `varying` elements (ids, names), which must only be present.
fn assert_like_example(actual: &str, example: &str, varying: &[&str]) {
    let (actual, example) = (outline(actual), outline(example));
    let names = |outline: &[(String, String)]| -> Vec<String> {
        outline.iter().map(|(name, _)| name.clone()).collect()
    };
    assert_eq!(names(&actual), names(&example), "elements");
    for ((name, text), (_, documented)) in actual.iter().zip(&example) {
        if varying.contains(&name.as_str()) {
            if name == "id" || name == "idev" {
                assert!(text.parse::<u64>().is_ok(), "<{name}> {text:?} is an id");
            }
        } else {
            assert_eq!(text, documented, "<{name}>");
        }
    }
}

/// A printed TelefUM address with the host and the credentials replaced.
fn telefum_url(app: &TestApp, account: &TestAccount, printed_url: &str) -> String {
    printed(TELEFUM, printed_url)
        .replace("https://mysite.com", &app.base)
        .replace("login=12345", &format!("login={}", account.username))
        .replace("password=999999", &format!("password={}", account.password))
}

async fn get_text(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("text"))
}

/// A browser signed in to the pages as `account`.
async fn signed_in(app: &TestApp, account: &TestAccount) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let (_, form) = get_text(&client, &app.url("login")).await;
    let csrf = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field")
        .to_owned();
    let response = client
        .post(app.url("login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", account.username.as_str()),
            ("password", account.password.as_str()),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 303, "signed in");
    client
}

#[tokio::test]
async fn every_telefum_example_answers_as_documented() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let plain = reqwest::Client::new();
    let examples = telefum_examples();
    let [found_example, auth_error, added_example, no_phone, event_example, no_id] = examples[..]
    else {
        panic!("the document prints six answers, found {}", examples.len());
    };

    let find_url = telefum_url(
        &app,
        &shop,
        "https://mysite.com/rest?typereq=find&phone=0123456789&login=12345&password=999999",
    );
    let (_, nothing) = get_text(&plain, &find_url).await;
    assert_eq!(
        outline(&nothing),
        [
            ("response".into(), String::new()),
            ("total".into(), "0".into())
        ]
    );

    // addcont, as printed: a national number with a trunk 0, an unencoded `+` in x_pstn.
    let add_url = telefum_url(
        &app,
        &shop,
        "https://mysite.com/rest?typereq=addcont&typecont=contact&phone=0123456789&name=Имя%20контакта&login=12345&password=999999&x_pstn=+79012222222",
    );
    let (_, added) = get_text(&plain, &add_url).await;
    assert_like_example(&added, added_example, &["id"]);
    let id: u64 = outline(&added)
        .iter()
        .find(|(name, _)| name == "id")
        .and_then(|(_, text)| text.parse().ok())
        .expect("new id");
    let contact =
        domain::view_contact(&app.store, shop.id(), domain::ContactId(id)).expect("stored");
    assert_eq!(contact.phone.as_str(), "0123456789", "kept as dialled");
    assert_eq!(contact.source.as_deref(), Some("+79012222222"));
    assert_eq!(contact.created_by.as_deref(), Some("shop"));
    // A second caller on the same line, so find answers the example's two items.
    let (_, again) = get_text(
        &plain,
        &add_url.replace("Имя%20контакта", "Иван%20Павлович"),
    )
    .await;
    assert_like_example(&again, added_example, &["id"]);

    let (_, found) = get_text(&plain, &find_url).await;
    assert_like_example(
        &found,
        found_example,
        &["id", "name", "company", "description"],
    );
    let names: Vec<String> = outline(&found)
        .into_iter()
        .filter(|(name, _)| name == "name")
        .map(|(_, text)| text)
        .collect();
    assert_eq!(names, ["Имя контакта", "Иван Павлович"]);

    let (_, refused) = get_text(&plain, &find_url.replace(&shop.password, "999999")).await;
    assert_like_example(&refused, auth_error, &[]);
    let (_, no_number) = get_text(&plain, &add_url.replace("&phone=0123456789", "")).await;
    assert_like_example(&no_number, no_phone, &[]);

    // addevent: the printed POST parameters, one per line in the document.
    let printed_event = TELEFUM
        .split("Пример POST запроса:\n")
        .nth(1)
        .and_then(|rest| rest.split("Выходные параметры").next())
        .expect("the addevent example");
    let body = printed_event
        .lines()
        .filter(|line| line.contains('='))
        .map(|line| match line.split_once('=') {
            Some(("id", _)) => format!("id={id}"),
            Some(("login", _)) => format!("login={}", shop.username),
            Some(("password", _)) => format!("password={}", shop.password),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    let post = |body: String| {
        plain
            .post(app.url("rest"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let event = post(body.clone())
        .await
        .expect("addevent")
        .text()
        .await
        .expect("text");
    assert_like_example(&event, event_example, &["idev"]);
    let without_id = body
        .split('&')
        .filter(|pair| !pair.starts_with("id="))
        .collect::<Vec<_>>()
        .join("&");
    let refused = post(without_id)
        .await
        .expect("addevent")
        .text()
        .await
        .expect("text");
    assert_like_example(&refused, no_id, &[]);

    // The card, as linked, shows the event with its subject, text and author; the search page
    // finds the number; numbers are `telf:` links.
    let browser = signed_in(&app, &shop).await;
    let card_url = printed(TELEFUM, "https://mysite.com/card?id=24342&typecont=contact")
        .replace("https://mysite.com", &app.base)
        .replace("24342", &id.to_string());
    let (status, card) = get_text(&browser, &card_url).await;
    assert_eq!(status, 200);
    for shown in [
        "Входящий Звонок",
        "Длительность 3:54",
        "(shop)",
        "href=\"telf:0123456789\"",
    ] {
        assert!(card.contains(shown), "the card shows {shown:?}");
    }
    printed(TELEFUM, "telf:0123456789");
    let search_url = printed(TELEFUM, "https://mysite.com/search?phone=0123456789")
        .replace("https://mysite.com", &app.base);
    let (status, search) = get_text(&browser, &search_url).await;
    assert_eq!(status, 200);
    assert!(search.contains("Имя контакта") && search.contains("Иван Павлович"));
    assert!(search.contains("href=\"telf:0123456789\""));
}
