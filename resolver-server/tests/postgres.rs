//! The store on a real PostgreSQL (`SSRM_TEST_DATABASE_URL`, a URL whose user may create
//! databases; each test makes a fresh database of its own): the backend's own behaviour
//! (atomic transactions, unique ids, ordered scans, conflicting transactions retried), two
//! nodes on one database (two `serve` processes, and two stores in one process with their own
//! caches), `migrate-store` from a populated sled directory, and the database going away and
//! coming back while a server runs. Skipped, with a message, when the variable is unset.

use resolver_server::domain::{
    self, AccountId, CampaignId, CampaignRecord, Contact, ContactId, ContactInput, Entity,
    LinkCause, Principal, Suid,
};
use resolver_server::store::{RecordInsert, Store};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{admin, admin_url, fresh_database, stdout as ok, BINARY};

const ORIGIN: &str = "https://shop.example.com";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Runs the binary on the database `url` (and `data_dir`, unused by PostgreSQL commands).
fn run(url: &str, data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(BINARY)
        .env("SSRM_DATABASE_URL", url)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("binary finishes")
}

struct Node {
    child: Child,
    base: String,
}

impl Node {
    async fn start(url: &str, data_dir: &Path) -> Node {
        let port = free_port();
        let child = Command::new(BINARY)
            .env("SSRM_DATABASE_URL", url)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("server starts");
        let node = Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = client.get(node.url("readyz")).send().await {
                if response.status() == 200 {
                    return node;
                }
            }
            assert!(Instant::now() < deadline, "server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Account `shop` with user `jan`, a token and the domain `shop.example.com`, through the CLI
/// on PostgreSQL; returns (token, site key).
fn shop(url: &str, dir: &Path) -> (String, String) {
    ok(&run(url, dir, &["account", "add", "shop"], None));
    ok(&run(
        url,
        dir,
        &["user", "add", "shop", "jan", "--password-stdin"],
        Some("long enough password\n"),
    ));
    let token = ok(&run(
        url,
        dir,
        &["token", "create", "shop", "--user", "jan"],
        None,
    ))
    .trim()
    .to_owned();
    let key = ok(&run(
        url,
        dir,
        &["domain", "add", "shop", "shop.example.com"],
        None,
    ))
    .trim()
    .to_owned();
    (token, key)
}

async fn add_contact(
    client: &reqwest::Client,
    node: &Node,
    token: &str,
    phone: &str,
) -> Option<u64> {
    let answer: serde_json::Value = client
        .post(node.url("contacts/add.json"))
        .bearer_auth(token)
        .json(&serde_json::json!({"phone": phone, "email": format!("{}@example.com", phone.trim_start_matches('+'))}))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    (answer["success"] == true).then(|| answer["id"].as_u64())?
}

/// A contact with this phone (and these groups) through the domain, as the APIs add them.
fn new_contact(
    store: &Store,
    account: AccountId,
    phone: &str,
    groups: &[domain::GroupId],
) -> Contact {
    domain::add_contact(
        store,
        &Principal {
            account,
            username: None,
        },
        &ContactInput {
            phone: Some(phone.to_owned()),
            groups: Some(groups.to_vec()),
            ..Default::default()
        },
    )
    .expect("contact")
}

fn record(record_id: u64, customer: ContactId) -> CampaignRecord {
    CampaignRecord {
        record_id,
        customer,
        status_id: 1,
        dictionary_status_id: None,
        agent_login: None,
        next_call_date: None,
        order: None,
        call_date: None,
        created_at: 0,
    }
}

fn account_of(store: &Store, name: &str) -> AccountId {
    store
        .account_by_name(name)
        .expect("store")
        .expect("account")
        .id
}

#[test]
fn transactions_ids_and_scans_behave_as_on_sled() {
    let Some(admin_url) = admin_url() else { return };
    let (_, url) = fresh_database(&admin_url);
    let store = Store::connect(&url, 8).expect("connect");
    let account = domain::create_account(&store, "shop", Some("PL")).expect("account");

    // An aborted transaction leaves nothing: the second account with the name is refused and
    // its name entry is not half-written.
    let again = domain::create_account(&store, "shop", Some("PL"));
    assert!(matches!(
        again,
        Err(domain::DomainError::AlreadyExists(Entity::Account))
    ));
    assert_eq!(store.accounts().expect("accounts").len(), 1);

    // Ids are unique across two stores (two nodes) taking them at once.
    let other = Store::connect(&url, 8).expect("second node");
    let ids: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = [&store, &other, &store, &other]
            .into_iter()
            .map(|store| {
                scope.spawn(move || {
                    (0..300)
                        .map(|_| store.next_id().expect("id"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("thread"))
            .collect()
    });
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an id was handed out twice");

    // Scans come in key order, forwards and backwards, across pages (more than one page of
    // 512 rows), whatever order the rows were written in.
    let group = domain::add_group(&store, account.id, "all").expect("group");
    let mut made = Vec::new();
    for n in 0..700u64 {
        let phone = format!("+4850{:07}", (n * 7919) % 10_000_000);
        made.push(new_contact(&store, account.id, &phone, &[group.id]).id);
    }
    let listed: Vec<ContactId> = store
        .contacts(account.id)
        .map(|contact| contact.expect("contact").id)
        .collect();
    let mut sorted = made.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    let members: Vec<ContactId> = store
        .group_member_ids(account.id, group.id)
        .map(|id| id.expect("id"))
        .collect();
    assert_eq!(members, sorted);
    assert_eq!(
        store
            .group(account.id, group.id)
            .expect("group")
            .expect("exists")
            .count,
        700
    );

    // Conflicting transactions on two nodes (every contact joins the same group, whose
    // count both change) all commit, through retries: the count is exact.
    let second_group = domain::add_group(&store, account.id, "busy").expect("group");
    std::thread::scope(|scope| {
        for (n, node) in [&store, &other, &store, &other].into_iter().enumerate() {
            let chunk: Vec<ContactId> = sorted[n * 50..n * 50 + 50].to_vec();
            scope.spawn(move || {
                for id in chunk {
                    node.update_contact(
                        account.id,
                        id,
                        |contact| {
                            let mut changed = contact.clone();
                            changed.groups.push(second_group.id);
                            Ok(changed)
                        },
                        None,
                    )
                    .expect("update commits");
                }
            });
        }
    });
    assert_eq!(
        other
            .group(account.id, second_group.id)
            .expect("group")
            .expect("exists")
            .count,
        200
    );
}

#[test]
fn two_stores_on_one_database_share_campaign_records_rules_and_sessions() {
    let Some(admin_url) = admin_url() else { return };
    let (_, url) = fresh_database(&admin_url);
    let a = Store::connect(&url, 8).expect("node A");
    let b = Store::connect(&url, 8).expect("node B");
    let account = domain::create_account(&a, "shop", Some("PL")).expect("account");
    let contact = new_contact(&a, account.id, "+48500100200", &[]);

    // Concurrent batches naming the same customer, on both nodes: added once.
    let campaign = domain::add_campaign(&a, account.id, "calls").expect("campaign");
    let outcomes: Vec<RecordInsert> = std::thread::scope(|scope| {
        let handles: Vec<_> = [&a, &b, &a, &b, &a, &b]
            .into_iter()
            .enumerate()
            .map(|(n, node)| {
                let id = campaign.id.clone();
                scope.spawn(move || {
                    let records = [record(n as u64 + 1, contact.id)];
                    let outcomes = node
                        .insert_campaign_records(account.id, &id, &records)
                        .expect("insert");
                    outcomes[0]
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == RecordInsert::Added)
            .count(),
        1,
        "{outcomes:?}"
    );

    // A rule made on A applies on B, whose cache held the account's (empty) rule set: the
    // change reaches B through NOTIFY.
    assert!(b.enabled_rules(account.id).expect("rules").is_empty());
    let group = domain::add_group(&a, account.id, "hot").expect("group");
    let spec = domain::parse_rule(&format!(
        r#"{{"name":"r","when":{{"pageview":{{"url_prefix":"https://s/"}}}},"then":[{{"add_to_group":{}}}]}}"#,
        group.id
    ))
    .expect("rule");
    let rule = domain::add_rule(&a, account.id, spec)
        .expect("saved")
        .rule
        .id;
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.enabled_rules(account.id).expect("rules").is_empty() {
        assert!(Instant::now() < deadline, "node B kept its stale rule set");
        std::thread::sleep(Duration::from_millis(20));
    }
    // And switching it off on A is seen on B too.
    domain::set_rule_enabled(&a, account.id, rule, domain::RuleState::Off).expect("disable");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !b.enabled_rules(account.id).expect("rules").is_empty() {
        assert!(Instant::now() < deadline, "node B kept a disabled rule");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Two nodes linking the same anonymous visitor to two contacts at once: linked once.
    let other = new_contact(&a, account.id, "+48500100300", &[]);
    let suid = Suid::random();
    std::thread::scope(|scope| {
        scope.spawn(|| a.link_visitor(account.id, contact.id, suid, LinkCause::TrackUser));
        scope.spawn(|| b.link_visitor(account.id, other.id, suid, LinkCause::TrackUser));
    });
    let visitor = a
        .visitor(account.id, suid)
        .expect("visitor")
        .expect("exists");
    let linked = visitor.link.expect("linked").contact;
    // (The loser gets a fresh visitor of its own, never this one.)
    let has_it = |id: ContactId| {
        a.contact_visitors(account.id, id)
            .expect("visitors")
            .iter()
            .any(|visitor| visitor.suid == suid)
    };
    assert!(
        has_it(contact.id) != has_it(other.id),
        "linked to both or neither"
    );
    assert!(linked == contact.id || linked == other.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_behave_as_one() {
    let Some(admin_url) = admin_url() else { return };
    let (_, url) = fresh_database(&admin_url);
    let dir = tempfile::tempdir().expect("dir");
    let (token, key) = {
        let (url, dir) = (url.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || shop(&url, &dir))
            .await
            .expect("join")
    };
    let a = Node::start(&url, &dir.path().join("a")).await;
    let b = Node::start(&url, &dir.path().join("b")).await;
    let client = reqwest::Client::new();

    // A contact added through A is found by trackUser on B at once.
    let id = add_contact(&client, &a, &token, "+48500100200")
        .await
        .expect("added on A");
    let suid = Suid::random();
    let answer: serde_json::Value = client
        .post(b.url("t/identify"))
        .header("origin", ORIGIN)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(
            serde_json::json!({"site": key, "suid": suid.to_string(), "value": "500100200"})
                .to_string(),
        )
        .send()
        .await
        .expect("trackUser on B")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["success"], true, "{answer}");

    // The link made on B is on the contact read through A.
    let store = Store::connect(&url, 2).expect("connect");
    let account = account_of(&store, "shop");
    let visitor = store
        .visitor(account, suid)
        .expect("visitor")
        .expect("exists");
    assert_eq!(visitor.link.expect("linked").contact, ContactId(id));

    // An admin session made on A works on B.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let admin_client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login_page = admin_client
        .get(a.url("login"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("text");
    let csrf = login_page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let signed_in = admin_client
        .post(a.url("login"))
        .form(&[
            ("username", "jan"),
            ("password", "long enough password"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .expect("sign in on A");
    assert_eq!(signed_in.status(), 303, "signed in on A");
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("ssrm_session="))
        .expect("session cookie")
        .split(';')
        .next()
        .expect("cookie pair")
        .to_owned();
    let on_b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(b.url("contacts"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("contacts on B");
    assert_eq!(on_b.status(), 200, "A's session is valid on B");
    let page = on_b.text().await.expect("page");
    assert!(page.contains("500100200") || page.contains("500 100 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_gives_storage_errors_and_the_server_recovers() {
    let Some(admin_url) = admin_url() else { return };
    let (name, url) = fresh_database(&admin_url);
    let dir = tempfile::tempdir().expect("dir");
    let (token, _) = {
        let (url, dir) = (url.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || shop(&url, &dir))
            .await
            .expect("join")
    };
    let mut node = Node::start(&url, dir.path()).await;
    let client = reqwest::Client::new();
    add_contact(&client, &node, &token, "+48500000001")
        .await
        .expect("a write while the database is up");

    // The database goes away: every connection is cut and new ones are refused, as while a
    // server restarts.
    admin(
        &admin_url,
        &format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ),
    );
    let answer = client
        .post(node.url("contacts/add.json"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"phone": "+48500000002"}))
        .send()
        .await
        .expect("the server answers while the database is away");
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.expect("the API's own JSON error");
    assert_ne!(
        body["success"], true,
        "no write can be acknowledged: {status} {body}"
    );
    assert!(node.running(), "the server exited");

    // Back: from 5 s after, every write succeeds.
    admin(
        &admin_url,
        &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"),
    );
    let back = Instant::now();
    let mut n = 10;
    loop {
        n += 1;
        if add_contact(&client, &node, &token, &format!("+485000000{n:02}"))
            .await
            .is_some()
        {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "writes still fail 5 s after"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for m in 0..20 {
        assert!(
            add_contact(&client, &node, &token, &format!("+485000001{m:02}"))
                .await
                .is_some(),
            "a write failed after the database came back"
        );
    }
    assert!(node.running());
}

/// A PostgreSQL cluster of this test's own (`scripts/postgres.sh`), so it can be restarted
/// without disturbing the other tests' databases; removed on drop.
struct OwnCluster {
    dir: tempfile::TempDir,
    url: String,
}

impl OwnCluster {
    fn script(&self, action: &str) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
        let output = Command::new("bash")
            .arg(script)
            .arg(action)
            .arg(self.dir.path().join("cluster"))
            .output()
            .expect("scripts/postgres.sh runs");
        assert!(
            output.status.success(),
            "postgres.sh {action}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn start() -> OwnCluster {
        let dir = tempfile::Builder::new()
            .prefix("ssrm-restart")
            .tempdir_in("/tmp")
            .expect("dir");
        // The server may run as `nobody` (when the tests run as root): it must reach its directory.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("permissions");
        let mut cluster = OwnCluster {
            dir,
            url: String::new(),
        };
        cluster.url = String::from_utf8(cluster.script("start").stdout)
            .expect("URL")
            .trim()
            .to_owned();
        cluster
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = self.script("stop");
    }
}

#[tokio::test]
async fn a_real_postgresql_restart_gives_storage_errors_and_the_server_recovers() {
    // Only where the suite has a cluster, i.e. PostgreSQL's binaries are installed.
    if admin_url().is_none() {
        return;
    }
    let cluster = tokio::task::spawn_blocking(OwnCluster::start)
        .await
        .expect("cluster");
    let (_, url) = fresh_database(&cluster.url);
    let dir = tempfile::tempdir().expect("dir");
    let (token, _) = {
        let (url, dir) = (url.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || shop(&url, &dir))
            .await
            .expect("join")
    };
    let mut node = Node::start(&url, dir.path()).await;
    let client = reqwest::Client::new();
    add_contact(&client, &node, &token, "+48510000001")
        .await
        .expect("a write while the database is up");

    // Writes go on while the server restarts: each either succeeds or gets the API's own error.
    let writer = {
        let (client, base, token) = (client.clone(), node.base.clone(), token.clone());
        tokio::spawn(async move {
            let (mut acknowledged, mut refused) = (Vec::new(), 0);
            for n in 0..400 {
                let phone = format!("+48520{n:06}");
                let answer = client
                    .post(format!("{base}/contacts/add.json"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({ "phone": phone }))
                    .send()
                    .await
                    .expect("the server answers");
                let body: serde_json::Value = answer.json().await.expect("the API's JSON");
                if body["success"] == true {
                    acknowledged.push(phone);
                } else {
                    assert!(body["error"]["code"].is_number(), "{body}");
                    refused += 1;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (acknowledged, refused)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let restart = tokio::task::spawn_blocking(move || {
        cluster.script("restart");
        cluster
    });
    let cluster = restart.await.expect("restart");
    let back = Instant::now();
    let (acknowledged, refused) = writer.await.expect("writer");
    assert!(node.running(), "the server exited");
    eprintln!(
        "{} writes acknowledged, {refused} refused across the restart",
        acknowledged.len()
    );

    // From 5 s after the database is back, every write succeeds.
    let settle = Duration::from_secs(5).saturating_sub(back.elapsed());
    tokio::time::sleep(settle).await;
    for m in 0..20 {
        assert!(
            add_contact(&client, &node, &token, &format!("+48530000{m:03}"))
                .await
                .is_some(),
            "a write failed 5 s after the database came back"
        );
    }
    // Every acknowledged write is there.
    for phone in &acknowledged {
        let found: serde_json::Value = client
            .post(node.url("contacts/index.json"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "search": phone.trim_start_matches("+48") }))
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("JSON");
        let items = found["items"].as_array().map_or(0, Vec::len);
        assert_eq!(items, 1, "{phone}: {found}");
    }
    assert!(node.running());
    drop(cluster);
}

#[test]
fn migrate_store_copies_a_sled_installation_with_its_ids() {
    let Some(admin_url) = admin_url() else { return };
    let (_, url) = fresh_database(&admin_url);
    let dir = tempfile::tempdir().expect("dir");
    let (account, contacts, suid, campaign): (AccountId, Vec<ContactId>, Suid, CampaignId) = {
        let store = Store::open(dir.path()).expect("sled");
        let account = domain::create_account(&store, "shop", Some("PL")).expect("account");
        domain::add_user(&store, account.id, "jan", "long enough password").expect("user");
        let group = domain::add_group(&store, account.id, "vip").expect("group");
        let mut contacts = Vec::new();
        for n in 0..250u64 {
            contacts
                .push(new_contact(&store, account.id, &format!("+48501{n:06}"), &[group.id]).id);
        }
        let suid = Suid::random();
        store
            .link_visitor(account.id, contacts[3], suid, LinkCause::TrackUser)
            .expect("link");
        let campaign = domain::add_campaign(&store, account.id, "calls").expect("campaign");
        store
            .insert_campaign_records(account.id, &campaign.id, &[record(7, contacts[9])])
            .expect("record");
        store.flush().expect("flush");
        (account.id, contacts, suid, campaign.id)
    };
    let output = run_sled(dir.path(), &["migrate-store", "--to", &url]);
    let report = ok(&output);
    assert!(report.contains("data: "), "{report}");
    assert!(report.contains("verified"), "{report}");

    let store = Store::connect(&url, 4).expect("connect");
    let listed: Vec<ContactId> = store
        .contacts(account)
        .map(|contact| contact.expect("contact").id)
        .collect();
    assert_eq!(listed, contacts, "every contact, with its id");
    assert_eq!(
        store
            .visitor(account, suid)
            .expect("visitor")
            .expect("exists")
            .link
            .expect("linked")
            .contact,
        contacts[3]
    );
    assert!(store
        .campaign_record(account, &campaign, contacts[9])
        .expect("record")
        .is_some());
    assert!(store.user_by_name("jan").expect("user").is_some());
    // New ids continue above the copied ones.
    let fresh = store.next_id().expect("id");
    assert!(contacts.iter().all(|id| id.0 < fresh));

    // A second copy into the now non-empty database is refused.
    let again = run_sled(dir.path(), &["migrate-store", "--to", &url]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

fn run_sled(dir: &Path, args: &[&str]) -> Output {
    Command::new(BINARY)
        .env_remove("SSRM_DATABASE_URL")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("binary runs")
}

#[test]
fn a_database_migrated_by_a_newer_binary_is_refused() {
    let Some(admin_url) = admin_url() else { return };
    let (_, url) = fresh_database(&admin_url);
    drop(Store::connect(&url, 2).expect("migrates an empty database"));
    // Connecting again to a database at this binary's version is fine.
    drop(Store::connect(&url, 2).expect("connects to a migrated database"));
    admin(
        &url,
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
         VALUES (9999, 'from_the_future', '2099-01-01T00:00:00Z', '0')",
    );
    let refused = Store::connect(&url, 2).err().expect("refused");
    assert!(
        refused.to_string().contains("newer than this binary knows"),
        "{refused}"
    );
    let dir = tempfile::tempdir().expect("dir");
    let output = run(&url, dir.path(), &["account", "list"], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("newer than this binary knows"), "{stderr}");
}
