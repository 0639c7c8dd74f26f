//! Behaviour rules through the real binary: the `rule` and `gateway` commands, and deliveries
//! that were pending when the server was killed with SIGKILL going out after a restart, every
//! delivery id at least once.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{run, stdout, BINARY};

fn group_rule(group: &str) -> String {
    format!(
        r#"{{"name":"Nowy kontakt","when":{{"contact_added":{{}}}},"then":[{{"add_to_group":{group}}}]}}"#
    )
}

#[test]
fn rule_commands_add_list_show_switch_and_delete() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path();
    stdout(&run(path, &["account", "add", "shop"], None));
    // A group to point at: created through the library while no server runs.
    let group = {
        let store = resolver_server::store::Store::open(path).expect("open");
        let account = store
            .account_by_name("shop")
            .expect("store")
            .expect("account");
        let group = resolver_server::domain::add_group(&store, account.id, "G").expect("group");
        store.flush().expect("flush");
        group.id.to_string()
    };
    let added = stdout(&run(
        path,
        &["rule", "add", "shop"],
        Some(&group_rule(&group)),
    ));
    let id = added.trim();
    assert!(id.parse::<u64>().is_ok(), "only the id: {added:?}");

    let bad = r#"{"name":"x","when":{"contact_added":{}},"then":[{"add_to_group":1},{"add_to_group":1},{"webhook":{"url":"ftp://x","secret":"0123456789abcdef"}}]}"#;
    let refused = run(path, &["rule", "add", "shop"], Some(bad));
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("then[0].add_to_group"), "{message}");
    let unknown = run(
        path,
        &["rule", "add", "shop"],
        Some(r#"{"name":"x","when":{},"then":[],"colour":1}"#),
    );
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("colour"));

    let list = stdout(&run(path, &["rule", "list", "shop"], None));
    let line: serde_json::Value = serde_json::from_str(list.trim()).expect("one JSON line");
    assert_eq!(line["id"].to_string(), id);
    assert_eq!(
        (line["enabled"].clone(), line["fired"].clone()),
        (true.into(), 0.into())
    );

    stdout(&run(path, &["rule", "disable", "shop", id], None));
    let list = stdout(&run(path, &["rule", "list", "shop"], None));
    assert!(list.contains("\"enabled\":false"), "{list}");
    stdout(&run(path, &["rule", "enable", "shop", id], None));
    let shown = stdout(&run(path, &["rule", "show", "shop", id], None));
    assert!(shown.contains("\"contact_added\""), "{shown}");
    stdout(&run(path, &["rule", "delete", "shop", id], None));
    assert!(stdout(&run(path, &["rule", "list", "shop"], None)).is_empty());
    assert!(!run(path, &["rule", "show", "shop", id], None)
        .status
        .success());
}

#[test]
fn gateway_set_and_show_never_print_the_secret() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path();
    stdout(&run(path, &["account", "add", "shop"], None));
    let set = run(
        path,
        &[
            "gateway",
            "set",
            "shop",
            "--url",
            "http://127.0.0.1:9/api",
            "--username",
            "sms-user",
            "--password-stdin",
            "--sender",
            "Sklep",
        ],
        Some("very-secret-password\n"),
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(
        String::from_utf8_lossy(&set.stderr).contains("private"),
        "a warning about the target"
    );
    let shown = stdout(&run(path, &["gateway", "show", "shop"], None));
    assert_eq!(shown, "http://127.0.0.1:9/api/\tusername sms-user\tSklep\n");
    stdout(&run(
        path,
        &[
            "gateway",
            "set",
            "shop",
            "--url",
            "https://api2.serwersms.pl/",
            "--token",
            "tok-secret",
        ],
        None,
    ));
    let shown = stdout(&run(path, &["gateway", "show", "shop"], None));
    assert!(
        !shown.contains("tok-secret") && shown.contains("token"),
        "{shown}"
    );
}

