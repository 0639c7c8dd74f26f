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
