//! Data protection over real HTTP: erasing a contact erases its browsing (the issue's
//! scenario: a browser's history must not pass from a deleted contact to the next one who signs
//! up in it), its activities, campaign records, firings and deliveries, through every door
//! (SerwerSMS `contacts/delete`, `groups/delete` with `delete_contacts`, the admin card), and
//! each erasure is audited without personal data.

use resolver_server::domain::{self, CampaignId, ContactId, Principal, RecordInput, Suid};
use serde_json::{json, Value};
use ssrm_tests::admin_session::{hidden, signed_in};
use ssrm_tests::{spawn_app, TestAccount, TestApp};

const ORIGIN: &str = "https://shop.example.com";

fn site(app: &TestApp, account: &TestAccount) -> String {
    domain::add_domain(&app.store, account.id(), "shop.example.com")
        .expect("domain")
        .site_key
}

async fn send(app: &TestApp, endpoint: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(endpoint))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("origin", ORIGIN)
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

async fn page_view(app: &TestApp, key: &str, suid: Suid, url: &str) {
    let body =
        json!({"site": key, "suid": suid.to_string(), "url": url, "title": "", "referrer": ""});
    assert_eq!(send(app, "t/pageview", body).await.status(), 204);
}

async fn event(app: &TestApp, key: &str, suid: Suid, name: &str) {
    let body = json!({"site": key, "suid": suid.to_string(), "name": name, "props": {"sku": "X1"}, "url": format!("{ORIGIN}/cart")});
    assert_eq!(send(app, "t/event", body).await.status(), 204);
}

