//! Behaviour rules end to end: page views, events, links and new contacts arrive over HTTP,
//! rules fire, and their actions reach real receivers on loopback (a webhook receiver, a
//! SerwerSMS-shaped gateway) or change groups and campaigns.

use hmac::{Hmac, Mac};
use resolver_server::domain::{
    self, AccountId, ContactId, Delivery, DeliveryState, GatewayCredentials, GroupId, RuleError,
    RuleId, Suid,
};
use resolver_server::http::AppState;
use serde_json::{json, Value};
use sha2::Sha256;
use ssrm_tests::receivers::Receiver;
use ssrm_tests::{spawn_app, spawn_app_with, TestAccount, TestApp};
use std::time::{Duration, Instant};

const ORIGIN: &str = "https://shop.example.com";
const SECRET: &str = "a-webhook-secret-of-some-length";
const DAY_MS: i64 = 86_400_000;

fn site(app: &TestApp, account: &TestAccount) -> String {
    domain::add_domain(&app.store, account.id(), "shop.example.com")
        .expect("domain")
        .site_key
}

async fn page_view(app: &TestApp, key: &str, suid: Suid, url: &str) {
    let body =
        json!({"site": key, "suid": suid.to_string(), "url": url, "title": "", "referrer": ""});
    let response = app
        .client
        .post(app.url("t/pageview"))
        .header("origin", ORIGIN)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 204);
}

async fn event(app: &TestApp, key: &str, suid: Suid, name: &str, props: Value) {
    let body = json!({"site": key, "suid": suid.to_string(), "name": name, "props": props, "url": "https://shop.example.com/"});
    let response = app
        .client
        .post(app.url("t/event"))
        .header("origin", ORIGIN)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 204);
}

fn rule(app: &TestApp, account: AccountId, rule: Value) -> RuleId {
    let spec = domain::parse_rule(&rule.to_string()).expect("rule parses");
    domain::add_rule(&app.store, account, spec)
        .expect("rule saved")
        .rule
        .id
}

async fn add_contact(app: &TestApp, account: &TestAccount, fields: Value) -> ContactId {
    let answer = app.call(&account.token, "contacts/add.json", fields).await;
    ContactId(answer["id"].as_u64().expect("contact id"))
}

/// A SerwerSMS gateway (token `gw-token-123`, sender `Sklep`) and a rule that sends `text` to
/// every new contact through it.
fn welcome_sms(app: &TestApp, account: &TestAccount, text: &str) -> Receiver {
    let gateway = Receiver::serwersms();
    domain::set_sms_gateway(
        &app.store,
        account.id(),
        &gateway.base,
        GatewayCredentials::Token("gw-token-123".into()),
        Some("Sklep"),
    )
    .expect("gateway");
    rule(
        app,
        account.id(),
        json!({"name": "Powitanie", "when": {"contact_added": {}},
        "then": [{"send_sms": {"text": text}}]}),
    );
    gateway
}

fn fired(app: &TestApp, account: AccountId, id: RuleId) -> u64 {
    app.store.rule_stats(account, id).expect("stats").fired
}

