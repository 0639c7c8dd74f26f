//! The `resolver-server` binary as an operator uses it: administration commands, their output
//! and errors, and that an acknowledged write survives `kill -9`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{run, stdout, BINARY};

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().expect("dir");
    for command in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["account", "add", "--help"],
        vec!["user", "add", "--help"],
        vec!["token", "create", "--help"],
        vec!["token", "revoke", "--help"],
        vec!["domain", "add", "--help"],
        vec!["domain", "list", "--help"],
        vec!["domain", "require-hash", "--help"],
        vec!["campaign", "add", "--help"],
        vec!["contact", "history", "--help"],
        vec!["campaign", "status", "add", "--help"],
    ] {
        let output = run(dir.path(), &command, None);
        assert!(stdout(&output).contains("Usage:"), "{command:?}");
    }
}

#[test]
fn administration_commands_print_only_what_they_promise() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path();
    stdout(&run(
        data,
        &["account", "add", "shop", "--country", "DE"],
        None,
    ));
    assert!(stdout(&run(data, &["account", "list"], None)).contains("\tshop\tDE"));
    stdout(&run(
        data,
        &["user", "add", "shop", "jan", "--password-stdin"],
        Some("long enough password\n"),
    ));

    let token = stdout(&run(
        data,
        &[
            "token",
            "create",
            "shop",
            "--user",
            "jan",
            "--expires-days",
            "30",
        ],
        None,
    ));
    let token = token.trim_end();
    assert!(
        token.starts_with("ssrm_") && token.len() == 53 && !token.contains(char::is_whitespace),
        "{token:?}"
    );
    let prefix = &token[5..13];
    let listed = stdout(&run(data, &["token", "list", "shop"], None));
    assert!(listed.starts_with(&format!("{prefix}\tjan\t")), "{listed}");
    assert!(
        !listed.contains(token),
        "the token itself is never shown again"
    );
    stdout(&run(data, &["token", "revoke", "shop", prefix], None));
    assert!(
        !stdout(&run(data, &["token", "list", "shop"], None))
            .trim_end()
            .ends_with("\t-"),
        "revoked time shown"
    );

    let key = stdout(&run(
        data,
        &["domain", "add", "shop", "https://Sklep.Example.com/"],
        None,
    ));
    let key = key.trim_end();
    assert_eq!(key.len(), 24, "{key:?}");
    assert_eq!(
        stdout(&run(data, &["domain", "list", "shop"], None)),
        format!("sklep.example.com\t{key}\thash-optional\n")
    );
    let secret = stdout(&run(
        data,
        &["domain", "require-hash", "shop", "sklep.example.com"],
        None,
    ));
    assert_eq!(secret.trim_end().len(), 64);
    assert!(stdout(&run(data, &["domain", "list", "shop"], None)).contains("hash-required"));
}

#[test]
fn campaigns_are_created_listed_and_given_statuses() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path();
    stdout(&run(data, &["account", "add", "shop"], None));
    assert_eq!(
        stdout(&run(
            data,
            &["campaign", "add", "shop", "Oddzwonienia"],
            None
        )),
        "00001\n"
    );
    assert_eq!(
        stdout(&run(data, &["campaign", "add", "shop", "Windykacja"], None)),
        "00002\n"
    );
    assert_eq!(
        stdout(&run(data, &["campaign", "list", "shop"], None)),
        "00001\tOddzwonienia\t8\n00002\tWindykacja\t8\n"
    );
    let id = stdout(&run(
        data,
        &[
            "campaign",
            "status",
            "add",
            "shop",
            "00001",
            "Oddzwonić jutro",
            "--system",
            "CALL_NO_SOONER_THAN",
        ],
        None,
    ));
    assert_eq!(id, "9\n");
    let statuses = stdout(&run(
        data,
        &["campaign", "status", "list", "shop", "00001"],
        None,
    ));
    assert!(statuses.starts_with("1\tTO_CALL\tNowy\n"), "{statuses}");
    assert!(
        statuses.ends_with("9\tCALL_NO_SOONER_THAN\tOddzwonić jutro\n"),
        "{statuses}"
    );
    let bad = run(
        data,
        &[
            "campaign",
            "status",
            "add",
            "shop",
            "00001",
            "x",
            "--system",
            "SOMETIMES",
        ],
        None,
    );
    assert!(!bad.status.success());
}

