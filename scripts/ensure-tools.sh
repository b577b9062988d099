#!/usr/bin/env bash
# Installs what the build and the tests need, only where it is missing: safe to run every time.
#   scripts/ensure-tools.sh          build tools (wasm32 target, wasm-bindgen-cli, npm packages)
#   scripts/ensure-tools.sh --test   the same, plus Debian's Chromium, nginx, Caddy, wrk and PostgreSQL for the tests
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# `make lint` runs rustfmt and clippy.
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    say "adding the $component component"
    rustup component add "$component"
  fi
done

# wasm-bindgen-cli must match the wasm-bindgen library in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want (found: ${have:-none}); this takes a few minutes once"
  # --locked fails here: one of its locked crates is missing from the registry.
  cargo install wasm-bindgen-cli --version "$want" --force
fi

# npm ci only when package-lock.json changed since the last install.
stamp=node_modules/.portcullis-lock.sha256
sum=$(sha256sum package-lock.json | awk '{ print $1 }')
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
  echo "$sum" > "$stamp"
fi

# Tests drive Chromium, put Debian's nginx and Caddy in front of protected apps (forward auth),
# measure /verify with wrk, and run the store tests and two replicas on a PostgreSQL of their own.
if [ "${1:-}" = "--test" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/nginx ] || [ ! -x /usr/bin/caddy ] || [ ! -x /usr/bin/wrk ] || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then
  say "installing Chromium, nginx, Caddy, wrk and PostgreSQL from Debian"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  # The packages must not start a system nginx, Caddy or PostgreSQL (policy-rc.d exit 101): the tests start their own.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium nginx caddy wrk postgresql
  if [ -n "$made_policy" ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
fi

# The third-party SCIM checkers the integration tests run (PyPI, pinned, in a virtual environment).
if [ "${1:-}" = "--test" ]; then
  scim_venv=target/scim-venv
  if ! "$scim_venv/bin/pip" show scim2-cli 2>/dev/null | grep -qx "Version: 0.6.0" \
    || ! "$scim_venv/bin/pip" show scim-sanity 2>/dev/null | grep -qx "Version: 0.7.4"; then
    say "installing scim2-cli 0.6.0 and scim-sanity 0.7.4 into $scim_venv"
    python3 -m venv "$scim_venv"
    "$scim_venv/bin/pip" install -q --disable-pip-version-check "scim2-cli==0.6.0" "scim-sanity==0.7.4"
  fi
fi
