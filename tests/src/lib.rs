//! Test support: a real resolver-server on `127.0.0.1:0` over a fresh sled directory (or, with
//! `SSRM_TEST_STORE=postgres`, a fresh PostgreSQL database), and helpers to call it the way real
//! clients do.

pub mod admin_session;
pub mod browser;
pub mod receivers;
pub mod site;

use resolver_server::domain::{self, Account, AccountId, Suid};
use resolver_server::http::{self, AppState};
use resolver_server::store::Store;
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// A running server and direct access to its store (for setting up accounts and for checking
/// what was really stored).
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    pub store: Store,
    pub client: reqwest::Client,
    pub dir: TempDir,
    /// For an HTTPS server ([`spawn_https_app`]): the PEM file of its self-signed certificate,
    /// for clients that must be told to trust it.
    pub ca_file: Option<PathBuf>,
    /// The server's database when it runs on PostgreSQL ([`on_postgres`]).
    pub database_url: Option<String>,
}

/// An account with a user (password `password-<name>`) and a token.
pub struct TestAccount {
    pub account: Account,
    pub username: String,
    pub password: String,
    pub token: String,
}

impl TestAccount {
    pub fn id(&self) -> AccountId {
        self.account.id
    }
}

/// Starts a server on a free loopback port with an empty database in a temporary directory.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|state| state).await
}

/// Like [`spawn_app`], with the server's state adjusted first (another tracker directory, a
/// tiny trackUser quota). Rule deliveries may reach loopback receivers (the tests' webhook
/// receiver and SMS gateway), as with `serve --allow-private-targets`.
pub async fn spawn_app_with(adjust: impl FnOnce(AppState) -> AppState) -> TestApp {
    spawn(adjust, false).await
}

/// Like [`spawn_app`], serving HTTPS with a self-signed certificate for `127.0.0.1` and
/// `localhost`, made for this server (rcgen). `client` trusts it; `ca_file` holds it.
pub async fn spawn_https_app() -> TestApp {
    spawn(|state| state, true).await
}

/// Whether the test servers run on PostgreSQL (`SSRM_TEST_STORE=postgres`, set by
/// `scripts/test.sh` for its second pass over the black-box tests) instead of sled.
pub fn on_postgres() -> bool {
    std::env::var("SSRM_TEST_STORE").as_deref() == Ok("postgres")
}

/// The store of a new test server: sled in `dir`, or a new empty database on the PostgreSQL
/// cluster at `SSRM_TEST_DATABASE_URL` (`scripts/postgres.sh`) when [`on_postgres`].
fn test_store(dir: &Path) -> (Store, Option<String>) {
    if !on_postgres() {
        return (Store::open(&dir.join("data")).expect("open store"), None);
    }
    let admin_url = std::env::var("SSRM_TEST_DATABASE_URL")
        .expect("SSRM_TEST_STORE=postgres needs SSRM_TEST_DATABASE_URL (scripts/postgres.sh)");
    let name = format!("ssrm_test_{}", uuid::Uuid::new_v4().simple());
    let statement = format!("CREATE DATABASE {name}");
    let admin = admin_url.clone();
    // Its own thread and runtime: this may be called from inside a test's runtime.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .expect("connect to the test cluster");
            tokio::spawn(connection);
            client
                .batch_execute(&statement)
                .await
                .expect("create database");
        });
    })
    .join()
    .expect("create database");
    let (server, _) = admin_url
        .rsplit_once('/')
        .expect("a postgres://…/database URL");
    let url = format!("{server}/{name}");
    let store = Store::connect(&url, 4).expect("connect to the test database");
    (store, Some(url))
}

