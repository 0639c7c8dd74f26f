//! Acknowledged means durable under concurrent load: writers on three APIs (SerwerSMS
//! `contacts/add`, tracker page views, Thulium records) hammer the real binary, which is killed
//! with SIGKILL after a random number of acknowledgements. Every write that was acknowledged is
//! found after the restart, and no id handed out before the crash is handed out again. With
//! group commit one flush covers many writers, so this is what proves it still covers each.

use resolver_server::domain::{self, AccountId, CampaignId, ContactId, Suid};
use resolver_server::store::Store;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_resolver-server");

#[derive(Default)]
struct Acknowledged {
    contacts: Vec<u64>,
    page_views: Vec<(String, String)>,
    records: Vec<(u64, u64)>,
    /// trackUser calls answered `"success":true`.
    found: u64,
}

/// What every writer shares: the server, a client, and what has been acknowledged so far.
struct Load {
    server: Server,
    client: reqwest::Client,
    acknowledged: Mutex<Acknowledged>,
    count: AtomicUsize,
    /// Set just before the kill: from then on a failed request is expected, before it a bug.
    killed: AtomicBool,
}

impl Load {
    /// Notes an acknowledged write.
    fn acknowledge(&self, note: impl FnOnce(&mut Acknowledged)) {
        note(&mut self.acknowledged.lock().expect("lock"));
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    /// A request failed: the writer stops, which is right only once the server was killed.
    fn failed(&self, what: &str, error: &dyn std::fmt::Debug) {
        assert!(
            self.killed.load(Ordering::SeqCst),
            "{what} failed while the server was running: {error:?}"
        );
    }
}

/// Where the server listens and the demo credentials it printed.
struct Server {
    base: String,
    token: String,
    site_key: String,
}

fn start(dir: &std::path::Path) -> (Child, Server) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new(BINARY)
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .env("SSRM_ACCESS_LOG", "off")
        // Page views come from one address far faster than a person browses: lift the ingest
        // quota (120 a minute per address and site) so none is refused with 429.
        .env("SSRM_INGEST_PER_MINUTE", "100000000")
        // trackUser calls come from a fresh address each (X-Forwarded-For), under its limit.
        .env("SSRM_BEHIND_PROXY", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    // The banner is printed once the listener is bound; it names the token and the site key.
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut token, mut site_key) = (None, None);
    for line in lines.by_ref() {
        let line = line.expect("banner");
        let value = |label: &str| {
            line.trim()
                .strip_prefix(label)
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
        };
        token = token.or_else(|| value("token:"));
        site_key = site_key.or_else(|| value("site key:"));
        if line.contains("try:") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    // The banner comes before the listener is bound: wait until it accepts.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server does not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    let server = Server {
        base: format!("http://127.0.0.1:{port}"),
        token: token.expect("token in the banner"),
        site_key: site_key.expect("site key in the banner"),
    };
    (child, server)
}

