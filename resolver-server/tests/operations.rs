//! Running ssrm for real, through the binary: administration commands while `serve` runs (the
//! control socket), racing API writes; health, readiness and metrics; online backup under write
//! load and restore; graceful SIGTERM; HTTPS with a certificate re-read on SIGHUP.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

mod common;
use common::{run as cli, run_in as cli_in, stdout as ok, BINARY};

struct Server {
    child: Child,
    base: String,
    metrics: String,
    data_dir: PathBuf,
}

impl Server {
    /// Starts `serve` on free ports (and a metrics port) and waits until `/healthz` answers.
    async fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let (port, metrics_port) = (free_port(), free_port());
        let child = Command::new(BINARY)
            .arg("--data-dir")
            .arg(data_dir)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--metrics-listen",
                &format!("127.0.0.1:{metrics_port}"),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("server starts");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            metrics: format!("http://127.0.0.1:{metrics_port}"),
            data_dir: data_dir.to_owned(),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let socket = data_dir.join("control.sock").exists();
            if let Ok(response) = client.get(server.url("healthz")).send().await {
                if response.status() == 200 && socket {
                    return server;
                }
            }
            assert!(Instant::now() < deadline, "server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// SIGTERM, then the exit status.
    async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs")
            .success());
        tokio::task::spawn_blocking(move || self.child.wait().expect("reaped"))
            .await
            .expect("join")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates account `shop` with user `jan` and returns a token, all through the CLI.
async fn shop_token(data_dir: &Path) -> String {
    let dir = data_dir.to_owned();
    tokio::task::spawn_blocking(move || {
        ok(&cli(&dir, &["account", "add", "shop"], None));
        ok(&cli(
            &dir,
            &["user", "add", "shop", "jan", "--password-stdin"],
            Some("long enough password\n"),
        ));
        ok(&cli(
            &dir,
            &["token", "create", "shop", "--user", "jan"],
            None,
        ))
        .trim_end()
        .to_owned()
    })
    .await
    .expect("join")
}

/// `contacts/add` with a phone; the new id if the server acknowledged it.
async fn add_contact(client: &reqwest::Client, base: &str, token: &str, n: u64) -> Option<u64> {
    let answer: serde_json::Value = client
        .post(format!("{base}/contacts/add.json"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "phone": format!("+48 5{:08}", n),
            "first_name": format!("c{n}"),
        }))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    (answer["success"] == true).then(|| answer["id"].as_u64())?
}

async fn contact_exists(client: &reqwest::Client, base: &str, token: &str, id: u64) -> bool {
    let answer: serde_json::Value = client
        .post(format!("{base}/contacts/view.json"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "id": id }))
        .send()
        .await
        .expect("view")
        .json()
        .await
        .expect("JSON");
    answer["id"].as_u64() == Some(id)
}