/// Waits until the contact has `count` deliveries, none of them pending.
async fn settled(
    app: &TestApp,
    account: AccountId,
    contact: ContactId,
    count: usize,
) -> Vec<Delivery> {
    let start = Instant::now();
    loop {
        let deliveries = app
            .store
            .contact_deliveries(account, contact)
            .expect("deliveries");
        if deliveries.len() >= count && deliveries.iter().all(|d| d.state != DeliveryState::Pending)
        {
            return deliveries;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not settled: {deliveries:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn signature_ok(secret: &str, body: &[u8], header: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    header == format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn an_anonymous_visitor_who_viewed_pricing_three_times_fires_once_on_sign_up() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let hook = Receiver::webhook(&[]);
    let interested = domain::add_group(&app.store, shop.id(), "Zainteresowani").expect("group");
    let id = rule(
        &app,
        shop.id(),
        json!({
            "name": "Cennik 3 razy",
            "when": {"pageview": {"url_contains": "/pricing"}, "count": 3, "within_days": 7},
            "then": [{"add_to_group": interested.id}, {"webhook": {"url": hook.base, "secret": SECRET}}]
        }),
    );
    let visitor = Suid::random();
    for _ in 0..3 {
        page_view(
            &app,
            &key,
            visitor,
            "https://shop.example.com/pricing?plan=pro",
        )
        .await;
    }
    page_view(&app, &key, visitor, "https://shop.example.com/about").await;
    assert_eq!(
        fired(&app, shop.id(), id),
        0,
        "an anonymous visitor fires nothing"
    );

    let acknowledged = Instant::now();
    let contact = add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "first_name": "Anna", "email": "anna@example.com", "suid": visitor.to_string()}),
    )
    .await;
    assert_eq!(
        fired(&app, shop.id(), id),
        1,
        "fired before the sign-up was acknowledged"
    );
    let requests = hook.wait_for(1, Duration::from_secs(10)).await;
    assert!(
        acknowledged.elapsed() < Duration::from_secs(5),
        "first attempt came quickly"
    );
    let request = &requests[0];
    let signature = request.header("x-ssrm-signature").expect("signed");
    assert!(
        signature_ok(SECRET, &request.body, signature),
        "the receiver can verify it"
    );
    let body = request.json();
    assert_eq!(body["rule"], json!({"id": id.0, "name": "Cennik 3 razy"}));
    assert_eq!(body["contact"]["id"], contact.0);
    assert_eq!(body["contact"]["first_name"], "Anna");
    assert_eq!(body["contact"]["phone"], "+48500600700");
    assert_eq!(body["contact"]["suid"], visitor.to_string());
    assert_eq!(body["trigger"]["type"], "pageview");
    assert_eq!(
        body["trigger"]["url"],
        "https://shop.example.com/pricing?plan=pro"
    );
    assert_eq!(request.header("x-ssrm-delivery"), body["delivery"].as_str());

    let deliveries = settled(&app, shop.id(), contact, 2).await;
    assert!(
        deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Delivered),
        "{deliveries:#?}"
    );
    let stored = app
        .store
        .contact(shop.id(), contact)
        .expect("store")
        .expect("contact");
    assert_eq!(stored.groups, vec![interested.id]);

    // At most once per contact: more visits fire nothing more.
    page_view(&app, &key, visitor, "https://shop.example.com/pricing").await;
    assert_eq!(fired(&app, shop.id(), id), 1);

    let history = app
        .call(
            &shop.token,
            "contacts/history.json",
            json!({"id": contact.0}),
        )
        .await;
    let rules: Vec<&Value> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|item| item["type"] == "rule")
        .collect();
    assert_eq!(rules.len(), 2, "{history}");
    let keys = |item: &Value| {
        item.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
    };
    assert_eq!(
        keys(rules[0]),
        keys(&history["items"][history["items"].as_array().map_or(0, |a| a.len() - 1)])
    );
    assert!(rules.iter().any(|item| item["props"]["action"] == "webhook"
        && item["props"]["status"] == "delivered"
        && item["title"]
            .as_str()
            .is_some_and(|t| t.contains("Reguła «Cennik 3 razy»"))));
}

