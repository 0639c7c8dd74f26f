#!/usr/bin/env bash
# Prints the size of the browser tracker, raw and gzip -9, one row per part and the total a
# visitor downloads. Run scripts/build-tracker.sh first. Budget: total gzip <= 15 KB.
# "loader" and "glue" are the two parts of the served ssrm.js, each minified alone, to see which
# one grew; ssrm.js is both minified together.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="target/tracker/bundle"
out="www/tracker"
for file in "$work/loader.min.js" "$work/glue.min.js" "$out/ssrm.js" "$out/ssrm_bg.wasm"; do
  if [[ ! -f "$file" ]]; then
    echo "tracker-size: $file is missing; run scripts/build-tracker.sh" >&2
    exit 1
  fi
done

row() { # label file
  printf '%-22s %9d %9d\n' "$1" "$(wc -c <"$2")" "$(gzip -9c "$2" | wc -c)"
}
printf '%-22s %9s %9s\n' part raw gzip
row "loader" "$work/loader.min.js"
row "glue" "$work/glue.min.js"
row "ssrm.js (served)" "$out/ssrm.js"
row "ssrm_bg.wasm (served)" "$out/ssrm_bg.wasm"
total_raw=$(($(wc -c <"$out/ssrm.js") + $(wc -c <"$out/ssrm_bg.wasm")))
total_gzip=$(($(gzip -9c "$out/ssrm.js" | wc -c) + $(gzip -9c "$out/ssrm_bg.wasm" | wc -c)))
printf '%-22s %9d %9d\n' "total (served)" "$total_raw" "$total_gzip"