async fn track_user(app: &TestApp, key: &str, suid: Suid, value: &str) -> Value {
    let body = json!({"site": key, "suid": suid.to_string(), "value": value, "hash": null});
    let response = send(app, "t/identify", body).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

async fn add_contact(app: &TestApp, account: &TestAccount, fields: Value) -> u64 {
    let answer = app.call(&account.token, "contacts/add.json", fields).await;
    answer["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("contact id in {answer}"))
}

async fn history(app: &TestApp, account: &TestAccount, id: u64) -> Value {
    app.call(&account.token, "contacts/history.json", json!({"id": id}))
        .await
}

/// Everything the store holds about visitor `suid`: its record, page views and events.
fn visitor_traces(app: &TestApp, account: &TestAccount, suid: Suid) -> (bool, usize, usize) {
    let store = &app.store;
    (
        store.visitor(account.id(), suid).expect("store").is_some(),
        store.page_views(account.id(), suid).expect("store").len(),
        store
            .tracked_events(account.id(), suid)
            .expect("store")
            .len(),
    )
}

/// A contact with browsing (two visitors), an event, an activity, a campaign record, and a
/// rule firing whose webhook delivery stays pending (its target refuses connections).
struct Traces {
    contact: u64,
    suids: [Suid; 2],
    campaign: CampaignId,
}

async fn contact_with_everything(
    app: &TestApp,
    account: &TestAccount,
    key: &str,
    phone: &str,
    email: &str,
) -> Traces {
    let first = Suid::random();
    let second = Suid::random();
    page_view(app, key, first, &format!("{ORIGIN}/secret-page")).await;
    event(app, key, first, "add_to_cart").await;
    let contact = add_contact(
        app,
        account,
        json!({"phone": phone, "email": email, "suid": first.to_string()}),
    )
    .await;
    page_view(app, key, second, &format!("{ORIGIN}/other-device")).await;
    let linked = track_user(app, key, second, email).await;
    assert_eq!(linked["success"], json!(true), "{linked}");
    let principal = Principal {
        account: account.id(),
        username: Some(account.username.clone()),
    };
    domain::add_activity(
        &app.store,
        &principal,
        ContactId(contact),
        "Rozmowa",
        "o zamówieniu",
    )
    .expect("activity");
    let campaign = domain::add_campaign(&app.store, account.id(), "Oddzwonić")
        .expect("campaign")
        .id;
    domain::add_records(
        &app.store,
        account.id(),
        &campaign,
        &[RecordInput {
            customer: ContactId(contact),
            status_id: None,
            dictionary_status_id: None,
            agent_login: None,
            next_call_date: None,
            order: None,
        }],
    )
    .expect("record");
    Traces {
        contact,
        suids: [first, second],
        campaign,
    }
}

/// Asserts nothing of `traces` is left anywhere in the store or behind any API.
async fn assert_erased(
    app: &TestApp,
    account: &TestAccount,
    key: &str,
    traces: &Traces,
    email: &str,
) {
    let id = ContactId(traces.contact);
    for suid in traces.suids {
        assert_eq!(
            visitor_traces(app, account, suid),
            (false, 0, 0),
            "visitor {suid}"
        );
    }
    assert!(app
        .store
        .contact(account.id(), id)
        .expect("store")
        .is_none());
    assert!(app
        .store
        .activities(account.id(), id)
        .expect("store")
        .is_empty());
    assert!(app
        .store
        .campaign_record(account.id(), &traces.campaign, id)
        .expect("store")
        .is_none());
    let thulium = app
        .client
        .get(app.url(&format!(
            "api/crm_outbounds/{}/records/{}",
            traces.campaign.as_str(),
            traces.contact
        )))
        .basic_auth(&account.username, Some(&account.password))
        .send()
        .await
        .expect("thulium");
    assert_eq!(thulium.status(), 404, "Thulium no longer knows the record");
    assert!(app
        .store
        .contact_deliveries(account.id(), id)
        .expect("store")
        .is_empty());
    let answer = app
        .client
        .post(app.url("contacts/history.json"))
        .bearer_auth(&account.token)
        .json(&json!({"id": traces.contact}))
        .send()
        .await
        .expect("request")
        .json::<Value>()
        .await
        .expect("JSON");
    assert_eq!(answer["error"]["code"], json!(1004), "{answer}");
    // trackUser with the erased contact's data finds nobody, and does not revive the browser.
    let fresh = Suid::random();
    let found = track_user(app, key, fresh, email).await;
    assert_eq!(found["success"], json!(false), "{found}");
    // The audit log names the contact, who and how, and nothing personal.
    let log = domain::audit_log(&app.store, account.id()).expect("audit");
    let entry = log.iter().find(|e| e.contact == id).expect("audit entry");
    let text = serde_json::to_string(entry).expect("json");
    assert!(
        !text.contains(email) && !text.contains("500600700"),
        "{text}"
    );
}

#[tokio::test]
async fn a_deleted_contacts_browsing_does_not_pass_to_the_next_sign_up_in_the_same_browser() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let s = Suid::random();
    page_view(&app, &key, s, &format!("{ORIGIN}/secret-page")).await;
    let a = add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "email": "a@example.com", "suid": s.to_string()}),
    )
    .await;
    assert_eq!(
        history(&app, &shop, a).await["items"][0]["url"],
        json!(format!("{ORIGIN}/secret-page"))
    );

    let deleted = app
        .call(&shop.token, "contacts/delete.json", json!({"id": a}))
        .await;
    assert_eq!(deleted, json!({"success": true}));
    assert_eq!(
        visitor_traces(&app, &shop, s),
        (false, 0, 0),
        "S is forgotten"
    );

    let b = add_contact(
        &app,
        &shop,
        json!({"phone": "600700800", "suid": s.to_string()}),
    )
    .await;
    let items = history(&app, &shop, b).await;
    assert_eq!(items["items"], json!([]), "B inherits nothing: {items}");
    let found = track_user(&app, &key, Suid::random(), "a@example.com").await;
    assert_eq!(found["success"], json!(false), "{found}");
    // The browser is B's now, starting from nothing.
    page_view(&app, &key, s, &format!("{ORIGIN}/after")).await;
    let items = history(&app, &shop, b).await;
    let urls: Vec<&Value> = items["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| &i["url"])
        .collect();
    assert_eq!(urls, vec![&json!(format!("{ORIGIN}/after"))]);
}

