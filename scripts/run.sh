#!/usr/bin/env bash
# Runs the product for a newcomer: builds the browser tracker and the server (release), then
# serves everything on an embedded store in ./ssrm-data with a demo account, user, token and the
# domains 127.0.0.1 and localhost, and prints the URL and the credentials.
# Usage: scripts/run.sh            (SSRM_LISTEN and SSRM_DATA_DIR change the defaults)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/build-tracker.sh
cargo build --release -p resolver-server
export SSRM_DATA_DIR="${SSRM_DATA_DIR:-$root/ssrm-data}"
exec target/release/resolver-server serve --demo