#[test]
fn contact_history_prints_the_linked_visitors_page_views() {
    use resolver_server::domain::{self, ContactInput, Principal, Suid};
    let dir = tempfile::tempdir().expect("dir");
    let contact = {
        let store = resolver_server::store::Store::open(dir.path()).expect("store");
        let account = domain::create_account(&store, "shop", None)
            .expect("account")
            .id;
        let suid = Suid::random();
        domain::record_page_view(
            &store,
            account,
            suid,
            "https://shop.example.com/kubek",
            "Kubek",
            "",
        )
        .expect("view");
        let input = ContactInput {
            phone: Some("500600700".into()),
            suid: Some(suid.to_string()),
            ..ContactInput::default()
        };
        let contact = domain::add_contact(
            &store,
            &Principal {
                account,
                username: None,
            },
            &input,
        )
        .expect("contact");
        store.flush().expect("flush");
        contact.id
    };
    let printed = stdout(&run(
        dir.path(),
        &["contact", "history", "shop", &contact.to_string()],
        None,
    ));
    assert_eq!(printed.lines().count(), 1, "{printed}");
    assert!(
        printed.contains("\tpageview\t")
            && printed
                .trim_end()
                .ends_with("https://shop.example.com/kubek\tKubek"),
        "{printed}"
    );
}

#[test]
fn errors_exit_non_zero_with_one_line() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path();
    for (args, stdin) in [
        (vec!["token", "create", "nobody"], None),
        (
            vec!["user", "add", "nobody", "jan", "--password-stdin"],
            Some("long enough password"),
        ),
        (vec!["account", "add", "x", "--country", "XX"], None),
    ] {
        let output = run(data, &args, stdin);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
    }
    stdout(&run(data, &["account", "add", "shop"], None));
    let short = run(
        data,
        &["user", "add", "shop", "jan", "--password-stdin"],
        Some("short"),
    );
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
}

#[test]
fn a_domain_another_account_has_is_refused_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path();
    for name in ["shop", "rival"] {
        stdout(&run(data, &["account", "add", name], None));
    }
    stdout(&run(
        data,
        &["domain", "add", "shop", "shop.example.com"],
        None,
    ));
    let refused = run(
        data,
        &["domain", "add", "rival", "https://shop.example.com/"],
        None,
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("another account has registered this domain"),
        "{stderr}"
    );
    assert_eq!(stdout(&run(data, &["domain", "list", "rival"], None)), "");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn wait_until_serving(child: &mut Child) {
    // `serve --demo` prints its banner once the listener is bound.
    // The rest of its output is drained by a thread, so the server never writes to a closed pipe.
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) if line.contains("token:") => {
                std::thread::spawn(move || lines.for_each(drop));
                return;
            }
            Some(Ok(_)) => continue,
            _ => break,
        }
    }
    panic!("server did not start");
}

#[test]
fn an_acknowledged_contact_survives_kill_9() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let mut server = Command::new(BINARY)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    wait_until_serving(&mut server);
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = "username=demo&password=demo-password&phone=500600700&first_name=Trwa%C5%82y";
    let answer = loop {
        let output = Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "20",
                "-X",
                "POST",
                "-d",
                body,
                &format!("http://127.0.0.1:{port}/contacts/add.json"),
            ])
            .output()
            .expect("curl runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if text.contains("success") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(answer.starts_with("{\"success\":true"), "{answer}");
    server.kill().expect("SIGKILL"); // no shutdown, no final flush
    server.wait().expect("reaped");

    let store = resolver_server::store::Store::open(dir.path()).expect("reopen");
    let account = store
        .account_by_name("demo")
        .expect("store")
        .expect("demo account");
    let names: Vec<String> = store
        .contacts(account.id)
        .map(|c| c.expect("contact").first_name)
        .collect();
    assert!(names.iter().any(|name| name == "Trwały"), "{names:?}");
}