#[tokio::test]
async fn contacts_delete_erases_every_trace_and_audits_the_api_user() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let traces = contact_with_everything(&app, &shop, &key, "500600700", "jan@example.com").await;
    let other = contact_with_everything(&app, &shop, &key, "600700800", "ola@example.com").await;
    let deleted = app
        .call(
            &shop.token,
            "contacts/delete.json",
            json!({"id": traces.contact}),
        )
        .await;
    assert_eq!(deleted, json!({"success": true}));
    assert_erased(&app, &shop, &key, &traces, "jan@example.com").await;
    let log = domain::audit_log(&app.store, shop.id()).expect("audit");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].via, "contacts/delete");
    assert_eq!(
        log[0].by,
        domain::Actor::Api {
            api: "SerwerSMS".into(),
            user: Some("shop".into())
        }
    );
    // The other contact keeps everything.
    for suid in other.suids {
        assert!(visitor_traces(&app, &shop, suid).0);
    }
    assert_eq!(
        history(&app, &shop, other.contact).await["items"]
            .as_array()
            .expect("items")
            .len(),
        3
    );
}

#[tokio::test]
async fn groups_delete_with_delete_contacts_erases_the_members_traces() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let group = app
        .call(&shop.token, "groups/add.json", json!({"name": "VIP"}))
        .await["id"]
        .as_u64()
        .expect("group");
    let traces = contact_with_everything(&app, &shop, &key, "500600700", "jan@example.com").await;
    app.call(
        &shop.token,
        "contacts/edit.json",
        json!({"id": traces.contact, "phone": "500600700", "email": "jan@example.com", "group_id": [group]}),
    )
    .await;
    let deleted = app
        .call(
            &shop.token,
            "groups/delete.json",
            json!({"id": group, "delete_contacts": true}),
        )
        .await;
    assert_eq!(deleted, json!({"success": true}));
    assert_erased(&app, &shop, &key, &traces, "jan@example.com").await;
    let log = domain::audit_log(&app.store, shop.id()).expect("audit");
    assert_eq!(log[0].via, "groups/delete");
}

#[tokio::test]
async fn the_admin_card_erases_a_contact_after_confirmation_and_shows_the_audit_log() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let traces = contact_with_everything(&app, &shop, &key, "500600700", "jan@example.com").await;
    let admin = signed_in(&app, &shop).await;
    let card = page_text(&admin, app.url(&format!("card?id={}", traces.contact))).await;
    assert!(
        card.contains(&format!("/contacts/{}/delete", traces.contact)),
        "{card}"
    );
    let csrf = hidden(&card, "csrf");
    let path = format!("contacts/{}/delete", traces.contact);
    let unconfirmed = admin
        .post(app.url(&path))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(unconfirmed.status(), 422);
    assert!(app
        .store
        .contact(shop.id(), ContactId(traces.contact))
        .expect("store")
        .is_some());
    let forged = admin
        .post(app.url(&path))
        .form(&[("csrf", "forged"), ("confirm", "yes")])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), 403);
    let done = admin
        .post(app.url(&path))
        .form(&[("csrf", csrf.as_str()), ("confirm", "yes")])
        .send()
        .await
        .expect("post");
    assert_eq!(done.status(), 303);
    assert_erased(&app, &shop, &key, &traces, "jan@example.com").await;
    let gone = admin
        .get(app.url(&format!("card?id={}", traces.contact)))
        .send()
        .await
        .expect("card");
    assert_eq!(gone.status(), 404);
    let audit = page_text(&admin, app.url("audit")).await;
    assert!(
        audit.contains(&format!("<td>{}</td>", traces.contact)),
        "{audit}"
    );
    assert!(audit.contains("admin shop"), "{audit}");
    assert!(!audit.contains("jan@example.com"));
}

