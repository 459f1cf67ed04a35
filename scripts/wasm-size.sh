#!/usr/bin/env bash
# Measures the release WebAssembly bundle the browser downloads: the `frontend` crate built
# with the `wasm-release` profile (opt-level z, LTO), run through wasm-bindgen and
# `wasm-opt -Oz` (binaryen from npm), as `cargo leptos build --release` does. Prints the raw
# and gzip (-9) sizes of the .wasm and the JS glue. Goal: at most 500 KB gzip.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cargo build --locked -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name quantshift \
  "$target/wasm32-unknown-unknown/wasm-release/frontend.wasm"
if [ ! -x end2end/node_modules/.bin/wasm-opt ]; then
  (cd end2end && npm install --no-save --no-audit --no-fund binaryen@132.0.0 >/dev/null)
fi
end2end/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  "$out/quantshift_bg.wasm" -o "$out/quantshift_bg.opt.wasm"

size() { stat -c %s "$1"; }
gz() { gzip -9 -c "$1" | wc -c; }
wasm="$out/quantshift_bg.opt.wasm"
js="$out/quantshift.js"
printf 'wasm (wasm-opt -Oz): %s bytes raw, %s bytes gzip\n' "$(size "$wasm")" "$(gz "$wasm")"
printf 'js glue:             %s bytes raw, %s bytes gzip\n' "$(size "$js")" "$(gz "$js")"
printf 'total gzip:          %s bytes\n' $(( $(gz "$wasm") + $(gz "$js") ))