#[tokio::test]
async fn count_and_within_days_count_the_whole_recent_history() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let group = domain::add_group(&app.store, shop.id(), "G").expect("group");
    let id = rule(
        &app,
        shop.id(),
        json!({"name": "3 w tygodniu", "when": {"pageview": {"url_prefix": "https://shop.example.com/pricing"}, "count": 3, "within_days": 7},
               "then": [{"add_to_group": group.id}]}),
    );
    let phone_visitor = Suid::random();
    let laptop = Suid::random();
    add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "suid": phone_visitor.to_string()}),
    )
    .await;
    let long_ago = domain::now_millis() - 10 * DAY_MS;
    for offset in 0..2 {
        domain::record_page_view_at(
            &app.store,
            shop.id(),
            phone_visitor,
            "https://shop.example.com/pricing",
            "",
            "",
            long_ago + offset,
        )
        .expect("old view");
    }
    page_view(
        &app,
        &key,
        phone_visitor,
        "https://shop.example.com/pricing",
    )
    .await;
    assert_eq!(
        fired(&app, shop.id(), id),
        0,
        "two of three views are too old"
    );
    // A second device of the same contact, anonymous first, counts once linked.
    page_view(&app, &key, laptop, "https://shop.example.com/pricing/pro").await;
    assert_eq!(fired(&app, shop.id(), id), 0);
    let answer = app
        .client
        .post(app.url("t/identify"))
        .header("origin", ORIGIN)
        .body(json!({"site": key, "suid": laptop.to_string(), "value": "500600700"}).to_string())
        .send()
        .await
        .expect("trackUser")
        .json::<Value>()
        .await
        .expect("JSON");
    assert_eq!(answer["success"], true);
    assert_eq!(fired(&app, shop.id(), id), 0, "two recent views in all");
    page_view(&app, &key, laptop, "https://shop.example.com/pricing").await;
    assert_eq!(
        fired(&app, shop.id(), id),
        1,
        "the third recent view, across both devices"
    );
}

#[tokio::test]
async fn events_identification_and_new_contacts_trigger_their_rules() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let group = domain::add_group(&app.store, shop.id(), "G").expect("group");
    let on_event = rule(
        &app,
        shop.id(),
        json!({"name": "Pro", "when": {"event": {"name": "signup", "props": {"plan": "pro"}}}, "then": [{"add_to_group": group.id}]}),
    );
    let on_identified = rule(
        &app,
        shop.id(),
        json!({"name": "Rozpoznany", "when": {"identified": {}}, "then": [{"add_to_group": group.id}]}),
    );
    let on_added = rule(
        &app,
        shop.id(),
        json!({"name": "Nowy", "when": {"contact_added": {}}, "then": [{"add_to_group": group.id}]}),
    );

    let plain = add_contact(&app, &shop, json!({"phone": "500600701"})).await;
    assert_eq!(fired(&app, shop.id(), on_added), 1, "contacts/add");
    assert_eq!(
        fired(&app, shop.id(), on_identified),
        0,
        "no visitor linked"
    );
    // TelefUM's addcont creates contacts through the same domain call.
    let telefum = app
        .client
        .get(app.url(&format!(
            "rest?typereq=addcont&login=shop&password={}&phone=500600799&name=Jan",
            shop.password
        )))
        .send()
        .await
        .expect("addcont");
    assert_eq!(telefum.status(), 200);
    assert_eq!(fired(&app, shop.id(), on_added), 2, "TelefUM addcont");

    let visitor = Suid::random();
    event(&app, &key, visitor, "signup", json!({"plan": "basic"})).await;
    event(
        &app,
        &key,
        visitor,
        "signup",
        json!({"plan": "pro", "seats": 3}),
    )
    .await;
    assert_eq!(fired(&app, shop.id(), on_event), 0, "anonymous");
    let linked = add_contact(
        &app,
        &shop,
        json!({"phone": "500600702", "suid": visitor.to_string()}),
    )
    .await;
    assert_eq!(fired(&app, shop.id(), on_identified), 1);
    assert_eq!(
        fired(&app, shop.id(), on_event),
        1,
        "the pro sign-up it brought"
    );
    event(&app, &key, visitor, "signup", json!({"plan": "pro"})).await;
    assert_eq!(fired(&app, shop.id(), on_event), 1, "once per contact");
    settled(&app, shop.id(), linked, 3).await;
    settled(&app, shop.id(), plain, 1).await;
}