/// A rule that, for every new contact, calls a webhook that refuses connections: its delivery
/// stays pending, waiting for a retry.
fn refused_webhook_rule(app: &TestApp, account: &TestAccount, secret: &str) -> domain::Rule {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", closed.local_addr().expect("addr"));
    drop(closed);
    let spec = domain::parse_rule(
        &json!({"name": "Nowy", "when": {"contact_added": {}}, "then": [{"webhook": {"url": url, "secret": secret}}]}).to_string(),
    )
    .expect("rule");
    domain::add_rule(&app.store, account.id(), spec)
        .expect("rule")
        .rule
}

/// The HTML of an admin page.
async fn page_text(admin: &reqwest::Client, url: String) -> String {
    let response = admin.get(url).send().await.expect("page");
    response.text().await.expect("html")
}

#[tokio::test]
async fn erasure_cancels_the_contacts_pending_deliveries() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let rule = refused_webhook_rule(&app, &shop, "s3cret-s3cret-s3cret");
    let id = add_contact(&app, &shop, json!({"phone": "500600700"})).await;
    let deliveries = app
        .store
        .contact_deliveries(shop.id(), ContactId(id))
        .expect("store");
    assert_eq!(deliveries.len(), 1);
    let delivery = deliveries[0].id;
    assert!(app
        .store
        .firing_mark(shop.id(), rule.id, ContactId(id))
        .expect("store")
        .is_some());
    app.call(&shop.token, "contacts/delete.json", json!({"id": id}))
        .await;
    assert!(app
        .store
        .delivery(shop.id(), delivery)
        .expect("store")
        .is_none());
    assert!(app
        .store
        .firing_mark(shop.id(), rule.id, ContactId(id))
        .expect("store")
        .is_none());
    assert!(app
        .store
        .waiting_deliveries(1000)
        .expect("outbox")
        .iter()
        .all(|(_, _, waiting)| *waiting != delivery));
    assert!(app
        .store
        .latest_firings(shop.id(), rule.id, 100)
        .expect("firings")
        .iter()
        .all(|firing| firing.contact != ContactId(id)));
}

/// Runs an administration command line against the app's store, as the CLI and the control
/// socket do; returns its standard output (asserting success and an empty standard error).
fn admin_command(app: &TestApp, args: &[&str]) -> String {
    use clap::Parser;
    use resolver_server::cli::{run_admin, Cli, Command};
    let argv = std::iter::once("resolver-server").chain(args.iter().copied());
    let Command::Admin(command) = Cli::try_parse_from(argv).expect("command line").command else {
        panic!("not an administration command: {args:?}");
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    run_admin(
        &app.store,
        command,
        &mut std::io::empty(),
        &mut out,
        &mut err,
    )
    .unwrap_or_else(|error| panic!("{args:?}: {error:#}"));
    assert!(err.is_empty(), "{}", String::from_utf8_lossy(&err));
    String::from_utf8(out).expect("UTF-8")
}

#[tokio::test]
async fn the_operator_erases_from_the_command_line_and_reads_the_audit_log() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let by_api = contact_with_everything(&app, &shop, &key, "500600700", "jan@example.com").await;
    let by_cli = contact_with_everything(&app, &shop, &key, "600700800", "ola@example.com").await;
    app.call(
        &shop.token,
        "contacts/delete.json",
        json!({"id": by_api.contact}),
    )
    .await;
    let printed = admin_command(
        &app,
        &["contact", "delete", "shop", &by_cli.contact.to_string()],
    );
    assert_eq!(printed, "");
    assert_erased(&app, &shop, &key, &by_cli, "ola@example.com").await;
    let log = admin_command(&app, &["audit", "shop"]);
    let lines: Vec<Vec<&str>> = log.lines().map(|line| line.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(
        lines[0][1..],
        [
            "contact_erased",
            &by_api.contact.to_string(),
            "SerwerSMS API user shop",
            "contacts/delete"
        ]
    );
    assert_eq!(
        lines[1][1..],
        [
            "contact_erased",
            &by_cli.contact.to_string(),
            "operator (command line)",
            "command line"
        ]
    );
    assert!(!log.contains("example.com") && !log.contains("600700800"));
    // Another account's log is its own.
    app.account("other");
    assert_eq!(admin_command(&app, &["audit", "other"]), "");
}

/// The JSON of a stored value, for comparing with the export.
fn stored<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).expect("JSON")
}

