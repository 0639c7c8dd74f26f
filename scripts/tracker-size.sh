#!/usr/bin/env bash
# Prints the bytes a browser downloads for the tracker: what a running resolver sends for
# ssrm.js and ssrm_bg.wasm with `Accept-Encoding: br`, with `gzip` and with neither, and the totals.
# Fails when the brotli total is over 12,288 bytes (12 KB) or the gzip total over 13,824 (13.5 KB).
# Usage: scripts/tracker-size.sh [RESOLVER_BASE_URL]
#   Without a URL it starts target/debug/resolver-server on a free loopback port over a
#   temporary directory (building it if needed) and stops it afterwards. Run
#   scripts/build-tracker.sh first.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
brotli_budget=12288
gzip_budget=13824

base="${1:-}"
if [[ -z "$base" ]]; then
  for file in www/tracker/ssrm.js www/tracker/ssrm_bg.wasm; do
    [[ -f "$file" ]] || { echo "tracker-size: $file is missing; run scripts/build-tracker.sh" >&2; exit 1; }
  done
  cargo build --quiet -p resolver-server
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  data="$(mktemp -d -t ssrm-size.XXXXXX)"
  SSRM_DATA_DIR="$data" SSRM_TRACKER_DIR="$root/www/tracker" RUST_LOG=warn \
    target/debug/resolver-server serve --listen "127.0.0.1:$port" >"$data/server.log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
  base="http://127.0.0.1:$port/"
  for _ in $(seq 100); do
    curl -fso /dev/null "${base}ssrm.js" && break
    kill -0 "$server" 2>/dev/null || { echo "tracker-size: the resolver did not start:" >&2; cat "$data/server.log" >&2; exit 1; }
    sleep 0.1
  done
fi
[[ "$base" == */ ]] || base="$base/"

sent() { # file accept-encoding (empty: none) -> bytes on the wire, after checking Content-Encoding
  local headers bytes encoding
  headers="$(mktemp)"
  # curl drops a header given without a value ("Accept-Encoding:"), and decodes nothing itself.
  bytes="$(curl -fsS -D "$headers" -H "Accept-Encoding:${2:+ $2}" "$base$1" | wc -c)"
  encoding="$(tr -d '\r' <"$headers" | sed -n 's/^content-encoding: *//Ip' | tail -1)"
  rm -f "$headers"
  if [[ "$encoding" != "${2:-identity}" ]]; then
    echo "tracker-size: $1 asked with $2 came with Content-Encoding '${encoding:-none}'" >&2
    exit 1
  fi
  echo "$bytes"
}

printf '%-14s %9s %9s %9s\n' file brotli gzip none
total_br=0 total_gz=0 total_raw=0
for file in ssrm.js ssrm_bg.wasm; do
  br="$(sent "$file" br)"
  gz="$(sent "$file" gzip)"
  raw="$(sent "$file" "")"
  printf '%-14s %9d %9d %9d\n' "$file" "$br" "$gz" "$raw"
  total_br=$((total_br + br)) total_gz=$((total_gz + gz)) total_raw=$((total_raw + raw))
done
printf '%-14s %9d %9d %9d\n' total "$total_br" "$total_gz" "$total_raw"
printf '%-14s %9d %9d\n' budget "$brotli_budget" "$gzip_budget"

if ((total_br > brotli_budget)); then
  echo "tracker-size: the tracker is $total_br bytes with brotli, over the budget of $brotli_budget" >&2
  exit 1
fi
if ((total_gz > gzip_budget)); then
  echo "tracker-size: the tracker is $total_gz bytes with gzip, over the budget of $gzip_budget" >&2
  exit 1
fi
