//! What the binary's tests share: running `resolver-server` as an operator does.
// Each test file uses its own subset.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const BINARY: &str = env!("CARGO_BIN_EXE_resolver-server");

/// Runs one command on `data_dir` to completion, with `stdin` as its standard input (blocking:
/// call from `spawn_blocking` in async tests).
pub fn run(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run_in(data_dir, None, args, stdin)
}

/// [`run`] from the working directory `cwd` (for commands taking relative paths).
pub fn run_in(data_dir: &Path, cwd: Option<&Path>, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(BINARY);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().expect("binary starts");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("binary finishes")
}

/// The standard output of a command that must have succeeded (else its standard error).
pub fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

// ----- PostgreSQL (SSRM_TEST_DATABASE_URL, set by scripts/postgres.sh) -----

/// The administrative URL, or `None` (and a message) when the tests are not wired to a server.
pub fn admin_url() -> Option<String> {
    match std::env::var("SSRM_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: SSRM_TEST_DATABASE_URL is not set (scripts/postgres.sh sets it)");
            None
        }
    }
}

/// Runs one statement (or several, `;`-separated) on the administrative connection.
pub fn admin(url: &str, sql: &str) {
    sql_text(url, sql);
}

/// Runs `sql` (one or more statements) on `url` and returns the first column of every row
/// they answer, one line each (EXPLAIN's plan).
pub fn sql_text(url: &str, sql: &str) -> String {
    let sql = sql.to_owned();
    let url = url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(connection);
            let messages = client.simple_query(&sql).await.expect("statement");
            messages
                .iter()
                .filter_map(|message| match message {
                    tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    })
    .join()
    .expect("database thread")
}

/// A new empty database; returns its name and URL.
pub fn fresh_database(admin_url: &str) -> (String, String) {
    let name = format!("ssrm_test_{}", uuid::Uuid::new_v4().simple());
    admin(admin_url, &format!("CREATE DATABASE {name}"));
    let mut url = url::Url::parse(admin_url).expect("a postgres:// URL");
    url.set_path(&format!("/{name}"));
    (name, url.to_string())
}
