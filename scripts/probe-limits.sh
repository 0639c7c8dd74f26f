#!/usr/bin/env bash
# Probes a release server's defences as a hostile client would (README, section Security):
#   1. the password throttle: 10 wrong SerwerSMS passwords, then 10 more and the right one;
#      prints the time of an argon2-checked attempt against a throttled one (a ratio, same run);
#   2. the ingest quota: 200 page views from one address in a burst; prints the statuses;
#   3. the body deadline: a body shorter than its Content-Length; prints the answer and how long
#      the connection was held.
# Usage: cargo build --release -p resolver-server && scripts/probe-limits.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/resolver-server}
PORT=${PORT:-18089}
BASE="http://127.0.0.1:$PORT"
DATA=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT

"$BIN" --data-dir "$DATA" account add probe >/dev/null
printf '%s' 'probe-password' | "$BIN" --data-dir "$DATA" user add probe probe --password-stdin >/dev/null
KEY=$("$BIN" --data-dir "$DATA" domain add probe shop.example.com)
SSRM_LOG=warn "$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" --body-timeout-secs 2 &
SERVER=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "$BASE/login" && break
    sleep 0.1
done

now() { date +%s%N; }
login() { curl -s -d username=probe -d "password=$1" "$BASE/groups/index.json"; }

echo "== 1. password throttle (SerwerSMS form login)"
start=$(now)
for i in $(seq 10); do login "wrong-$i" >/dev/null; done
checked=$(( ($(now) - start) / 10 ))
start=$(now)
for i in $(seq 10); do login "wrong-again-$i" >/dev/null; done
throttled=$(( ($(now) - start) / 10 ))
echo "right password after 10 failures: $(login probe-password)"
echo "per attempt: checked (argon2) $((checked / 1000)) µs, throttled $((throttled / 1000)) µs, ratio $(( checked / (throttled > 0 ? throttled : 1) ))x"

echo "== 2. ingest quota (200 page views, one address, default 120/min)"
SUID=$(cat /proc/sys/kernel/random/uuid)
BODY="{\"site\":\"$KEY\",\"suid\":\"$SUID\",\"url\":\"https://shop.example.com/\",\"title\":\"t\",\"referrer\":\"\"}"
for _ in $(seq 200); do
    curl -s -o /dev/null -w '%{http_code}\n' -H 'Origin: https://shop.example.com' \
        -H 'Content-Type: text/plain' --data "$BODY" "$BASE/t/pageview"
done | sort | uniq -c

echo "== 3. body deadline (--body-timeout-secs 2; Content-Length 100, 10 bytes sent)"
start=$(now)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /groups/index.json HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=p' >&3
head -n 1 <&3
exec 3<&-
echo "connection held $(( ($(now) - start) / 1000000 )) ms"
