#!/usr/bin/env bash
# Page-view ingest through the running server with 100 enabled rules in the account against
# ingest with none (issue 10's target: at least 80%), end to end: HTTP, rule evaluation, firings
# and the durable write (group commit) each acknowledged page view waits for.
#
# One release resolver, two accounts (sites plain.localhost and ruled.localhost), each with 1,000 contacts and 1,000
# known visitors linked to them by trackUser (scripts/load/link_visitors.py). Account "ruled"
# has 100 rules (`url_contains "/product/N/"`, 3 views in 7 days → add to a group), account
# "plain" none. wrk sends both the same page views (the known visitors over 200 product pages,
# half of which match one rule each, so history is counted and rules fire during the run),
# alternating between the accounts in rounds so both see the same machine load; prints each
# side's page views per second and the ratio.
#
# Usage: scripts/load-rules.sh   (LOAD_ROUNDS=4, LOAD_DURATION=5s, LOAD_CONNECTIONS=32)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

rounds="${LOAD_ROUNDS:-4}"
duration="${LOAD_DURATION:-5s}"
connections="${LOAD_CONNECTIONS:-32}"
port="${LOAD_RESOLVER_PORT:-18081}"
visitors=1000
rules=100

command -v wrk >/dev/null || { echo "load-rules: wrk is needed (apt-get install wrk)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "load-rules: python3 is needed" >&2; exit 1; }
cargo build --release -p resolver-server --bin resolver-server >&2
bin="${LOAD_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/resolver-server}"

work="$(mktemp -d "${TMPDIR:-/tmp}/ssrm-load-rules.XXXXXX")"
resolver=""
cleanup() {
  [[ -n "$resolver" ]] && kill "$resolver" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
export SSRM_DATA_DIR="$work/data"

declare -A token site
for account in plain ruled; do
  "$bin" account add "$account" >/dev/null
  token[$account]="$("$bin" token create "$account" | tail -n1)"
  site[$account]="$("$bin" domain add "$account" "$account.localhost" | tail -n1)"
done

# Quotas are per client address and site; every request here has its own address.
"$bin" serve --listen "127.0.0.1:$port" --behind-proxy 2>"$work/resolver.log" &
resolver=$!
for _ in $(seq 600); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

for account in plain ruled; do
  python3 scripts/load/import.py "http://127.0.0.1:$port" "${token[$account]}" "$visitors" >/dev/null
  python3 scripts/load/link_visitors.py "http://127.0.0.1:$port" "${site[$account]}" \
    "http://$account.localhost" "$visitors"
done
group="$(curl -sf -H "Authorization: Bearer ${token[ruled]}" -H 'Content-Type: application/json' \
  -d '{"name":"Zainteresowani"}' "http://127.0.0.1:$port/groups/add.json" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
for n in $(seq 0 $((rules - 1))); do
  printf '{"name":"Produkt %d","when":{"pageview":{"url_contains":"/product/%d/"},"count":3,"within_days":7},"then":[{"add_to_group":%d}]}' \
    "$n" "$n" "$group" | "$bin" rule add ruled >/dev/null
done
echo "load-rules: 2 accounts, $visitors linked visitors each, $rules rules in \"ruled\"" >&2

# rate ACCOUNT RUN: successful page views per second of one wrk run
rate() {
  wrk -t1 -c"$connections" -d"$duration" --timeout 10s -s scripts/load/wrk.lua \
    "http://127.0.0.1:$port" -- pageview_known "run=$2" "site=${site[$1]}" "visitors=$visitors" \
    "origin=http://$1.localhost" |
    python3 -c '
import sys
line = next(l for l in sys.stdin if l.startswith("RESULT"))
v = dict(p.split("=", 1) for p in line.split()[1:])
print("%.0f" % ((int(v["requests"]) - int(v["unsuccessful"])) / float(v["seconds"])))'
}

plain_total=0
ruled_total=0
for round in $(seq "$rounds"); do
  # The same run number on both sides: the same visitors and pages in the same order.
  p="$(rate plain "$round")"
  r="$(rate ruled "$round")"
  echo "round $round: no rules $p/s, $rules rules $r/s" >&2
  plain_total=$((plain_total + p))
  ruled_total=$((ruled_total + r))
done
fired="$("$bin" rule list ruled | python3 -c '
import json, sys
print(sum(json.loads(line)["fired"] for line in sys.stdin if line.strip()))')"
python3 - "$plain_total" "$ruled_total" "$rounds" "$duration" "$connections" "$fired" <<'PY'
import sys
plain, ruled, rounds, duration, connections, fired = sys.argv[1:]
plain, ruled, rounds = int(plain), int(ruled), int(rounds)
print("wrk -t1 -c%s, %d rounds of %s per side, durable page views of 1,000 linked visitors" % (connections, rounds, duration))
print("no rules:  %7d page views/s" % (plain / rounds))
print("100 rules: %7d page views/s (rule firings: %s)" % (ruled / rounds, fired))
print("ratio (100 rules / none): %.2f" % (ruled / plain))
PY
