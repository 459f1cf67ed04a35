#!/usr/bin/env bash
# The release build: `target/release/quantshift` and the site it serves in `target/site`
# (extra arguments go to cargo-leptos, e.g. --frontend-only). This is the build production
# runs and the one scripts/wasm-size.sh measures.
#
# The browser's WebAssembly is built with the standard library recompiled for it
# (-Zbuild-std, from the toolchain's rust-src component, with core's size-optimised
# algorithms) and with panics that abort at once (-Cpanic=immediate-abort) without source
# locations (-Zlocation-detail=none), so no panic message formatting is linked into the
# bundle; MIR inlining is off (-Zinline-mir=no), which LLVM's size optimisation then does
# better without. Together: every page 47–82 KB gzip smaller (BENCHMARKS.md). These are
# unstable options of the pinned stable toolchain, enabled for this build with
# RUSTC_BOOTSTRAP=1, and they apply to the wasm32 target only: the server binary builds as
# usual. A panic in the browser then shows as "unreachable executed" without its message;
# debug builds (`make run`, the test suite) keep the prebuilt standard library and
# readable panics.
set -euo pipefail
cd "$(dirname "$0")/.."

# -Zbuild-std needs the standard library's source (rustup does not add components by
# itself here: RUSTUP_AUTO_INSTALL=0).
rustup component add rust-src >/dev/null 2>&1 || rustup component add rust-src
# cargo-leptos runs wasm-opt on release builds and would download binaryen from GitHub
# unless one is on PATH: use npm's, pinned.
if [ ! -x end2end/node_modules/.bin/wasm-opt ]; then
  (cd end2end && npm install --no-save --no-audit --no-fund binaryen@132.0.0 >/dev/null)
fi
export PATH="$PWD/end2end/node_modules/.bin:$PATH"
# The browser code first, with the unstable options; then, unless only the browser code
# was asked for, the server in a separate run without them: RUSTC_BOOTSTRAP would also make
# some dependencies' build scripts (anyhow, proc-macro2) switch on nightly-only code.
# .cargo/config.toml's [build] rustflags do not apply once a target has its own list, so
# erase_components is repeated here.
frontend_only=false
args=()
for arg in "$@"; do
  if [ "$arg" = --frontend-only ]; then frontend_only=true; else args+=("$arg"); fi
done
RUSTC_BOOTSTRAP=1 \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--cfg erase_components -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zinline-mir=no" \
  cargo leptos build --release --split --frontend-only \
  --lib-cargo-args=-Zbuild-std=std,panic_abort \
  --lib-cargo-args=-Zbuild-std-features=optimize_for_size "${args[@]}"
# One more binaryen pass over every module, run here rather than through cargo-leptos
# (which passes wasm-opt's flags as an unordered set, so their order would vary from build
# to build): functions that differ only in constants merge into one, then -Oz again.
# About 1.3 KB gzip off the largest page (BENCHMARKS.md); the release Playwright pass runs
# on its output.
shopt -s nullglob
modules=("${LEPTOS_SITE_ROOT:-target/site}"/pkg/*.wasm)
if [ ${#modules[@]} -eq 0 ]; then
  echo "release.sh: no WebAssembly in ${LEPTOS_SITE_ROOT:-target/site}/pkg" >&2
  exit 1
fi
for wasm in "${modules[@]}"; do
  wasm-opt --enable-bulk-memory --enable-nontrapping-float-to-int \
    --merge-similar-functions -Oz "$wasm" -o "$wasm"
done
if [ "$frontend_only" = false ]; then
  cargo leptos build --release --split --server-only "${args[@]}"
fi
