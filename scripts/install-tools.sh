#!/usr/bin/env bash
# Installs the build prerequisites QuantShift needs, idempotently: the wasm32 target,
# wasm-bindgen-cli pinned to the crate version in Cargo.lock, and cargo-leptos 0.3.11.
# Usage: scripts/install-tools.sh [--test]   (--test also installs Chromium and end2end's npm deps)
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130
CARGO_LEPTOS_VERSION=0.3.11

log() { printf '==> %s\n' "$*" >&2; }

# Both tools are build-time helpers whose own speed hardly matters, and their release
# profiles ask for fat LTO in one codegen unit: about half of cargo-leptos's 20 minutes went
# into its last crate. Installed here with thin-local LTO and parallel codegen instead.
tool_profile=(env CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16)

need_apt=()
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
# The test suite's bundle budget and scripts/wasm-size.sh measure with Python.
command -v python3 >/dev/null || need_apt+=(python3)
[ -e /usr/include/openssl/ssl.h ] || need_apt+=(libssl-dev)
if [ "${1:-}" = "--test" ] && [ ! -x /usr/bin/chromium ]; then need_apt+=(chromium); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# rust-toolchain.toml names the toolchain and the wasm target; rustup may not install them
# by itself (RUSTUP_AUTO_INSTALL=0 here), so they are added explicitly.
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown
# The release build recompiles the standard library for the browser (scripts/release.sh).
rustup component add rust-src >/dev/null 2>&1 || rustup component add rust-src

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  # --locked fails for this release (its lock names a webpki-roots the registry lacks).
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 10 CPU-minutes, once)"
  "${tool_profile[@]}" cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
  # The published lock needs rustc 1.96 through cargo-util-schemas 0.14.2; pin 0.14.1 instead.
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (tens of CPU-minutes, once)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && cargo new --quiet fetcher && cd fetcher \
    && printf 'cargo-leptos = "=%s"\n' "$CARGO_LEPTOS_VERSION" >>Cargo.toml \
    && cargo fetch --quiet 2>/dev/null || true)
  src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cargo-leptos-"$CARGO_LEPTOS_VERSION" 2>/dev/null | head -n1 || true)
  if [ -z "$src" ]; then
    # A failed `cargo install` still unpacks the source; that is the fallback way to get it.
    cargo install --locked cargo-leptos --version "$CARGO_LEPTOS_VERSION" >/dev/null 2>&1 || true
    src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cargo-leptos-"$CARGO_LEPTOS_VERSION" | head -n1)
  fi
  cp -r "$src" "$work/cargo-leptos"
  (cd "$work/cargo-leptos" && cargo update --quiet -p cargo-util-schemas --precise 0.14.1)
  # no_downloads: a build must never fetch wasm-opt, sass or wasm-bindgen from the network;
  # they come from PATH (wasm-bindgen above, wasm-opt from npm in scripts/release.sh; the
  # style sheet is plain CSS, so no sass).
  "${tool_profile[@]}" cargo install --locked --features no_downloads --path "$work/cargo-leptos"
fi

if [ "${1:-}" = "--test" ]; then
  if [ ! -d end2end/node_modules/@playwright/test ]; then
    log "npm ci in end2end (browser download skipped: Debian's chromium is used)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
fi
log "tools ready"
