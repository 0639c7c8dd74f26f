#!/usr/bin/env bash
# The load benchmark (issue 12): builds release, loads contacts through SerwerSMS
# `contacts/import` (5,000 per call), then drives the resolver and an empty actix-web handler
# (the ceiling, resolver-server/examples/ceiling.rs) with wrk, the same settings for both, and
# prints one table: successful answers per second, their share of the ceiling, p50 and p99.
# Every request comes from a fresh client address (X-Forwarded-For, the resolver runs with
# --behind-proxy) so rate limits and quotas measure nothing but themselves; trackUser "not found"
# cycles through 60,000 addresses. Then times the admin pages (/contacts pages, /search) one
# request at a time, signed in as an operator (scripts/load/admin.py). Also prints the import
# time and the resolver's peak RSS. Measuring starts once the resolver is idle after the import
# (the search index merges its segments first).
#
# Usage: scripts/load.sh     (LOAD_CONTACTS=1000000, LOAD_DURATION=8s, LOAD_CONNECTIONS=32,
#                             LOAD_THREADS=1; extra `serve` flags in LOAD_SERVE_FLAGS; LOAD_BIN
#                             measures another resolver binary)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

contacts="${LOAD_CONTACTS:-1000000}"
duration="${LOAD_DURATION:-8s}"
connections="${LOAD_CONNECTIONS:-32}"
threads="${LOAD_THREADS:-1}"
resolver_port="${LOAD_RESOLVER_PORT:-18080}"
ceiling_port="${LOAD_CEILING_PORT:-18090}"

if ! command -v wrk >/dev/null; then
  echo "load: installing wrk" >&2
  if [[ $(id -u) -eq 0 ]]; then apt-get install -y wrk >&2; else sudo apt-get install -y wrk >&2; fi
fi
command -v python3 >/dev/null || { echo "load: python3 is needed for the import" >&2; exit 1; }

cargo build --release -p resolver-server --bin resolver-server --example ceiling >&2
# LOAD_BIN: measure another build of the resolver (an older commit's, for a before/after).
target="${CARGO_TARGET_DIR:-$root/target}"
bin="${LOAD_BIN:-$target/release/resolver-server}"
ceiling_bin="$target/release/examples/ceiling"