#[tokio::test]
async fn only_if_and_repeat_after_days() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let vip = domain::add_group(&app.store, shop.id(), "VIP").expect("group");
    let done = domain::add_group(&app.store, shop.id(), "Done").expect("group");
    let guarded = rule(
        &app,
        shop.id(),
        json!({"name": "VIP", "when": {"pageview": {"url_equals": "https://shop.example.com/offer"}},
        "only_if": {"in_group": vip.id, "not_in_group": done.id}, "then": [{"add_to_group": done.id}]}),
    );
    let repeating = rule(
        &app,
        shop.id(),
        json!({"name": "Co tydzień", "when": {"pageview": {"url_contains": "/weekly"}},
        "then": [{"remove_from_group": vip.id}], "repeat_after_days": 7}),
    );
    let visitor = Suid::random();
    let contact = add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "suid": visitor.to_string()}),
    )
    .await;
    page_view(&app, &key, visitor, "https://shop.example.com/offer").await;
    assert_eq!(fired(&app, shop.id(), guarded), 0, "not in VIP");
    app.call(
        &shop.token,
        "contacts/edit.json",
        json!({"id": contact.0, "phone": "500600700", "group_id": vip.id.0.to_string()}),
    )
    .await;
    page_view(&app, &key, visitor, "https://shop.example.com/offer?x=1").await;
    assert_eq!(fired(&app, shop.id(), guarded), 1, "in VIP, not done");
    settled(&app, shop.id(), contact, 1).await;
    page_view(&app, &key, visitor, "https://shop.example.com/offer").await;
    assert_eq!(fired(&app, shop.id(), guarded), 1);

    let eight_days_ago = domain::now_millis() - 8 * DAY_MS;
    domain::record_page_view_at(
        &app.store,
        shop.id(),
        visitor,
        "https://shop.example.com/weekly",
        "",
        "",
        eight_days_ago,
    )
    .expect("old view");
    assert_eq!(fired(&app, shop.id(), repeating), 1);
    page_view(&app, &key, visitor, "https://shop.example.com/weekly").await;
    assert_eq!(
        fired(&app, shop.id(), repeating),
        2,
        "seven days passed since the last firing"
    );
    page_view(&app, &key, visitor, "https://shop.example.com/weekly").await;
    assert_eq!(
        fired(&app, shop.id(), repeating),
        2,
        "not again within seven days"
    );
}

#[tokio::test]
async fn a_receiver_answering_500_gets_the_same_delivery_again() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let hook = Receiver::webhook(&[500]);
    rule(
        &app,
        shop.id(),
        json!({"name": "Nowy", "when": {"contact_added": {}}, "then": [{"webhook": {"url": format!("{}hooks", hook.base), "secret": SECRET}}]}),
    );
    let contact = add_contact(&app, &shop, json!({"phone": "500600700"})).await;
    let requests = hook.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(requests[0].body, requests[1].body, "the same body");
    assert_eq!(
        requests[0].header("x-ssrm-delivery"),
        requests[1].header("x-ssrm-delivery")
    );
    assert_eq!(requests[0].path, "/hooks");
    let deliveries = settled(&app, shop.id(), contact, 1).await;
    assert_eq!(deliveries[0].state, DeliveryState::Delivered);
    let outcomes: Vec<(bool, &str)> = deliveries[0]
        .attempts
        .iter()
        .map(|a| (a.ok, a.detail.as_str()))
        .collect();
    assert_eq!(outcomes, [(false, "HTTP 500"), (true, "HTTP 200")]);
    let gap = deliveries[0].attempts[1].at - deliveries[0].attempts[0].at;
    assert!(
        (4_000..15_000).contains(&gap),
        "retried after about 5 s: {gap} ms"
    );
}