/// A webhook receiver on a raw socket: answers 500 until `accept` is set, then 200; records the
/// delivery ids it accepted.
struct Receiver {
    port: u16,
    accept: Arc<AtomicBool>,
    accepted: Arc<Mutex<BTreeSet<String>>>,
    refused: Arc<Mutex<usize>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let receiver = Receiver {
            port,
            accept: Arc::default(),
            accepted: Arc::default(),
            refused: Arc::default(),
        };
        let (accept, accepted, refused) = (
            receiver.accept.clone(),
            receiver.accepted.clone(),
            receiver.refused.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let delivery = read_request(&stream);
                let ok = accept.load(Ordering::SeqCst);
                let status = if ok {
                    "200 OK"
                } else {
                    "500 Internal Server Error"
                };
                let mut stream = stream;
                let _ = stream.write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                );
                if let Some(id) = delivery {
                    if ok {
                        accepted.lock().expect("lock").insert(id);
                    } else {
                        *refused.lock().expect("lock") += 1;
                    }
                }
            }
        });
        receiver
    }
}

/// Reads one request; returns its `X-Ssrm-Delivery`.
fn read_request(stream: &TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream);
    let mut delivery = None;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "x-ssrm-delivery" => delivery = Some(value.trim().to_owned()),
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    delivery
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn serve(dir: &Path, port: u16) -> Child {
    let mut child = Command::new(BINARY)
        .arg("--data-dir")
        .arg(dir)
        .args([
            "serve",
            "--demo",
            "--allow-private-targets",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) if line.contains("token:") => {
                std::thread::spawn(move || lines.for_each(drop));
                return child;
            }
            Some(Ok(_)) => continue,
            _ => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

fn add_contact(port: u16, phone: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = Command::new("curl")
            .args(["-s", "--max-time", "20", "-X", "POST", "-d"])
            .arg(format!(
                "username=demo&password=demo-password&phone={phone}"
            ))
            .arg(format!("http://127.0.0.1:{port}/contacts/add.json"))
            .output()
            .expect("curl runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if text.starts_with("{\"success\":true") {
            return;
        }
        assert!(Instant::now() < deadline, "contacts/add failed: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn deliveries_pending_at_kill_9_go_out_after_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let receiver = Receiver::start();
    // First start creates the demo account; SIGKILL is as good a stop as any.
    let port = free_port();
    let mut server = serve(dir.path(), port);
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    let rule = format!(
        r#"{{"name":"Webhook","when":{{"contact_added":{{}}}},"then":[{{"webhook":{{"url":"http://127.0.0.1:{}/hook","secret":"0123456789abcdef"}}}}]}}"#,
        receiver.port
    );
    stdout(&run(dir.path(), &["rule", "add", "demo"], Some(&rule)));

    let mut server = serve(dir.path(), port);
    let phones = [
        "500600701",
        "500600702",
        "500600703",
        "500600704",
        "500600705",
    ];
    for phone in phones {
        add_contact(port, phone);
    }
    // Every delivery has been tried (and refused) at least once before the kill.
    let deadline = Instant::now() + Duration::from_secs(30);
    while *receiver.refused.lock().expect("lock") < phones.len() {
        assert!(Instant::now() < deadline, "first attempts did not come");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");

    receiver.accept.store(true, Ordering::SeqCst);
    let restarted = Instant::now();
    let mut server = serve(dir.path(), port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.accepted.lock().expect("lock").len() < phones.len() {
        assert!(
            Instant::now() < deadline,
            "delivered after restart: {:?}",
            receiver.accepted.lock().expect("lock")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let waited = restarted.elapsed();
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    // The retry after the first failure is due 5 s after it; a restart attempts at once what is due.
    assert!(waited < Duration::from_secs(20), "took {waited:?}");
    let store = resolver_server::store::Store::open(dir.path()).expect("reopen");
    let account = store.account_by_name("demo").expect("store").expect("demo");
    let mut ids = BTreeSet::new();
    for contact in store.contacts(account.id) {
        let contact = contact.expect("contact");
        for delivery in store
            .contact_deliveries(account.id, contact.id)
            .expect("deliveries")
        {
            if matches!(
                delivery.action,
                resolver_server::domain::DeliveryAction::Webhook(_)
            ) {
                ids.insert(delivery.id.to_string());
            }
        }
    }
    assert_eq!(ids.len(), phones.len());
    assert_eq!(
        &ids,
        &*receiver.accepted.lock().expect("lock"),
        "no delivery id lost"
    );
}
