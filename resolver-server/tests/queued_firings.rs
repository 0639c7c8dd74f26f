//! Firings are queued on the request path with one write and laid out later (by the delivery
//! worker, or by any read of firings): what is queued survives a restart, duplicates decided
//! concurrently fire once, and a contact erased meanwhile gets nothing.

use resolver_server::domain::{
    self, AccountId, Actor, ContactId, ContactInput, Erasing, Principal, RuleId, Suid,
};
use resolver_server::store::Store;

struct Shop {
    account: AccountId,
    rule: RuleId,
    contact: ContactId,
    visitor: Suid,
}

/// An account with one rule (a single view of `/pricing` fires it: into a group, and a
/// webhook) and one contact linked to a visitor.
fn shop(store: &Store) -> Shop {
    let account = domain::create_account(store, "shop", None)
        .expect("account")
        .id;
    let group = domain::add_group(store, account, "Cennik")
        .expect("group")
        .id
        .0;
    let rule = serde_json::json!({
        "name": "Cennik",
        "when": {"pageview": {"url_contains": "/pricing"}},
        "then": [
            {"add_to_group": group},
            {"webhook": {"url": "https://crm.example.com/hook", "secret": "0123456789abcdef"}}
        ]
    });
    let spec = domain::parse_rule(&rule.to_string()).expect("rule");
    let rule = domain::add_rule(store, account, spec)
        .expect("saved")
        .rule
        .id;
    let visitor = Suid::random();
    let principal = Principal {
        account,
        username: None,
    };
    let input = ContactInput {
        phone: Some("500600700".into()),
        suid: Some(visitor.to_string()),
        ..ContactInput::default()
    };
    let contact = domain::add_contact(store, &principal, &input)
        .expect("contact")
        .id;
    Shop {
        account,
        rule,
        contact,
        visitor,
    }
}

fn view_pricing(store: &Store, shop: &Shop) {
    domain::record_page_view(
        store,
        shop.account,
        shop.visitor,
        "https://shop.example.com/pricing",
        "Cennik",
        "",
    )
    .expect("page view");
}

#[test]
fn a_queued_firing_survives_a_restart_and_is_laid_out_after_it() {
    let dir = tempfile::tempdir().expect("dir");
    let shop = {
        let store = Store::open(dir.path()).expect("open");
        let shop = shop(&store);
        view_pricing(&store, &shop);
        // What the server does before it acknowledges the page view; no worker ran.
        store.flush().expect("flush");
        shop
    };
    let store = Store::open(dir.path()).expect("reopen");
    let stats = store.rule_stats(shop.account, shop.rule).expect("stats");
    assert_eq!(stats.fired, 1, "the queued firing was laid out on read");
    let deliveries = store
        .contact_deliveries(shop.account, shop.contact)
        .expect("deliveries");
    assert_eq!(
        deliveries.len(),
        2,
        "one delivery per action: {deliveries:#?}"
    );
    assert_eq!(
        domain::settle_firings(&store, 100).expect("settle"),
        0,
        "nothing left in the queue"
    );
}

#[test]
fn firings_queued_twice_before_they_are_laid_out_fire_once() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path()).expect("open");
    let shop = shop(&store);
    // The second view is decided before the first firing is laid out, as under load.
    view_pricing(&store, &shop);
    view_pricing(&store, &shop);
    assert_eq!(domain::settle_firings(&store, 100).expect("settle"), 2);
    let stats = store.rule_stats(shop.account, shop.rule).expect("stats");
    assert_eq!(stats.fired, 1);
    assert_eq!(
        store
            .contact_deliveries(shop.account, shop.contact)
            .expect("deliveries")
            .len(),
        2
    );
    // Once laid out, the mark stops the next view on the request path.
    view_pricing(&store, &shop);
    assert_eq!(domain::settle_firings(&store, 100).expect("settle"), 0);
}

#[test]
fn a_firing_queued_for_a_contact_erased_before_it_is_laid_out_is_dropped() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path()).expect("open");
    let shop = shop(&store);
    view_pricing(&store, &shop);
    domain::delete_contacts(
        &store,
        shop.account,
        &[shop.contact],
        &Erasing::new(Actor::Operator, "test"),
    )
    .expect("erased");
    assert_eq!(domain::settle_firings(&store, 100).expect("settle"), 1);
    let stats = store.rule_stats(shop.account, shop.rule).expect("stats");
    assert_eq!(stats.fired, 0);
    assert!(store
        .contact_deliveries(shop.account, shop.contact)
        .expect("deliveries")
        .is_empty());
    assert!(store
        .contact_firings(shop.account, shop.contact)
        .expect("firings")
        .is_empty());
}