#[tokio::test]
async fn an_sms_goes_through_the_gateway_as_the_official_client_sends_it() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let gateway = welcome_sms(&app, &shop, "Dzień dobry {first_name} z {city}!");
    let contact = add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "first_name": "Ewa", "city": "Gdańsk"}),
    )
    .await;
    let requests = gateway.wait_for(1, Duration::from_secs(10)).await;
    let request = &requests[0];
    assert_eq!(request.path, "/messages/send_sms.json");
    assert_eq!(request.header("authorization"), Some("Bearer gw-token-123"));
    let deliveries = settled(&app, shop.id(), contact, 1).await;
    let delivery = &deliveries[0];
    assert_eq!(
        request.json(),
        json!({"phone": "+48500600700", "text": "Dzień dobry Ewa z Gdańsk!", "unique_id": format!("ssrm-{}", delivery.id), "sender": "Sklep"})
    );
    assert_eq!(delivery.state, DeliveryState::Delivered);
    assert_eq!(delivery.detail(), "message id msg000001");
    assert!(
        delivery.summary().ends_with("SMS wysłany"),
        "{}",
        delivery.summary()
    );
    // The card shows it.
    let timeline =
        domain::contact_timeline(&app.store, shop.id(), contact, domain::Paging::default())
            .expect("timeline");
    assert!(timeline
        .items
        .iter()
        .any(|entry| matches!(entry, domain::TimelineEntry::Rule(d) if d.id == delivery.id)));
}

#[tokio::test]
async fn a_blacklisted_phone_gets_no_sms_from_a_rule() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let gateway = welcome_sms(&app, &shop, "Dzień dobry {first_name}!");
    // Blacklisted through the SerwerSMS API, typed differently from the contact's phone.
    let listed = app
        .call(
            &shop.token,
            "blacklist/add.json",
            json!({"phone": "+48 500 600 700"}),
        )
        .await;
    assert_eq!(listed["success"], json!(true), "{listed}");
    let contact = add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "first_name": "Ewa"}),
    )
    .await;
    let deliveries = settled(&app, shop.id(), contact, 1).await;
    assert_eq!(
        deliveries[0].state,
        DeliveryState::Failed,
        "{deliveries:#?}"
    );
    assert!(
        deliveries[0].detail().contains("czarnej liście"),
        "{}",
        deliveries[0].detail()
    );
    assert!(gateway.requests().is_empty(), "the gateway got a text");
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let app = spawn_app_with(|state| AppState {
        delivery: resolver_server::delivery::DeliveryOptions::default(),
        ..state
    })
    .await;
    let shop = app.account("shop");
    let hook = Receiver::webhook(&[]);
    let saved = domain::add_rule(
        &app.store,
        shop.id(),
        domain::parse_rule(&json!({"name": "Lokalny", "when": {"contact_added": {}}, "then": [{"webhook": {"url": hook.base, "secret": SECRET}}]}).to_string())
            .expect("parses"),
    )
    .expect("saved with a warning");
    assert_eq!(saved.warnings.len(), 1, "{:?}", saved.warnings);
    let contact = add_contact(&app, &shop, json!({"phone": "500600700"})).await;
    let deliveries = settled(&app, shop.id(), contact, 1).await;
    assert_eq!(deliveries[0].state, DeliveryState::Failed);
    assert!(
        deliveries[0].detail().contains("SSRF"),
        "{}",
        deliveries[0].detail()
    );
    assert!(hook.requests().is_empty());
}