#[tokio::test]
async fn the_access_export_holds_exactly_what_is_stored_about_the_contact() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let secret = "webhook-secret-of-the-shop";
    refused_webhook_rule(&app, &shop, secret);
    let group = app
        .call(&shop.token, "groups/add.json", json!({"name": "VIP"}))
        .await["id"]
        .as_u64()
        .expect("group");
    let traces = contact_with_everything(&app, &shop, &key, "500600700", "jan@example.com").await;
    app.call(&shop.token, "contacts/edit.json", json!({"id": traces.contact, "phone": "500600700", "email": "jan@example.com", "first_name": "Jan", "group_id": [group]})).await;
    domain::add_to_blacklist(&app.store, shop.id(), "500600700").expect("blacklist");
    let other = contact_with_everything(&app, &shop, &key, "600700800", "ola@example.com").await;

    let printed = admin_command(
        &app,
        &["contact", "export", "shop", &traces.contact.to_string()],
    );
    let export: Value = serde_json::from_str(&printed).expect("stdout is one JSON document");
    let id = ContactId(traces.contact);
    let account = shop.id();
    let store = &app.store;
    assert_eq!(export["format"], json!("ssrm-contact-export/1"));
    assert_eq!(
        export["contact"],
        stored(store.contact(account, id).expect("store").expect("contact"))
    );
    assert_eq!(export["contact"]["first_name"], json!("Jan"));
    assert_eq!(export["groups"], json!([{"id": group, "name": "VIP"}]));
    assert_eq!(export["blacklisted"], json!(true));
    let visitors = export["visitors"].as_array().expect("visitors");
    assert_eq!(visitors.len(), 2);
    for suid in traces.suids {
        let visitor = visitors
            .iter()
            .find(|v| v["suid"] == json!(suid.to_string()))
            .expect("visitor");
        let record = store
            .visitor(account, suid)
            .expect("store")
            .expect("visitor");
        assert_eq!(visitor["link"], stored(record.link));
        assert_eq!(visitor["first_seen"], json!(record.first_seen));
        assert_eq!(
            visitor["page_views"],
            stored(store.page_views(account, suid).expect("store"))
        );
        assert_eq!(
            visitor["events"],
            stored(store.tracked_events(account, suid).expect("store"))
        );
    }
    let causes: Vec<&Value> = visitors.iter().map(|v| &v["link"]["cause"]).collect();
    assert!(
        causes.contains(&&json!("contacts_add")) && causes.contains(&&json!("track_user")),
        "{causes:?}"
    );
    assert_eq!(
        visitors
            .iter()
            .map(|v| v["page_views"].as_array().expect("views").len())
            .sum::<usize>(),
        2
    );
    assert_eq!(
        export["activities"],
        stored(store.activities(account, id).expect("store"))
    );
    assert_eq!(
        export["activities"].as_array().expect("activities").len(),
        1
    );
    assert_eq!(
        export["campaign_records"][0]["campaign"],
        json!(traces.campaign.as_str())
    );
    assert_eq!(
        export["campaign_records"][0]["campaign_name"],
        json!("Oddzwonić")
    );
    assert_eq!(
        export["campaign_records"][0]["record"],
        stored(
            store
                .campaign_record(account, &traces.campaign, id)
                .expect("store")
                .expect("record")
        )
    );
    assert_eq!(export["rule_firings"].as_array().expect("firings").len(), 1);
    assert_eq!(export["rule_firings"][0]["rule_name"], json!("Nowy"));
    assert_eq!(
        export["rule_firings"][0]["firing"]["contact"],
        json!(traces.contact)
    );
    assert_eq!(export["rule_firings"][0]["mark"]["times"], json!(1));
    let deliveries = store.contact_deliveries(account, id).expect("store");
    assert_eq!(
        export["deliveries"].as_array().expect("deliveries").len(),
        deliveries.len()
    );
    assert_eq!(export["deliveries"][0]["id"], json!(deliveries[0].id.0));
    assert_eq!(
        export["deliveries"][0]["action"]["webhook"]["secret"],
        json!("(hidden)")
    );
    assert!(
        !printed.contains(secret),
        "the shop's secret is not the contact's data"
    );
    // Nothing of the other contact.
    assert!(!printed.contains("ola@example.com") && !printed.contains(&other.suids[0].to_string()));

    // The card's button downloads the same document.
    let admin = signed_in(&app, &shop).await;
    let card = page_text(&admin, app.url(&format!("card?id={}", traces.contact))).await;
    let link = format!("/contacts/{}/export", traces.contact);
    assert!(card.contains(&link), "{card}");
    let response = admin.get(app.url(&link)).send().await.expect("export");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"]
        .to_str()
        .expect("header")
        .starts_with("attachment"));
    let mut downloaded: Value = response.json().await.expect("JSON");
    let mut expected = export.clone();
    downloaded["exported_at"] = Value::Null;
    expected["exported_at"] = Value::Null;
    assert_eq!(downloaded, expected);
    // Another account cannot export it.
    let rival = app.account("rival");
    let rival_admin = signed_in(&app, &rival).await;
    assert_eq!(
        rival_admin
            .get(app.url(&link))
            .send()
            .await
            .expect("export")
            .status(),
        404
    );
}