work="$(mktemp -d "${TMPDIR:-/tmp}/ssrm-load.XXXXXX")"
resolver=""
ceiling=""
cleanup() {
  [[ -n "$resolver" ]] && kill "$resolver" 2>/dev/null
  [[ -n "$ceiling" ]] && kill "$ceiling" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
export SSRM_DATA_DIR="$work/data"

password="load-benchmark-password"
"$bin" account add bench >/dev/null
printf '%s\n' "$password" | "$bin" user add bench bench --password-stdin >/dev/null
token="$("$bin" token create bench | tail -n1)"
site="$("$bin" domain add bench localhost | tail -n1)"
campaign="$("$bin" campaign add bench Load | tail -n1)"
basic="Basic $(printf 'bench:%s' "$token" | base64 -w0)"

wait_for_port() {
  for _ in $(seq 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "load: nothing listens on port $1" >&2
  exit 1
}

# shellcheck disable=SC2086
"$bin" serve --listen "127.0.0.1:$resolver_port" --behind-proxy ${LOAD_SERVE_FLAGS:-} \
  2>"$work/resolver.log" &
resolver=$!
"$ceiling_bin" "127.0.0.1:$ceiling_port" >/dev/null &
ceiling=$!
wait_for_port "$resolver_port"
wait_for_port "$ceiling_port"

read -r import_seconds first_group < <(python3 scripts/load/import.py \
  "http://127.0.0.1:$resolver_port" "$token" "$contacts")
first_contact=$((first_group + 1))
echo "load: imported $contacts contacts in ${import_seconds} s" >&2
# Settle: after a bulk import the search index merges its segments in background threads for
# a while; measure the steady state, once the resolver has used under 5% of a core for 2 s.
settle_started=$SECONDS
cpu_ticks() { awk '{print $14 + $15}' "/proc/$resolver/stat"; }
previous=$(cpu_ticks)
while ((SECONDS - settle_started < 300)); do
  sleep 2
  now=$(cpu_ticks)
  if ((now - previous < 2 * $(getconf CLK_TCK) / 20)); then break; fi
  previous=$now
done
echo "load: the resolver settled $((SECONDS - settle_started)) s after the import" >&2
settled_kib="$(awk '/^VmRSS/ {print $2}' "/proc/$resolver/status")"

run_seed=$(date +%s)
# measure NAME URL KIND [key=value...]: prints "NAME req/s p50 p99 unsuccessful"
measure() {
  local name="$1" url="$2" kind="$3"
  shift 3
  run_seed=$((run_seed + 1))
  local line
  line="$(wrk -t"$threads" -c"$connections" -d"$duration" --timeout 10s -s scripts/load/wrk.lua "$url" -- \
    "$kind" "run=$run_seed" "site=$site" "token=$token" "login=bench" "basic=$basic" \
    "campaign=$campaign" "contacts=$contacts" "first=$first_contact" "$@" | grep '^RESULT')"
  python3 - "$name" "$line" <<'PY'
import sys
name, line = sys.argv[1], sys.argv[2]
v = dict(pair.split("=", 1) for pair in line.split()[1:])
rate = (int(v["requests"]) - int(v["unsuccessful"])) / float(v["seconds"])
print("\t".join([name, "%.0f" % rate, v["p50_ms"], v["p99_ms"], v["unsuccessful"], v["socket_errors"]]))
PY
}

results="$work/results.tsv"
{
  measure "ceiling (empty actix handler)" "http://127.0.0.1:$ceiling_port" ceiling
  measure "/t/identify, not found (60,000 addresses)" "http://127.0.0.1:$resolver_port" identify_missing addresses=60000
  measure "/t/identify, found: links the visitor" "http://127.0.0.1:$resolver_port" identify_found
  measure "/t/pageview" "http://127.0.0.1:$resolver_port" pageview
  measure "/t/event" "http://127.0.0.1:$resolver_port" event
  measure "contacts/add" "http://127.0.0.1:$resolver_port" add
  measure "Thulium batch of 100 records" "http://127.0.0.1:$resolver_port" thulium
  measure "TelefUM find" "http://127.0.0.1:$resolver_port" telefum
  # Last: a search reads what the search index finds, and before it existed every contact.
  measure "contacts/index, search by phone" "http://127.0.0.1:$resolver_port" search
  measure "contacts/index, random page of a random order" "http://127.0.0.1:$resolver_port" list
} >"$results"
# The admin pages, one request at a time (an operator's browser on an idle server).
python3 scripts/load/admin.py "http://127.0.0.1:$resolver_port" bench "$password" "$contacts" \
  >"$work/admin.tsv"

peak_kib="$(awk '/^VmHWM/ {print $2}' "/proc/$resolver/status")"

python3 - "$results" "$contacts" "$import_seconds" "$peak_kib" "$duration" "$connections" "$threads" "$work/admin.tsv" "$settled_kib" <<'PY'
import sys
path, contacts, import_seconds, peak_kib, duration, connections, threads, admin, settled_kib = sys.argv[1:]
rows = [line.rstrip("\n").split("\t") for line in open(path)]
ceiling = float(rows[0][1])
print("wrk -t%s -c%s -d%s, %s contacts, one run, same machine" % (threads, connections, duration, int(contacts)))
print()
print("| endpoint | req/s | share of ceiling | p50 | p99 | unsuccessful |")
print("|---|---|---|---|---|---|")
for name, rate, p50, p99, unsuccessful, socket in rows:
    rate = float(rate)
    note = "" if socket == "0" else " (%s socket errors)" % socket
    print("| %s | %s | %.0f%% | %s ms | %s ms | %s%s |" % (
        name, format(int(rate), ","), 100 * rate / ceiling, p50, p99, unsuccessful, note))
print()
print("| admin page, one request at a time | requests | p50 | p99 |")
print("|---|---|---|---|")
for line in open(admin):
    name, count, p50, p99 = line.rstrip("\n").split("\t")
    print("| %s | %s | %s ms | %s ms |" % (name, count, p50, p99))
print()
print("contacts/import of %s contacts (5,000 per call): %s s" % (format(int(contacts), ","), import_seconds))
print("resolver RSS once the import settled: %.0f MiB; peak RSS over the whole run (VmHWM): %.0f MiB"
      % (int(settled_kib) / 1024, int(peak_kib) / 1024))
PY