/// Concurrent clients adding contacts until stopped, and every id the server acknowledged
/// with the instant its answer arrived.
struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<(Instant, u64)>>>,
    writers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(base: &str, token: &str, tasks: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let writers = (0..tasks)
            .map(|task| {
                let (base, token) = (base.to_owned(), token.to_owned());
                let (stop, acknowledged) = (Arc::clone(&stop), Arc::clone(&acknowledged));
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    let mut n = task * 1_000_000;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        if let Some(id) = add_contact(&client, &base, &token, n).await {
                            acknowledged
                                .lock()
                                .expect("lock")
                                .push((Instant::now(), id));
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            acknowledged,
            writers,
        }
    }

    fn acknowledged(&self) -> Vec<(Instant, u64)> {
        self.acknowledged.lock().expect("lock").clone()
    }

    /// Polls until at least `count` writes were acknowledged (30 s at most).
    async fn wait_for(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.acknowledged().len() < count {
            assert!(
                Instant::now() < deadline,
                "fewer than {count} writes acknowledged"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the writers and returns every acknowledged id.
    async fn finish(mut self) -> Vec<(Instant, u64)> {
        self.stop.store(true, Ordering::SeqCst);
        for writer in std::mem::take(&mut self.writers) {
            writer.await.expect("writer");
        }
        self.acknowledged()
    }
}

/// A temporary directory, a server on `DIR/data` and a token of its account `shop`.
async fn started(extra: &[&str]) -> (tempfile::TempDir, PathBuf, Server, String) {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let server = Server::start(&data, extra).await;
    // The server holds sled's lock: a command that succeeds now went through the server.
    let token = shop_token(&data).await;
    (dir, data, server, token)
}

async fn assert_all_exist(server: &Server, token: &str, ids: &[u64], what: &str) {
    let client = reqwest::Client::new();
    for id in ids {
        assert!(
            contact_exists(&client, &server.base, token, *id).await,
            "{what}: contact {id} missing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_administration_command_works_while_the_server_runs() {
    let (_dir, data, server, token) = started(&[]).await;
    let client = reqwest::Client::new();
    let contact = add_contact(&client, &server.base, &token, 1)
        .await
        .expect("the token made by the CLI works at once");
    // A page view for a visitor linked to that contact, for `contact history`.
    let data2 = data.clone();
    let outputs = tokio::task::spawn_blocking(move || {
        let data = data2.as_path();
        let mut seen = Vec::new();
        seen.push(ok(&cli(data, &["account", "list"], None)));
        seen.push(ok(&cli(data, &["user", "list", "shop"], None)));
        let listed = ok(&cli(data, &["token", "list", "shop"], None));
        let prefix = listed[..8].to_owned();
        ok(&cli(data, &["token", "revoke", "shop", &prefix], None));
        seen.push(ok(&cli(data, &["token", "list", "shop"], None)));
        seen.push(ok(&cli(
            data,
            &["domain", "add", "shop", "sklep.example.com"],
            None,
        )));
        seen.push(ok(&cli(data, &["domain", "list", "shop"], None)));
        seen.push(ok(&cli(
            data,
            &["domain", "require-hash", "shop", "sklep.example.com"],
            None,
        )));
        seen.push(ok(&cli(
            data,
            &["campaign", "add", "shop", "Oddzwonienia"],
            None,
        )));
        seen.push(ok(&cli(data, &["campaign", "list", "shop"], None)));
        seen.push(ok(&cli(
            data,
            &[
                "campaign", "status", "add", "shop", "00001", "Jutro", "--system", "CALL",
            ],
            None,
        )));
        seen.push(ok(&cli(
            data,
            &["campaign", "status", "list", "shop", "00001"],
            None,
        )));
        seen.push(ok(&cli(
            data,
            &["contact", "history", "shop", &contact.to_string()],
            None,
        )));
        let failed = cli(data, &["token", "create", "nobody"], None);
        let short = cli(
            data,
            &["user", "add", "shop", "ewa", "--password-stdin"],
            Some("short"),
        );
        (seen, failed, short, prefix)
    })
    .await
    .expect("join");
    let (seen, failed, short, prefix) = outputs;
    assert!(seen[0].contains("\tshop\tPL\n"), "{}", seen[0]);
    assert!(seen[1].starts_with("jan\t"), "{}", seen[1]);
    assert!(
        seen[2].starts_with(&prefix) && !seen[2].trim_end().ends_with("\t-"),
        "revoked: {}",
        seen[2]
    );
    let key = seen[3].trim_end();
    assert_eq!(key.len(), 24, "{key:?}");
    assert_eq!(
        seen[4],
        format!("sklep.example.com\t{key}\thash-optional\n")
    );
    assert_eq!(seen[5].trim_end().len(), 64);
    assert_eq!(seen[6], "00001\n");
    assert_eq!(seen[7], "00001\tOddzwonienia\t8\n");
    assert_eq!(seen[8], "9\n");
    assert!(seen[9].ends_with("9\tCALL\tJutro\n"), "{}", seen[9]);
    assert_eq!(seen[10], "", "no visitor linked yet: empty history");
    // Errors: exit code 1 and one line on standard error, as without a server.
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: no account named"), "{stderr}");
    assert_eq!(short.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));

    // The revoked token is refused by the running server at once.
    let answer: serde_json::Value = client
        .post(server.url("contacts/index.json"))
        .bearer_auth(&token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["success"], serde_json::Value::Null, "{answer}");
    assert!(answer["error"]["code"].is_i64(), "{answer}");

    // The socket is the owner's only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("control.sock"))
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    assert!(server.terminate().await.success());
    assert!(
        !data.join("control.sock").exists(),
        "socket removed at exit"
    );
    // Without a server the same commands open the store themselves.
    let listed = tokio::task::spawn_blocking(move || ok(&cli(&data, &["account", "list"], None)))
        .await
        .expect("join");
    assert!(listed.contains("\tshop\t"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rule_and_gateway_commands_work_while_the_server_runs() {
    let (_dir, data, _server, _token) = started(&[]).await;
    let outputs = tokio::task::spawn_blocking(move || {
        let data = data.as_path();
        let rule = r#"{"name": "Cennik", "when": {"pageview": {"url_contains": "/pricing"}},
            "then": [{"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef"}}]}"#;
        let added = cli(data, &["rule", "add", "shop"], Some(rule));
        let listed = ok(&cli(data, &["rule", "list", "shop"], None));
        let gateway = cli(
            data,
            &[
                "gateway", "set", "shop", "--url", "http://10.0.0.1/", "--username", "api",
                "--password-stdin",
            ],
            Some("gateway-password\n"),
        );
        let shown = ok(&cli(data, &["gateway", "show", "shop"], None));
        let refused = cli(data, &["rule", "add", "shop"], Some(r#"{"name": "x"}"#));
        (added, listed, gateway, shown, refused)
    })
    .await
    .expect("join");
    let (added, listed, gateway, shown, refused) = outputs;
    // Only the id on standard output; the private-target warning on standard error, relayed
    // from the server through the socket.
    let id = ok(&added);
    assert!(id.trim_end().parse::<u64>().is_ok(), "{id:?}");
    let warned = String::from_utf8_lossy(&added.stderr);
    assert!(
        warned.starts_with("warning:") && warned.contains("private"),
        "{warned}"
    );
    let line: serde_json::Value = serde_json::from_str(listed.trim_end()).expect("one JSON line");
    assert_eq!(line["id"].to_string(), id.trim_end());
    assert_eq!(line["name"], "Cennik");
    ok(&gateway);
    assert!(String::from_utf8_lossy(&gateway.stderr).contains("warning:"));
    assert!(shown.starts_with("http://10.0.0.1/\t"), "{shown}");
    assert!(
        !shown.contains("gateway-password"),
        "the secret is never printed"
    );
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(message.lines().count(), 1, "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_socket_does_not_stop_commands_or_the_server() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    ok(&cli(&data, &["account", "add", "shop"], None));
    // A socket file nobody listens on, as `kill -9` leaves behind.
    drop(std::os::unix::net::UnixListener::bind(data.join("control.sock")).expect("bind"));
    assert!(data.join("control.sock").exists());
    assert!(ok(&cli(&data, &["account", "list"], None)).contains("\tshop\t"));
    let server = Server::start(&data, &[]).await;
    let data2 = data.clone();
    let listed = tokio::task::spawn_blocking(move || ok(&cli(&data2, &["account", "list"], None)))
        .await
        .expect("join");
    assert!(listed.contains("\tshop\t"));
    assert!(server.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_race_api_writes() {
    let (_dir, data, server, token) = started(&[]).await;
    let load = Load::start(&server.base, &token, 4);
    load.wait_for(5).await;
    let data2 = data.clone();
    let commands_began = Instant::now();
    let made = tokio::task::spawn_blocking(move || {
        let mut made = Vec::new();
        for n in 0..10 {
            let domain = format!("d{n}.example.com");
            ok(&cli(&data2, &["domain", "add", "shop", &domain], None));
            made.push(
                ok(&cli(&data2, &["token", "create", "shop"], None))
                    .trim_end()
                    .to_owned(),
            );
            ok(&cli(
                &data2,
                &["account", "add", &format!("other{n}")],
                None,
            ));
        }
        made
    })
    .await
    .expect("join");
    let commands_ended = Instant::now();
    let acknowledged = load.finish().await;
    let client = reqwest::Client::new();
    for token in &made {
        let answer: serde_json::Value = client
            .post(server.url("contacts/index.json"))
            .bearer_auth(token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        assert!(answer["paging"].is_object(), "{answer}");
    }
    let domains = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || ok(&cli(&data, &["domain", "list", "shop"], None)))
            .await
            .expect("join")
    };
    assert_eq!(domains.lines().count(), 10, "{domains}");
    assert!(
        acknowledged
            .iter()
            .any(|(at, _)| (commands_began..commands_ended).contains(at)),
        "the API was written while the commands ran"
    );
    let ids: Vec<u64> = acknowledged.iter().map(|(_, id)| *id).collect();
    assert_all_exist(&server, &token, &ids, "acknowledged during the commands").await;
    assert!(server.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_readiness_and_metrics() {
    let (_dir, _data, server, token) = started(&[]).await;
    let client = reqwest::Client::new();
    let ready = client
        .get(server.url("readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    for n in 0..3 {
        add_contact(&client, &server.base, &token, n)
            .await
            .expect("added");
    }
    for id in [11, 12] {
        let _ = client
            .post(server.url(&format!("contacts/view.json?id={id}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("view");
    }
    // An unknown site key: a refused trackUser.
    let refused = client
        .post(server.url("t/identify"))
        .header("origin", "https://unknown.example")
        .body(r#"{"site":"nope","suid":"6f1c2a34-0000-4000-8000-000000000000","value":"a@b.pl"}"#)
        .send()
        .await
        .expect("identify");
    assert_eq!(refused.status(), 200);

    let main_port_metrics = client.get(server.url("metrics")).send().await.expect("get");
    assert_eq!(main_port_metrics.status(), 404, "never on the public port");
    let metrics = client
        .get(format!("{}/metrics", server.metrics))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for expected in [
        r#"ssrm_http_requests_total{method="POST",route="/{resource}/{action}",status="200"} "#,
        r#"ssrm_http_requests_total{method="GET",route="/readyz",status="200"} 1"#,
        r#"ssrm_track_user_total{outcome="refused"} 1"#,
        "ssrm_http_request_duration_seconds_bucket{",
        "ssrm_store_flush_duration_seconds_count ",
        "ssrm_store_size_bytes ",
    ] {
        assert!(metrics.contains(expected), "{expected} in:\n{metrics}");
    }
    assert!(
        !metrics.contains("contacts/view"),
        "routes are patterns, not raw paths"
    );
    assert!(server.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_under_write_load_restores_every_contact_acknowledged_before_it() {
    let (dir, data, server, token) = started(&[]).await;
    let load = Load::start(&server.base, &token, 4);
    // Let some writes land first.
    load.wait_for(50).await;
    // Relative path: resolved against the directory the command runs in, not the server's.
    let began = Instant::now();
    let (data2, cwd) = (data.clone(), dir.path().to_owned());
    let summary = tokio::task::spawn_blocking(move || {
        ok(&cli_in(&data2, Some(&cwd), &["backup", "backup"], None))
    })
    .await
    .expect("join");
    assert!(summary.starts_with("backup of "), "{summary}");
    let before: Vec<u64> = load
        .acknowledged()
        .iter()
        .filter(|(at, _)| *at < began)
        .map(|(_, id)| *id)
        .collect();
    assert!(before.len() >= 50);
    // Writes went on during and after the backup.
    load.wait_for(before.len() + 20).await;
    load.finish().await;
    // A second backup into the same, now non-empty, directory is refused.
    let (data2, cwd) = (data.clone(), dir.path().to_owned());
    let again = tokio::task::spawn_blocking(move || {
        cli_in(&data2, Some(&cwd), &["backup", "backup"], None)
    })
    .await
    .expect("join");
    assert_eq!(again.status.code(), Some(1));
    assert!(server.terminate().await.success());

    let restored = dir.path().join("restored");
    let (backup, target) = (dir.path().join("backup"), restored.clone());
    let restore = tokio::task::spawn_blocking(move || {
        ok(&cli(
            &target,
            &["restore", backup.to_str().expect("UTF-8 path")],
            None,
        ))
    })
    .await
    .expect("join");
    assert_eq!(restore, "");
    let server = Server::start(&restored, &[]).await;
    assert_all_exist(&server, &token, &before, "acknowledged before the backup").await;
    // A restore into a non-empty directory is refused.
    let (backup, target) = (dir.path().join("backup"), server.data_dir.clone());
    let refused = tokio::task::spawn_blocking(move || {
        cli(
            &target,
            &["restore", backup.to_str().expect("UTF-8 path")],
            None,
        )
    })
    .await
    .expect("join");
    assert_eq!(refused.status.code(), Some(1));
    assert!(server.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_burst_keeps_every_acknowledged_contact() {
    let (_dir, data, server, token) = started(&["--shutdown-timeout", "5"]).await;
    let load = Load::start(&server.base, &token, 8);
    load.wait_for(30).await;
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status:?}");
    let acknowledged: Vec<u64> = load.finish().await.iter().map(|(_, id)| *id).collect();
    let server = Server::start(&data, &[]).await;
    assert_all_exist(
        &server,
        &token,
        &acknowledged,
        "acknowledged before SIGTERM",
    )
    .await;
    assert!(server.terminate().await.success());
}

/// A self-signed certificate for 127.0.0.1 and localhost: (certificate PEM, key PEM).
fn self_signed() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("certificate");
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

fn trusting(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("PEM"))
        .pool_idle_timeout(Duration::from_secs(300))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn https_with_a_plain_address_and_a_certificate_reread_on_sighup() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (first_cert, first_key) = self_signed();
    std::fs::write(&cert_file, &first_cert).expect("cert");
    std::fs::write(&key_file, &first_key).expect("key");
    let (tls_port, plain_port) = (free_port(), free_port());
    let mut child = Command::new(BINARY)
        .arg("--data-dir")
        .arg(&data)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{tls_port}"),
            "--listen",
            &format!("http://127.0.0.1:{plain_port}"),
        ])
        .arg("--tls-cert")
        .arg(&cert_file)
        .arg("--tls-key")
        .arg(&key_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let https = format!("https://127.0.0.1:{tls_port}");
    let first = trusting(&first_cert);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = first.get(format!("{https}/healthz")).send().await {
            assert_eq!(response.status(), 200);
            break;
        }
        assert!(Instant::now() < deadline, "HTTPS did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{plain_port}/healthz"))
        .send()
        .await
        .expect("plain HTTP on the http:// address");
    assert_eq!(plain.status(), 200);
    assert!(
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{tls_port}/healthz"))
            .send()
            .await
            .map_or(true, |response| response.status() != 200),
        "no plain HTTP on the TLS address"
    );

    // Renew: new files, SIGHUP. New connections get the new certificate.
    let (second_cert, second_key) = self_signed();
    std::fs::write(&cert_file, &second_cert).expect("cert");
    std::fs::write(&key_file, &second_key).expect("key");
    assert!(Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill")
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let second = trusting(&second_cert);
        if second.get(format!("{https}/healthz")).send().await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection opened before the renewal is still up: a new one would present the new
    // certificate, which `first` does not trust.
    let response = first
        .get(format!("{https}/readyz"))
        .send()
        .await
        .expect("the old connection still serves");
    assert_eq!(response.status(), 200);

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().expect("exit").success());
}

#[test]
fn backup_and_restore_have_help_and_refuse_bad_directories() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    for command in [["backup", "--help"], ["restore", "--help"]] {
        assert!(ok(&cli(&data, &command, None)).contains("Usage:"));
    }
    ok(&cli(&data, &["account", "add", "shop"], None));
    // No server: the command opens the store itself. Not inside the data directory, not into a
    // non-empty directory, and `restore` wants a real backup.
    let inside = data.join("copy");
    let refused = cli(&data, &["backup", inside.to_str().expect("UTF-8")], None);
    assert_eq!(refused.status.code(), Some(1));
    let occupied = dir.path().join("occupied");
    std::fs::create_dir(&occupied).expect("dir");
    std::fs::write(occupied.join("note.txt"), "keep me").expect("file");
    let refused = cli(&data, &["backup", occupied.to_str().expect("UTF-8")], None);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(occupied.join("note.txt")).expect("kept"),
        "keep me"
    );
    let backup = dir.path().join("backup");
    assert!(ok(&cli(
        &data,
        &["backup", backup.to_str().expect("UTF-8")],
        None
    ))
    .starts_with("backup of "));
    let not_a_backup = cli(
        &dir.path().join("new"),
        &["restore", occupied.to_str().expect("UTF-8")],
        None,
    );
    assert_eq!(not_a_backup.status.code(), Some(1));
    let restored = dir.path().join("new");
    ok(&cli(
        &restored,
        &["restore", backup.to_str().expect("UTF-8")],
        None,
    ));
    assert!(ok(&cli(&restored, &["account", "list"], None)).contains("\tshop\t"));
}

#[test]
fn serve_refuses_a_key_that_does_not_match_the_certificate() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, _) = self_signed();
    let (_, other_key) = self_signed();
    std::fs::write(dir.path().join("cert.pem"), cert).expect("cert");
    std::fs::write(dir.path().join("key.pem"), other_key).expect("key");
    let output = Command::new(BINARY)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(dir.path().join("cert.pem"))
        .arg("--tls-key")
        .arg(dir.path().join("key.pem"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("does not belong to the certificate"),
        "{stderr}"
    );
}