const DAY: i64 = 86_400_000;

fn view_at(app: &TestApp, account: &TestAccount, suid: Suid, path: &str, at: i64) {
    domain::record_page_view_at(
        &app.store,
        account.id(),
        suid,
        &format!("{ORIGIN}{path}"),
        "",
        "",
        at,
    )
    .expect("page view");
}

fn urls(app: &TestApp, account: &TestAccount, suid: Suid) -> Vec<String> {
    app.store
        .page_views(account.id(), suid)
        .expect("store")
        .into_iter()
        .map(|view| view.url.trim_start_matches(ORIGIN).to_owned())
        .collect()
}

#[tokio::test]
async fn retention_deletes_history_older_than_the_accounts_period_with_a_clock_the_test_sets() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let other = app.account("other");
    let t0 = domain::now_millis();
    let known = Suid::random();
    let anonymous = Suid::random();
    view_at(&app, &shop, known, "/old", t0 - 10 * DAY);
    view_at(&app, &shop, known, "/new", t0);
    domain::record_event_at(
        &app.store,
        shop.id(),
        known,
        "old_event",
        "{}",
        &format!("{ORIGIN}/old"),
        t0 - 10 * DAY,
    )
    .expect("event");
    view_at(&app, &shop, anonymous, "/browsing", t0);
    let foreign = Suid::random();
    view_at(&app, &other, foreign, "/old", t0 - 10 * DAY);
    let contact = add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "suid": known.to_string()}),
    )
    .await;
    assert_eq!(
        domain::retention_days(&app.store, shop.id()).expect("days"),
        395,
        "13 months by default"
    );

    let nothing = domain::purge_expired(&app.store, shop.id(), t0).expect("purge");
    assert_eq!(nothing, domain::Purged::default());
    // 390 days later the view from 400 days before is gone; the 390-day-old one stays.
    let later = domain::purge_expired(&app.store, shop.id(), t0 + 390 * DAY).expect("purge");
    assert_eq!(
        later,
        domain::Purged {
            page_views: 1,
            events: 1,
            visitors: 0
        }
    );
    assert_eq!(urls(&app, &shop, known), ["/new"]);
    assert!(app
        .store
        .tracked_events(shop.id(), known)
        .expect("store")
        .is_empty());
    let history = history(&app, &shop, contact).await;
    assert_eq!(
        history["items"].as_array().expect("items").len(),
        1,
        "{history}"
    );
    // Another account's data is its own business.
    assert_eq!(urls(&app, &other, foreign), ["/old"]);
    // A year and more later: everything; the anonymous browser is forgotten, the contact's
    // link stays (it is the contact's, erased with it).
    let all = domain::purge_expired(&app.store, shop.id(), t0 + 400 * DAY).expect("purge");
    assert_eq!(
        all,
        domain::Purged {
            page_views: 2,
            events: 0,
            visitors: 1
        }
    );
    assert!(app
        .store
        .visitor(shop.id(), anonymous)
        .expect("store")
        .is_none());
    assert!(app
        .store
        .visitor(shop.id(), known)
        .expect("store")
        .is_some());

    // The operator shortens the period and purges now.
    assert_eq!(
        admin_command(&app, &["account", "set", "shop", "--retention-days", "5"]),
        ""
    );
    assert_eq!(
        domain::retention_days(&app.store, shop.id()).expect("days"),
        5
    );
    view_at(
        &app,
        &shop,
        known,
        "/last-week",
        domain::now_millis() - 6 * DAY,
    );
    view_at(&app, &shop, known, "/today", domain::now_millis());
    let printed = admin_command(&app, &["purge", "shop"]);
    let purged: Value = serde_json::from_str(&printed).expect("JSON");
    assert_eq!(purged, json!({"page_views": 1, "events": 0, "visitors": 0}));
    assert_eq!(urls(&app, &shop, known), ["/today"]);

    // The admin page sets it too, refusing nonsense.
    let admin = signed_in(&app, &shop).await;
    let privacy = page_text(&admin, app.url("audit")).await;
    assert!(
        privacy.contains("name=\"retention_days\"") && privacy.contains("value=\"5\""),
        "{privacy}"
    );
    let csrf = hidden(&privacy, "csrf");
    for bad in ["0", "3651", "soon"] {
        let refused = admin
            .post(app.url("audit/retention"))
            .form(&[("csrf", csrf.as_str()), ("retention_days", bad)])
            .send()
            .await
            .expect("post");
        assert_eq!(refused.status(), 422, "{bad}");
    }
    let saved = admin
        .post(app.url("audit/retention"))
        .form(&[("csrf", csrf.as_str()), ("retention_days", "30")])
        .send()
        .await
        .expect("post");
    assert_eq!(saved.status(), 303);
    assert_eq!(
        domain::retention_days(&app.store, shop.id()).expect("days"),
        30
    );
    assert_eq!(
        domain::retention_days(&app.store, other.id()).expect("days"),
        395
    );
}

