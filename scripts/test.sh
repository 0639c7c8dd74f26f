#!/usr/bin/env bash
# Runs every check, on a fresh Debian machine with Rust as on a developer's:
#   1. installs the missing Debian packages (scripts/prerequisites.sh test: Chromium and its
#      driver, python3-venv, PostgreSQL, node and npm, curl, brotli, zopfli); stops at once with one line
#      saying what to install when it cannot;
#   2. the quality gates, each failing with its own message: formatting (cargo fmt), lints
#      (cargo clippy, warnings are errors), the tracker's build and its size budget as a running
#      resolver sends it (scripts/tracker-size.sh: brotli <= 12,288 bytes, gzip <= 13,824);
#   3. every test: unit tests, the black-box API tests against a real server on a loopback port
#      (each with its own temporary sled directory), the official SerwerSMS Python client scenario
#      (its virtualenv is created under target/ on first use), the CLI tests, the tracker's host
#      tests and the end-to-end tests in headless Chromium;
#   4. the black-box tests again on PostgreSQL (a throwaway cluster, scripts/postgres.sh), with
#      one browser flow.
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

gate() { # message command...
  local message="$1"
  shift
  if ! "$@"; then
    echo "test: $message" >&2
    exit 1
  fi
}

scripts/prerequisites.sh test
# The gates' tools: in rustup's default profile, but a minimal one lacks them.
installed_components="$(rustup component list --installed 2>/dev/null || true)"
for component in rustfmt clippy; do
  grep -q "^$component" <<<"$installed_components" || rustup component add "$component"
done
gate "formatting differs from rustfmt's; run: cargo fmt --all" \
  cargo fmt --all -- --check
gate "the tracker does not build (above)" scripts/build-tracker.sh
gate "clippy found problems (above); warnings are errors" \
  cargo clippy --quiet --workspace --all-targets -- -D warnings
gate "the tracker is over its size budget (above); measure with scripts/tracker-size.sh" \
  scripts/tracker-size.sh
# A throwaway PostgreSQL cluster (scripts/postgres.sh) for the tests of the PostgreSQL backend,
# removed on exit; each test makes its own database in it.
postgres_dir="$(mktemp -d -u "${TMPDIR:-/tmp}/ssrm-postgres.XXXXXX")"
trap 'scripts/postgres.sh stop "$postgres_dir"' EXIT
SSRM_TEST_DATABASE_URL="$(scripts/postgres.sh start "$postgres_dir")"
export SSRM_TEST_DATABASE_URL
gate "tests failed (above)" cargo test --workspace "$@"

# The black-box tests again with every test server on PostgreSQL (a new database each): every
# API, the official Python client, the admin pages; of the browser tests, the sign-up flow.
postgres_suites=()
for file in tests/tests/*.rs; do
  name="$(basename "$file" .rs)"
  case "$name" in
    *browser* | prerequisites | tracker_files) ;; # browser: below; the others use no store
    *) postgres_suites+=(--test "$name") ;;
  esac
done
gate "tests on PostgreSQL failed (above)" \
  env SSRM_TEST_STORE=postgres cargo test -p ssrm-tests "${postgres_suites[@]}" "$@"
gate "the browser flow on PostgreSQL failed (above)" \
  env SSRM_TEST_STORE=postgres cargo test -p ssrm-tests --test browser -- \
  sign_up_links_the_visitor_and_its_earlier_page_views_join_the_contact_history
