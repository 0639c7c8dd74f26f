//! `scripts/prerequisites.sh`, which the README's commands run first: on a machine without
//! Chromium where nothing can be installed, the run stops at once with one line naming the
//! packages, instead of every browser test timing out. "Without Chromium" is this machine's
//! programs minus `chromium` and `chromedriver` (a PATH of links to everything else).

use ssrm_tests::repository_root;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// A directory of links to every program on the standard PATH except `hidden`.
fn path_without(root: &Path, hidden: &[&str]) -> String {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("bin directory");
    for directory in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        let Ok(entries) = std::fs::read_dir(directory) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let link = bin.join(&name);
            if hidden.iter().any(|hidden| name == **hidden) || link.exists() {
                continue;
            }
            std::os::unix::fs::symlink(entry.path(), link).expect("link a program");
        }
    }
    bin.display().to_string()
}

fn is_root() -> bool {
    let id = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&id.stdout).trim() == "0"
}

/// Runs `scripts/prerequisites.sh test` with `path`; as the unprivileged user `nobody` when
/// `unprivileged` and this test runs as root.
fn prerequisites(path: &str, unprivileged: bool) -> Output {
    let script = repository_root().join("scripts/prerequisites.sh");
    let mut command = if unprivileged && is_root() {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        command.arg(script);
        command
    } else {
        Command::new(script)
    };
    command
        .arg("test")
        .env_clear()
        .env("PATH", path)
        .env("HOME", "/tmp")
        .output()
        .expect("run prerequisites.sh")
}

fn one_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line, got: {stderr:?}");
    assert!(output.stdout.is_empty(), "{:?}", output.stdout);
    stderr
}

fn temporary_directory() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    // Readable by `nobody`, who runs the script in the first case.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

#[test]
fn without_chromium_and_without_root_it_stops_at_once_naming_what_to_install() {
    let dir = temporary_directory();
    let path = path_without(dir.path(), &["chromium", "chromedriver", "sudo"]);
    let output = prerequisites(&path, true);
    assert_eq!(output.status.code(), Some(1));
    let line = one_line(&output);
    assert!(
        line.contains("apt-get install chromium chromium-driver"),
        "{line}"
    );
    assert!(
        !line.contains("python3-venv"),
        "only what is missing: {line}"
    );
}

#[test]
fn without_chromium_and_without_apt_it_stops_at_once_naming_what_to_install() {
    let dir = temporary_directory();
    let path = path_without(dir.path(), &["chromedriver", "apt-get", "sudo"]);
    let output = prerequisites(&path, false);
    assert_eq!(output.status.code(), Some(1));
    let line = one_line(&output);
    assert!(line.contains("apt-get install chromium-driver"), "{line}");
}

#[test]
fn with_everything_installed_it_says_nothing() {
    let dir = temporary_directory();
    let path = path_without(dir.path(), &[]);
    let output = prerequisites(&path, true);
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
}