async fn add_contact(
    client: &reqwest::Client,
    server: &Server,
    phone: String,
) -> Result<u64, reqwest::Error> {
    let answer: Value = client
        .post(format!("{}/contacts/add.json", server.base))
        .bearer_auth(&server.token)
        .json(&json!({ "phone": phone, "first_name": "Trwały" }))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(answer["success"], true, "{answer}");
    Ok(answer["id"].as_u64().expect("contact id"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_under_concurrent_load_survive_kill_9() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, server) = start(dir.path());
    let load = Arc::new(Load {
        server,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        acknowledged: Mutex::default(),
        count: AtomicUsize::new(0),
        killed: AtomicBool::new(false),
    });
    let mut writers = Vec::new();

    for writer in 0..3u32 {
        // SerwerSMS contacts/add.
        let load = Arc::clone(&load);
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let phone = format!("50{writer}{n:06}");
                let id = match add_contact(&load.client, &load.server, phone).await {
                    Ok(id) => id,
                    Err(error) => return load.failed("contacts/add", &error),
                };
                load.acknowledge(|acked| acked.contacts.push(id));
            }
        }));
    }
    for writer in 0..3u32 {
        // Tracker page views, each visitor with its own suid.
        let load = Arc::clone(&load);
        writers.push(tokio::spawn(async move {
            let suid = uuid::Uuid::new_v4().to_string();
            for n in 0.. {
                let url = format!("http://127.0.0.1/writer/{writer}/page/{n}");
                let body = json!({ "site": load.server.site_key, "suid": suid, "url": url,
                    "title": "Strona", "referrer": "" });
                let response = match load
                    .client
                    .post(format!("{}/t/pageview", load.server.base))
                    .header("Origin", "http://127.0.0.1")
                    .header("Content-Type", "text/plain")
                    .body(body.to_string())
                    .send()
                    .await
                {
                    Ok(response) => response,
                    Err(error) => return load.failed("a page view", &error),
                };
                // The status line arrives only once the answer is complete (204, no body).
                assert_eq!(response.status(), 204);
                load.acknowledge(|acked| acked.page_views.push((suid.clone(), url)));
            }
        }));
    }
    for writer in 0..2u32 {
        // trackUser that finds a contact: links a fresh visitor, answered after a flush.
        let load = Arc::clone(&load);
        writers.push(tokio::spawn(async move {
            let email = format!("trwaly{writer}@example.com");
            let added = load
                .client
                .post(format!("{}/contacts/add.json", load.server.base))
                .bearer_auth(&load.server.token)
                .json(&json!({ "phone": format!("70{writer}000000"), "email": email }))
                .send()
                .await;
            if let Err(error) = added {
                return load.failed("contacts/add", &error);
            }
            for n in 0u32.. {
                let body = json!({ "site": load.server.site_key,
                    "suid": uuid::Uuid::new_v4().to_string(), "value": email });
                let answer = match load
                    .client
                    .post(format!("{}/t/identify", load.server.base))
                    .header("Origin", "http://127.0.0.1")
                    .header("Content-Type", "text/plain")
                    .header(
                        "X-Forwarded-For",
                        format!("10.{writer}.{}.{}", n / 256, n % 256),
                    )
                    .body(body.to_string())
                    .send()
                    .await
                {
                    Ok(response) => response.json::<Value>().await,
                    Err(error) => Err(error),
                };
                match answer {
                    Ok(answer) => {
                        assert_eq!(answer["success"], true, "{answer}");
                        load.acknowledge(|acked| acked.found += 1);
                    }
                    Err(error) => return load.failed("trackUser", &error),
                }
            }
        }));
    }
    for writer in 0..2u32 {
        // Thulium: a new customer, then its record in the demo's campaign 00001.
        let load = Arc::clone(&load);
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let phone = format!("60{writer}{n:06}");
                let customer = match add_contact(&load.client, &load.server, phone).await {
                    Ok(customer) => customer,
                    Err(error) => return load.failed("contacts/add", &error),
                };
                load.acknowledge(|acked| acked.contacts.push(customer));
                let sent = load
                    .client
                    .post(format!(
                        "{}/api/batch/crm_outbounds/00001/records",
                        load.server.base
                    ))
                    .basic_auth("demo", Some(&load.server.token))
                    .json(&json!({ "records": [{ "customer_id": customer, "status_id": 3 }] }))
                    .send()
                    .await;
                let answer = match sent {
                    Ok(response) => response.json::<Value>().await,
                    Err(error) => Err(error),
                };
                let answer = match answer {
                    Ok(answer) => answer,
                    Err(error) => return load.failed("a Thulium batch", &error),
                };
                let entry = &answer[customer.to_string()];
                assert_eq!(entry["status"], "ADDED", "{answer}");
                let record = entry["record_id"].as_u64().expect("record id");
                load.acknowledge(|acked| acked.records.push((customer, record)));
            }
        }));
    }

    // Kill at a random moment: after a random number of acknowledgements, mid-stream.
    let kill_after = 150 + rand::random::<usize>() % 350;
    let deadline = Instant::now() + Duration::from_secs(120);
    while load.count.load(Ordering::SeqCst) < kill_after {
        if writers.iter().any(|writer| writer.is_finished()) {
            break; // a writer failed while the server runs: its panic is reported below
        }
        assert!(Instant::now() < deadline, "writers stalled");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    load.killed.store(true, Ordering::SeqCst);
    child.kill().expect("SIGKILL"); // no shutdown, no final flush
    child.wait().expect("reaped");
    for writer in writers {
        writer.await.expect("writer ends when the server is gone");
    }

    let acknowledged = Arc::try_unwrap(load)
        .ok()
        .expect("writers are done")
        .acknowledged
        .into_inner()
        .expect("lock");
    assert!(acknowledged.contacts.len() > 10 && acknowledged.page_views.len() > 10);
    let store = Store::open(dir.path()).expect("reopen after kill -9");
    let account: AccountId = store
        .account_by_name("demo")
        .expect("store")
        .expect("demo account")
        .id;
    for id in &acknowledged.contacts {
        assert!(
            store
                .contact(account, ContactId(*id))
                .expect("read")
                .is_some(),
            "acknowledged contact {id} lost"
        );
    }
    for (suid, url) in &acknowledged.page_views {
        let views = store
            .page_views(account, Suid::parse(suid).expect("suid"))
            .expect("read");
        assert!(
            views.iter().any(|view| &view.url == url),
            "acknowledged page view {url} lost"
        );
    }
    // The tallies of acknowledged writes were made durable with them (trackUser's are
    // gathered in memory and written before the flush that acknowledges the call,
    // `store/tallies.rs`): the aggregates count at least every acknowledged page view and
    // trackUser call that found its contact.
    domain::fold_traffic(&store, account).expect("fold");
    let days = store
        .traffic_days(account, 0, domain::Day::MAX)
        .expect("days");
    let counted: u64 = days.iter().map(|(_, _, stats)| stats.page_views).sum();
    assert!(
        counted >= acknowledged.page_views.len() as u64,
        "{counted} page views counted, {} acknowledged",
        acknowledged.page_views.len()
    );
    let found: u64 = days
        .iter()
        .map(|(_, _, stats)| stats.track_user.found)
        .sum();
    assert!(
        found >= acknowledged.found && acknowledged.found > 10,
        "{found} trackUser calls counted as found, {} acknowledged",
        acknowledged.found
    );
    let campaign = CampaignId::parse("00001").expect("campaign id");
    for (customer, record) in &acknowledged.records {
        let stored = store
            .campaign_record(account, &campaign, ContactId(*customer))
            .expect("read")
            .unwrap_or_else(|| panic!("acknowledged record of customer {customer} lost"));
        assert_eq!(stored.record_id, *record);
    }
    // Ids are never reused: the next id after the crash is past every acknowledged one.
    let highest = acknowledged
        .contacts
        .iter()
        .chain(acknowledged.records.iter().map(|(_, record)| record))
        .max()
        .copied()
        .expect("some ids");
    assert!(store.next_id().expect("id") > highest);
}
