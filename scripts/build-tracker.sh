#!/usr/bin/env bash
# Builds the browser tracker (tracker-wasm) into the files the resolver serves from www/tracker/:
#   ssrm.js       the classic script sites load: tracker-wasm/loader/ssrm.js with wasm-bindgen's
#                 no-modules glue pasted in (one function around both, so no global but _ssrm),
#                 minified with terser
#   ssrm_bg.wasm  the module, after wasm-bindgen and `wasm-opt -Oz`
#   *.br, *.gz    each of the two precompressed (brotli -q 11, zopfli), served as they are
# Installs what is missing (Debian packages via scripts/prerequisites.sh, wasm32 target, wasm-bindgen-cli at the exact version in Cargo.lock,
# wasm-opt and terser). Quick when nothing changed: it skips wasm-bindgen and wasm-opt when the compiled module
# is the one it already processed, and rewrites a served file only when its bytes change.
# Usage: scripts/build-tracker.sh   (then scripts/tracker-size.sh)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="target/tracker" # not target/: a tracker build must not wait for the server's builds
work="$target_dir/bundle"
out="www/tracker"
loader="tracker-wasm/loader/ssrm.js"

# --- prerequisites -------------------------------------------------------------------------------
scripts/prerequisites.sh build # node, npm, gzip, brotli, zopfli
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [[ -z "$bindgen_version" ]]; then
  echo "build-tracker: no wasm-bindgen in Cargo.lock; run 'cargo generate-lockfile' first" >&2
  exit 1
fi
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $bindgen_version" ]]; then
  # --locked first; its lockfile can name a dependency version the registry index no longer
  # offers (seen with 0.2.130), and then a fresh resolution is the only way to install it.
  cargo install wasm-bindgen-cli --version "$bindgen_version" --locked \
    || cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

# wasm-opt and terser come from the npm registry, pinned, into target/tracker/tools. Debian 12's
# binaryen (108) is too old for wasm-bindgen's externref table: it points the export of
# `__wbindgen_externrefs` at the funcref table, and the module then fails to start in the browser
# ("WebAssembly.Table.set(): Argument 1 is invalid").
binaryen_version="132.0.0"
terser_version="5.51.2"
tools="$target_dir/tools/node_modules"
wasm_opt="$tools/.bin/wasm-opt"
terser="$tools/.bin/terser"
installed() { # package version
  [[ "$(node -p "require('./$tools/$1/package.json').version" 2>/dev/null || true)" == "$2" ]]
}
if ! installed binaryen "$binaryen_version" || ! installed terser "$terser_version"; then
  npm install --no-save --no-audit --no-fund --prefix "$target_dir/tools" \
    "binaryen@$binaryen_version" "terser@$terser_version"
fi

# --- build ---------------------------------------------------------------------------------------
# The wasm-release profile keeps the target_features section wasm-bindgen reads; wasm-opt strips later.
cargo build --quiet -p tracker-wasm \
  --profile wasm-release --target wasm32-unknown-unknown --target-dir "$target_dir"
compiled="$target_dir/wasm32-unknown-unknown/wasm-release/tracker_wasm.wasm"

mkdir -p "$work" "$out"
stamp="$(cat "$compiled" "$loader" tracker-wasm/loader/bundle.cjs "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"
stamp="$stamp $bindgen_version $binaryen_version $terser_version"
if [[ ! -f "$work/stamp" || "$(cat "$work/stamp")" != "$stamp" ]]; then
  rm -rf "$work/bindgen"
  wasm-bindgen --target no-modules --no-typescript --out-dir "$work/bindgen" --out-name ssrm "$compiled"
  # Short import and export names (the map goes to bundle.cjs, which renames them in the glue).
  "$wasm_opt" -Oz --strip-debug --strip-producers --strip-target-features --minify-imports-and-exports-and-modules \
    "$work/bindgen/ssrm_bg.wasm" -o "$work/ssrm_bg.wasm" >"$work/names.json"
  node tracker-wasm/loader/bundle.cjs "$loader" "$work/bindgen/ssrm.js" "$work/names.json" \
    "$work/ssrm_bg.wasm" "$work"
  # Properties are never mangled: the glue's imports object must keep the names the module asks for.
  minify=(--compress passes=2 --mangle --ecma 2017)
  "$terser" "$work/ssrm.full.js" "${minify[@]}" -o "$work/ssrm.js"
  # Each part minified alone, only for scripts/tracker-size.sh.
  "$terser" "$work/glue.js" "${minify[@]}" -o "$work/glue.min.js"
  grep -v -F '/*GLUE*/' "$loader" | "$terser" "${minify[@]}" -o "$work/loader.min.js"
  node --check "$work/ssrm.js" # a syntax error here would break every site's page load
  echo "$stamp" >"$work/stamp"
fi

# Each served file with its precompressed forms beside it: the resolver sends these bytes as they
# are (by Accept-Encoding) and compresses nothing of the tracker on the fly. Brotli quality 11 and
# zopfli (gzip format, ~5% smaller than gzip -9) are too slow to run per request, not per build.
for file in ssrm.js ssrm_bg.wasm; do
  if ! cmp -s "$work/$file" "$out/$file" || [[ ! -f "$out/$file.br" || ! -f "$out/$file.gz" ]]; then
    brotli --quality=11 --force --output="$out/$file.br.tmp" "$work/$file"
    zopfli --i100 -c "$work/$file" >"$out/$file.gz.tmp"
    cp "$work/$file" "$out/$file.tmp"
    # The compressed forms first: a server never sees a new file with an old .br beside it for long.
    mv "$out/$file.br.tmp" "$out/$file.br"
    mv "$out/$file.gz.tmp" "$out/$file.gz"
    mv "$out/$file.tmp" "$out/$file"
    echo "build-tracker: wrote $out/$file (.br, .gz)"
  fi
done