/// A page view as a browser sends it, with extra request headers.
async fn page_view_with(
    app: &TestApp,
    key: &str,
    suid: Suid,
    path: &str,
    headers: &[(&str, &str)],
) {
    let body = json!({"site": key, "suid": suid.to_string(), "url": format!("{ORIGIN}{path}"), "title": "", "referrer": ""});
    let mut request = app
        .client
        .post(app.url("t/pageview"))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("origin", ORIGIN)
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    assert_eq!(request.send().await.expect("request").status(), 204);
}

#[tokio::test]
async fn a_domain_that_honours_gpc_and_dnt_stores_nothing_from_such_requests() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "email": "jan@example.com"}),
    )
    .await;
    // Off (the default): the signals change nothing.
    let before = Suid::random();
    page_view_with(&app, &key, before, "/dnt-ignored", &[("DNT", "1")]).await;
    assert_eq!(urls(&app, &shop, before), ["/dnt-ignored"]);

    assert_eq!(
        admin_command(
            &app,
            &["domain", "browser-signals", "shop", "shop.example.com"]
        ),
        ""
    );
    for headers in [[("DNT", "1")], [("Sec-GPC", "1")]] {
        let suid = Suid::random();
        page_view_with(&app, &key, suid, "/private", &headers).await;
        let body = json!({"site": key, "suid": suid.to_string(), "name": "add_to_cart", "props": {}, "url": format!("{ORIGIN}/cart")});
        let mut request = app
            .client
            .post(app.url("t/event"))
            .header("origin", ORIGIN)
            .body(body.to_string());
        request = request.header(headers[0].0, headers[0].1);
        assert_eq!(request.send().await.expect("event").status(), 204);
        let identify = json!({"site": key, "suid": suid.to_string(), "value": "jan@example.com", "hash": null});
        let answer: Value = app
            .client
            .post(app.url("t/identify"))
            .header("origin", ORIGIN)
            .header(headers[0].0, headers[0].1)
            .body(identify.to_string())
            .send()
            .await
            .expect("identify")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["success"], json!(false), "{headers:?}: {answer}");
        assert_eq!(
            visitor_traces(&app, &shop, suid),
            (false, 0, 0),
            "{headers:?}"
        );
    }
    // `DNT: 0` is no refusal.
    let allowed = Suid::random();
    page_view_with(&app, &key, allowed, "/allowed", &[("DNT", "0")]).await;
    assert_eq!(urls(&app, &shop, allowed), ["/allowed"]);
    // Switched off on the domains page, a DNT request is stored again.
    let admin = signed_in(&app, &shop).await;
    let domains = page_text(&admin, app.url("domains")).await;
    assert!(
        domains.contains("Przestań respektować GPC/DNT"),
        "{domains}"
    );
    let csrf = hidden(&domains, "csrf");
    let off = admin
        .post(app.url("domains/browser-signals"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("domain", "shop.example.com"),
            ("on", "false"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(off.status(), 303);
    assert!(
        !app.store
            .domain(shop.id(), "shop.example.com")
            .expect("store")
            .expect("domain")
            .honour_browser_signals
    );
    let after = Suid::random();
    page_view_with(&app, &key, after, "/again", &[("DNT", "1")]).await;
    assert_eq!(urls(&app, &shop, after), ["/again"]);
}

#[tokio::test]
async fn no_stored_record_holds_the_clients_address_or_user_agent() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let agent = "PrivacyProbe/1.0 (X11; Linux x86_64)";
    let forwarded = "203.0.113.77";
    let headers = [
        ("User-Agent", agent),
        ("X-Forwarded-For", forwarded),
        ("X-Real-IP", forwarded),
    ];
    let suid = Suid::random();
    page_view_with(&app, &key, suid, "/", &headers).await;
    let body = json!({"site": key, "suid": suid.to_string(), "name": "signup", "props": {"plan": "pro"}, "url": format!("{ORIGIN}/")});
    app.client
        .post(app.url("t/event"))
        .header("origin", ORIGIN)
        .header("User-Agent", agent)
        .header("X-Forwarded-For", forwarded)
        .body(body.to_string())
        .send()
        .await
        .expect("event");
    let id = add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "email": "jan@example.com", "suid": suid.to_string()}),
    )
    .await;
    let identify = json!({"site": key, "suid": Suid::random().to_string(), "value": "jan@example.com", "hash": null});
    app.client
        .post(app.url("t/identify"))
        .header("origin", ORIGIN)
        .header("User-Agent", agent)
        .header("X-Forwarded-For", forwarded)
        .body(identify.to_string())
        .send()
        .await
        .expect("identify");
    let admin = signed_in(&app, &shop).await;
    admin
        .get(app.url(&format!("card?id={id}")))
        .send()
        .await
        .expect("card");
    assert_eq!(urls(&app, &shop, suid), ["/"], "the page view was stored");

    // Every key and value of every tree (sled) or table (PostgreSQL).
    let stored = app.every_stored_entry().await;
    for (tree, key, value) in &stored {
        for bytes in [key, value] {
            let text = String::from_utf8_lossy(bytes);
            for needle in ["127.0.0.1", forwarded, "PrivacyProbe", "Linux x86_64"] {
                assert!(!text.contains(needle), "{needle} stored in {tree}: {text}");
            }
        }
    }
    let entries = stored.len();
    assert!(entries > 10, "the copy holds the data ({entries} entries)");
}