async fn spawn(adjust: impl FnOnce(AppState) -> AppState, https: bool) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (store, database_url) = test_store(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local address").port();
    let mut client = reqwest::Client::builder();
    let (tls, ca_file) = if https {
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .expect("certificate");
        let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_file, certified.cert.pem()).expect("write certificate");
        std::fs::write(&key_file, certified.signing_key.serialize_pem()).expect("write key");
        let cert = std::sync::Arc::new(
            resolver_server::tls::ReloadableCert::load(&cert_file, &key_file).expect("load"),
        );
        client = client.add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("PEM"),
        );
        (Some(cert.server_config()), Some(cert_file))
    } else {
        (None, None)
    };
    let scheme = if https { "https" } else { "http" };
    let server = http::run_endpoints(
        vec![http::Endpoint { listener, tls }],
        adjust(AppState {
            tracker_dir: repository_root().join("www/tracker"),
            delivery: resolver_server::delivery::DeliveryOptions {
                targets: resolver_server::delivery::TargetPolicy::AllowPrivate,
            },
            ..AppState::new(store.clone())
        }),
        10,
    )
    .expect("server starts");
    tokio::spawn(server);
    TestApp {
        base: format!("{scheme}://127.0.0.1:{port}"),
        store,
        client: client.build().expect("client"),
        dir,
        ca_file,
        database_url,
    }
}

impl TestApp {
    /// Every key and value the server has stored, with the name of its tree (sled: from a
    /// consistent backup copy) or table (PostgreSQL), to check what is and is not stored.
    pub async fn every_stored_entry(&self) -> Vec<(String, Vec<u8>, Vec<u8>)> {
        let mut entries = Vec::new();
        if let Some(url) = &self.database_url {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect to the test database");
            tokio::spawn(connection);
            for table in ["tenant_data", "auth_data", "outbox_data", "meta_data"] {
                let rows = client
                    .query(&format!("SELECT key, value FROM {table}"), &[])
                    .await
                    .expect("read the table");
                for row in rows {
                    entries.push((table.to_owned(), row.get(0), row.get(1)));
                }
            }
            return entries;
        }
        let copy = tempfile::tempdir().expect("dir");
        let target = copy.path().join("backup");
        self.store.backup_to(&target).expect("backup");
        let db = sled::open(&target).expect("open the copy");
        for name in db.tree_names() {
            let tree = db.open_tree(&name).expect("tree");
            for entry in tree.iter() {
                let (key, value) = entry.expect("entry");
                let name = String::from_utf8_lossy(&name).into_owned();
                entries.push((name, key.to_vec(), value.to_vec()));
            }
        }
        entries
    }

    /// Creates an account `name` with user `name` and a token acting as that user.
    pub fn account(&self, name: &str) -> TestAccount {
        let account = domain::create_account(&self.store, name, None).expect("account");
        let password = format!("password-{name}");
        domain::add_user(&self.store, account.id, name, &password).expect("user");
        let token = domain::create_token(&self.store, account.id, Some(name), None).expect("token");
        TestAccount {
            account,
            username: name.to_owned(),
            password,
            token: token.secret,
        }
    }