#[tokio::test]
async fn another_accounts_group_or_campaign_is_refused() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let other = app.account("other");
    let theirs = domain::add_group(&app.store, other.id(), "Theirs").expect("group");
    domain::add_campaign(&app.store, other.id(), "Theirs").expect("campaign");
    for (then, path) in [
        (json!({"add_to_group": theirs.id}), "then[0].add_to_group"),
        (
            json!({"add_to_campaign": {"campaign": "00001", "status_id": 1}}),
            "then[0].add_to_campaign.campaign",
        ),
    ] {
        let spec = domain::parse_rule(
            &json!({"name": "x", "when": {"contact_added": {}}, "then": [then]}).to_string(),
        )
        .expect("parses");
        match domain::add_rule(&app.store, shop.id(), spec) {
            Err(RuleError::Invalid { path: found, .. }) => assert_eq!(found, path),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    let only_if = domain::parse_rule(&json!({"name": "x", "when": {"contact_added": {}}, "only_if": {"in_group": theirs.id}, "then": [{"add_to_group": GroupId(1)}]}).to_string()).expect("parses");
    assert!(domain::add_rule(&app.store, shop.id(), only_if).is_err());
    assert!(domain::list_rules(&app.store, shop.id())
        .expect("list")
        .is_empty());
}

#[tokio::test]
async fn a_campaign_action_treats_already_in_as_done() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let campaign = domain::add_campaign(&app.store, shop.id(), "Oddzwonić").expect("campaign");
    let visitor = Suid::random();
    rule(
        &app,
        shop.id(),
        json!({"name": "Kampania", "when": {"identified": {}},
        "then": [{"add_to_campaign": {"campaign": campaign.id.as_str(), "status_id": 1}}]}),
    );
    let contact = add_contact(&app, &shop, json!({"phone": "500600700"})).await;
    domain::add_records(
        &app.store,
        shop.id(),
        &campaign.id,
        &[domain::RecordInput {
            customer: contact,
            status_id: Some(1),
            dictionary_status_id: None,
            agent_login: None,
            next_call_date: None,
            order: None,
        }],
    )
    .expect("already in");
    app.call(
        &shop.token,
        "contacts/edit.json",
        json!({"id": contact.0, "phone": "500600700", "suid": visitor.to_string()}),
    )
    .await;
    let deliveries = settled(&app, shop.id(), contact, 1).await;
    assert_eq!(
        deliveries[0].state,
        DeliveryState::Delivered,
        "{:?}",
        deliveries[0].attempts
    );
    assert!(deliveries[0].detail().contains("już w kampanii"));
}

#[tokio::test]
async fn the_admin_pages_create_a_rule_without_json_and_show_its_log_and_the_card() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let key = site(&app, &shop);
    let group = domain::add_group(&app.store, shop.id(), "Ciepli").expect("group");
    let client = ssrm_tests::admin_session::signed_in(&app, &shop).await;
    let csrf = ssrm_tests::admin_session::form_token(&client, &app, "rules").await;
    let forged = client
        .post(app.url("rules"))
        .form(&[("csrf", "forged"), ("name", "x")])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), 403);
    let group_id = group.id.to_string();
    let refused = client
        .post(app.url("rules"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Zły"),
            ("trigger", "identified"),
            ("count", "2"),
            ("action", "add_to_group"),
            ("group", group_id.as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.expect("html").contains("when.count"));
    let created = client
        .post(app.url("rules"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Cennik 3 razy"),
            ("trigger", "url_contains"),
            ("pattern", "/pricing"),
            ("count", "3"),
            ("within_days", "7"),
            ("action", "add_to_group"),
            ("group", group_id.as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let rules = domain::list_rules(&app.store, shop.id()).expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(location, format!("/rules/{}", rules[0].0.id));

    let visitor = Suid::random();
    for _ in 0..3 {
        page_view(&app, &key, visitor, "https://shop.example.com/pricing").await;
    }
    let contact = add_contact(
        &app,
        &shop,
        json!({"phone": "500600700", "suid": visitor.to_string()}),
    )
    .await;
    settled(&app, shop.id(), contact, 1).await;
    let rule_page = ssrm_tests::admin_session::page_html(&client, &app, &location).await;
    assert!(rule_page.contains("add_to_group: delivered"), "{rule_page}");
    assert!(
        rule_page.contains("&quot;url_contains&quot;: &quot;/pricing&quot;"),
        "the JSON is shown"
    );
    let list = ssrm_tests::admin_session::page_html(&client, &app, "rules").await;
    assert!(list.contains("<td class=\"fired\">1</td>"), "{list}");
    let card =
        ssrm_tests::admin_session::page_html(&client, &app, &format!("card?id={contact}")).await;
    assert!(
        card.contains("Reguła «Cennik 3 razy» → dodano do grupy"),
        "{card}"
    );

    let switched = client
        .post(app.url(&format!("{location}/switch")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("switch");
    assert_eq!(switched.status(), 303);
    assert!(
        !domain::list_rules(&app.store, shop.id()).expect("rules")[0]
            .0
            .spec
            .enabled
    );
}
