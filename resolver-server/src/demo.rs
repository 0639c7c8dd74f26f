//! The demo data `serve --demo` creates on first start: an account with a user, a token and the
//! domains a local demo needs, plus the Thulium documentation's example (customers 441 and 445,
//! campaign 00001 already holding 445, agent login `api_user` / `api_pass`), so the examples
//! of the README run unchanged, and one behaviour rule (a product viewed three times puts the
//! visitor into a group).

use crate::domain::{self, AccountId, ContactId, ContactInput, Principal, RecordInput};
use crate::store::Store;
use anyhow::Context;
use std::path::Path;

pub const DEMO_ACCOUNT: &str = "demo";
const DEMO_FILE: &str = "demo-credentials.txt";

/// What `serve --demo` prints.
pub struct DemoCredentials {
    pub account: String,
    pub username: String,
    pub password: String,
    pub token: String,
    pub site_key: String,
}

/// Creates the demo account on first use and keeps its credentials in the data directory (a
/// token is shown once, so the demo remembers it for later starts).
pub fn ensure_demo(store: &Store, data_dir: &Path) -> anyhow::Result<DemoCredentials> {
    let file = data_dir.join(DEMO_FILE);
    if store.account_by_name(DEMO_ACCOUNT)?.is_some() {
        let saved = std::fs::read_to_string(&file)
            .with_context(|| format!("demo account exists but {} is missing", file.display()))?;
        let field = |name: &str| {
            saved
                .lines()
                .find_map(|line| line.strip_prefix(name).map(str::to_owned))
                .unwrap_or_default()
        };
        return Ok(DemoCredentials {
            account: DEMO_ACCOUNT.into(),
            username: field("username="),
            password: field("password="),
            token: field("token="),
            site_key: field("site_key="),
        });
    }
    let account = domain::create_account(store, DEMO_ACCOUNT, Some("PL"))?;
    let password = "demo-password".to_owned();
    domain::add_user(store, account.id, "demo", &password)?;
    let token = domain::create_token(store, account.id, Some("demo"), None)?;
    let site = domain::add_domain(store, account.id, "127.0.0.1")?;
    domain::add_domain(store, account.id, "localhost")?;
    seed_thulium_example(store, account.id)?;
    seed_demo_rule(store, account.id)?;
    store.flush()?;
    let credentials = DemoCredentials {
        account: account.name,
        username: "demo".into(),
        password,
        token: token.secret,
        site_key: site.site_key,
    };
    let text = format!(
        "username={}\npassword={}\ntoken={}\nsite_key={}\n",
        credentials.username, credentials.password, credentials.token, credentials.site_key
    );
    std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(credentials)
}

/// Adds a contact whose id is exactly `id`, as the Thulium example names its customers. Ids are
/// handed out in increasing order, so this works while the database has used fewer ids.
fn contact_with_id(
    store: &Store,
    principal: &Principal,
    id: u64,
    phone: &str,
) -> anyhow::Result<ContactId> {
    let mut next = store.next_id()?;
    while next + 1 < id {
        next = store.next_id()?;
    }
    anyhow::ensure!(next + 1 == id, "the database already used id {id}");
    let input = ContactInput {
        phone: Some(phone.into()),
        first_name: Some(format!("Klient {id}")),
        ..ContactInput::default()
    };
    let contact = domain::add_contact(store, principal, &input)?;
    anyhow::ensure!(
        contact.id.0 == id,
        "contact got id {} instead of {id}",
        contact.id
    );
    Ok(contact.id)
}

/// The demo's behaviour rule: a visitor who views product pages three times is put into the
/// group "Zainteresowani produktem" (counted over what they did before signing up too), so
/// viewing a product three times in the demo shop and signing up shows the firing on the
/// contact's card. Its actions stay inside ssrm: a demo has no external targets.
pub fn seed_demo_rule(store: &Store, account: AccountId) -> anyhow::Result<()> {
    let group = domain::add_group(store, account, "Zainteresowani produktem")?;
    let rule = serde_json::json!({
        "name": "Produkt oglądany 3 razy",
        "enabled": true,
        "when": { "pageview": { "url_contains": "/product/" }, "count": 3, "within_days": 7 },
        "then": [ { "add_to_group": group.id } ],
        "repeat_after_days": null
    });
    let spec = domain::parse_rule(&rule.to_string())?;
    domain::add_rule(store, account, spec)?;
    Ok(())
}

/// The Thulium documentation's batch example, ready to run: customers 441 and 445 exist, 448
/// does not, campaign 00001 exists and already holds 445, and `api_user` / `api_pass` logs in.
pub fn seed_thulium_example(store: &Store, account: AccountId) -> anyhow::Result<()> {
    domain::add_user(store, account, "api_user", "api_pass")?;
    let principal = Principal {
        account,
        username: Some("api_user".into()),
    };
    contact_with_id(store, &principal, 441, "+48 501 441 441")?;
    let existing = contact_with_id(store, &principal, 445, "+48 501 445 445")?;
    let campaign = domain::add_campaign(store, account, "Kampania demo")?;
    let record = RecordInput {
        customer: existing,
        status_id: Some(1),
        dictionary_status_id: None,
        agent_login: None,
        next_call_date: None,
        order: None,
    };
    domain::add_records(store, account, &campaign.id, &[record])?;
    Ok(())
}