    /// Imports `items` into `account` as a new group `group`; answers their ids in input order.
    pub fn import(
        &self,
        account: &TestAccount,
        group: &str,
        items: &[domain::ContactInput],
    ) -> Vec<domain::ContactId> {
        let principal = domain::Principal {
            account: account.id(),
            username: None,
        };
        let report =
            domain::import_contacts(&self.store, &principal, group, items).expect("import");
        self.store
            .group_member_ids(account.id(), report.group)
            .map(|id| id.expect("id"))
            .collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// POSTs a JSON body with a Bearer token, as the current official clients do, and returns
    /// the decoded answer (asserting HTTP 200).
    pub async fn call(&self, token: &str, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.expect("JSON answer")
    }

    /// [`TestApp::call`] for a call that creates something (`groups/add.json`,
    /// `contacts/add.json`…): the `id` of its answer, `Null` when there is none (so a test that
    /// uses it as an id still fails).
    pub async fn created(&self, token: &str, path: &str, body: Value) -> Value {
        self.call(token, path, body).await["id"].clone()
    }

    /// POSTs a form body given as raw `application/x-www-form-urlencoded` text.
    pub async fn form(&self, path: &str, body: &str) -> Value {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.expect("JSON answer")
    }
}

/// The value of the first hidden input named `name` in an admin page (`&amp;` decoded).
pub fn hidden_input(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .replace("&amp;", "&")
}

/// Opens `/login?{query}` and submits its form with `credentials` and `next` (`None`: the
/// value the login page put in its own hidden field).
pub async fn admin_login(
    app: &TestApp,
    client: &reqwest::Client,
    query: &str,
    credentials: (&str, &str),
    next: Option<&str>,
) -> reqwest::Response {
    let form = client
        .get(app.url(&format!("login?{query}")))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("html");
    let csrf = hidden_input(&form, "csrf");
    let next = next.map_or_else(|| hidden_input(&form, "next"), str::to_owned);
    client
        .post(app.url("login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", credentials.0),
            ("password", credentials.1),
            ("next", next.as_str()),
        ])
        .send()
        .await
        .expect("login")
}

/// The error code of a SerwerSMS error answer, if it is one.
pub fn error_code(answer: &Value) -> Option<i64> {
    answer.get("error")?.get("code")?.as_i64()
}

/// The repository's root directory.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// A Python virtualenv with the official SerwerSMS client (`serwersmsv2api`, which needs
/// `requests` but does not declare it), created under `target/` on first use. Returns its
/// interpreter. Tests that call it at once wait for each other: one creates the venv, the
/// others use it.
pub fn python_with_serwersms_client() -> PathBuf {
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = CREATING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let venv = repository_root().join("target").join("venv-serwersms");
    let python = venv.join("bin").join("python");
    let ready = Command::new(&python)
        .args(["-c", "import serwersms, requests"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !ready {
        let status = Command::new("python3")
            .arg("-m")
            .arg("venv")
            // A venv left half-made by an interrupted run is made again from scratch.
            .arg("--clear")
            .arg(&venv)
            .status()
            .expect("python3 runs");
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "serwersmsv2api==0.0.2",
                "requests",
            ])
            .status()
            .expect("pip runs");
        assert!(
            status.success(),
            "pip install serwersmsv2api requests failed"
        );
    }
    python
}

/// Runs `tests/python/serwersms_client_scenario.py` (the official Python client) against `app`
/// with `token` and `suid`, asserting it passed; returns its first line (JSON with
/// `linked_contact`). Under HTTPS the client trusts only the app's own certificate.
pub async fn run_python_scenario(app: &TestApp, token: &str, suid: Suid) -> Value {
    let python = tokio::task::spawn_blocking(python_with_serwersms_client)
        .await
        .expect("venv");
    let mut command = Command::new(python);
    command
        .arg(repository_root().join("tests/python/serwersms_client_scenario.py"))
        .arg(format!("{}/", app.base))
        .arg(token)
        .arg(suid.to_string());
    if let Some(ca_file) = &app.ca_file {
        // `requests` verifies certificates against this bundle.
        command.env("REQUESTS_CA_BUNDLE", ca_file);
    }
    let output = tokio::task::spawn_blocking(move || command.output().expect("python runs"))
        .await
        .expect("scenario");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.lines().any(|line| line == "scenario ok"), "{stdout}");
    serde_json::from_str(stdout.lines().next().expect("first line")).expect("json line")
}

/// Serves one HTML page at `/` on a fresh loopback port; returns the port. The page can be
/// opened as `http://127.0.0.1:PORT/` or, as another origin, `http://localhost:PORT/`.
pub fn serve_page(html: String) -> u16 {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local address").port();
    let page = web::Data::new(html);
    let server = HttpServer::new(move || {
        App::new().app_data(page.clone()).default_service(web::to(
            |page: web::Data<String>| async move {
                HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(page.get_ref().clone())
            },
        ))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    port
}
