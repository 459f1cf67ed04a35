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

python3 - "$out/site/pkg" <<'EOF'
import gzip, json, os, sys

pkg = sys.argv[1]
def raw(name): return os.path.getsize(os.path.join(pkg, name))
def gz(name):
    with open(os.path.join(pkg, name), "rb") as f:
        return len(gzip.compress(f.read(), 9))

loader = next(f for f in os.listdir(pkg) if f.startswith("__wasm_split.") and f.endswith(".js"))
base = ["quantshift.wasm", "quantshift.js", loader]
base_gz = sum(gz(f) for f in base)
print(f"main module: quantshift.wasm {raw('quantshift.wasm')} B raw, {gz('quantshift.wasm')} B gzip; "
      f"JS {gz('quantshift.js') + gz(loader)} B gzip")
print(f"{'page':<22}{'chunks gzip':>12}{'page total gzip':>17}")
print(f"{'(every page)':<22}{0:>12}{base_gz:>17}")
manifest = json.load(open(os.path.join(pkg, "__wasm_split_manifest.json")))
worst = base_gz
for name, chunks in sorted(manifest.items()):
    route = name.strip("_").rsplit("_view", 1)[0]
    size = sum(gz(c + ".wasm") for c in chunks)
    worst = max(worst, base_gz + size)
    print(f"{route:<22}{size:>12}{base_gz + size:>17}")
every = [f for f in os.listdir(pkg) if f.endswith(".wasm")]
print(f"all WebAssembly files together: {sum(raw(f) for f in every)} B raw, {sum(gz(f) for f in every)} B gzip")
print(f"largest page total: {worst} B gzip (goal: 500000)")
EOF
