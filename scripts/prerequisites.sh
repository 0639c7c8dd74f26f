#!/usr/bin/env bash
# Installs the Debian packages a command of this repository needs, when they are missing, so the
# README's two commands work on a fresh Debian machine with Rust. Called by build-tracker.sh
# (build), run.sh (run) and test.sh (test); each list includes the one before it.
# When a package is missing and cannot be installed (not root and no password-less sudo, no
# apt-get, no network), it stops at once with one line saying what to install.
# Usage: scripts/prerequisites.sh build|run|test
set -euo pipefail

# One entry per package: "debian-package|shell condition that holds when it is there".
build_packages=(
  "nodejs|command -v node"
  "npm|command -v npm"
  "gzip|command -v gzip"
  "brotli|command -v brotli"
  "zopfli|command -v zopfli"
)
run_packages=(
  "${build_packages[@]}"
  "curl|command -v curl"
)
test_packages=(
  "${run_packages[@]}"
  "chromium|command -v chromium"
  "chromium-driver|command -v chromedriver"
  "python3-venv|python3 -c 'import venv, ensurepip' 2>/dev/null"
  "postgresql|ls /usr/lib/postgresql/*/bin/initdb"
)

case "${1:-}" in
  build) wanted=("${build_packages[@]}") ;;
  run) wanted=("${run_packages[@]}") ;;
  test) wanted=("${test_packages[@]}") ;;
  *)
    echo "usage: scripts/prerequisites.sh build|run|test" >&2
    exit 2
    ;;
esac

missing=()
for entry in "${wanted[@]}"; do
  package="${entry%%|*}"
  condition="${entry#*|}"
  if ! (eval "$condition") >/dev/null 2>&1; then
    missing+=("$package")
  fi
done
((${#missing[@]})) || exit 0

cannot() { # reason
  echo "prerequisites: $1; install them first: apt-get install ${missing[*]}" >&2
  exit 1
}

if [[ "$(id -u)" == 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  cannot "missing ${missing[*]}, and not root (no password-less sudo) to install them"
fi
command -v apt-get >/dev/null 2>&1 || cannot "missing ${missing[*]}, and no apt-get here"

echo "prerequisites: installing ${missing[*]}" >&2
log="$(mktemp -t ssrm-apt.XXXXXX)"
if ! { "${as_root[@]}" apt-get update -qq &&
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
  cannot "apt-get could not install ${missing[*]} (no network? see $log)"
fi
rm -f "$log"
