#!/usr/bin/env bash
# Runs every test: unit tests, the black-box API tests against a real server on a loopback port
# (each with its own temporary sled directory), the official SerwerSMS Python client scenario
# (its virtualenv is created under target/ on first use) and the tracker's host tests. Builds
# the browser tracker first, so a broken tracker build fails the run, and prints its size.
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/build-tracker.sh
scripts/tracker-size.sh
cargo test --workspace "$@"
