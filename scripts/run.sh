#!/usr/bin/env bash
# Runs the product for a newcomer: builds the browser tracker, the resolver and the demo shop
# (release), then starts
#   the resolver on http://127.0.0.1:8080 (embedded store in ./ssrm-data, demo account, user,
#     token and the domains 127.0.0.1 and localhost; it serves ssrm.js and ssrm_bg.wasm), and
#   the demo shop on http://127.0.0.1:8081, a different origin, loading the tracker from
#     http://localhost:8080 and signing visitors up through the resolver's contacts/add.
# Prints the URLs and the credentials; Ctrl-C stops both.
# Usage: scripts/run.sh     (SSRM_DATA_DIR, SSRM_LISTEN and SHOP_LISTEN change the defaults)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/prerequisites.sh run # Debian packages: node, npm, curl, brotli, zopfli
scripts/build-tracker.sh
cargo build --release -p resolver-server -p demo-shop

export SSRM_DATA_DIR="${SSRM_DATA_DIR:-$root/ssrm-data}"
resolver_listen="${SSRM_LISTEN:-127.0.0.1:8080}"
shop_listen="${SHOP_LISTEN:-127.0.0.1:8081}"
credentials="$SSRM_DATA_DIR/demo-credentials.txt"

target/release/resolver-server serve --demo --listen "$resolver_listen" &
resolver=$!
shop=""
trap 'kill $resolver $shop 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 300); do
  [[ -s "$credentials" ]] && break
  kill -0 "$resolver" 2>/dev/null || { echo "run: the resolver did not start" >&2; exit 1; }
  sleep 0.1
done
site_key="$(sed -n 's/^site_key=//p' "$credentials")"
token="$(sed -n 's/^token=//p' "$credentials")"

target/release/demo-shop --listen "$shop_listen" --resolver "http://localhost:${resolver_listen##*:}" \
  --site-key "$site_key" --token "$token" &
shop=$!
echo
echo "demo shop:  http://$shop_listen/  (sign up at /signup, log in on another browser at /login)"
echo "resolver:   http://localhost:${resolver_listen##*:}/  (tracker at /ssrm.js)"
wait
