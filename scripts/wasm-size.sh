#!/usr/bin/env bash
# Measures the release WebAssembly the browser downloads, as scripts/release.sh builds it
# (see there): the `frontend` crate built with the `wasm-release` profile (opt-level z, fat
# LTO, one codegen unit) and the standard library rebuilt with it, cut into a main module
# plus one chunk set per lazy route, run through wasm-bindgen and `wasm-opt -Oz` (binaryen
# from npm). Prints gzip (-9) sizes: the main module and its JS (every page), and
# for each lazy route the main module plus every chunk that route loads (from the split
# manifest). Goal from the subscriber UI issue: at most 500 KB gzip.
# The site is built into a temporary directory; target/site is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

LEPTOS_SITE_ROOT="$out/site" bash scripts/release.sh --frontend-only >&2

python3 scripts/bundle-sizes.py "$out/site/pkg"
