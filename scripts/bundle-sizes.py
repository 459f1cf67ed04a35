#!/usr/bin/env python3
"""What each page of a built site makes the browser download, gzip -9 per file.

Usage: bundle-sizes.py PKG_DIR [--budget BYTES]

A page's total is the main module, its JS, the split loader and every chunk the split
manifest lists for the page's route. With --budget, exits 1 when a page is over it.
"""
import gzip
import json
import os
import sys


def main() -> int:
    args = sys.argv[1:]
    budget = None
    if "--budget" in args:
        at = args.index("--budget")
        budget = int(args[at + 1])
        del args[at : at + 2]
    (pkg,) = args

    def raw(name: str) -> int:
        return os.path.getsize(os.path.join(pkg, name))

    def gz(name: str) -> int:
        with open(os.path.join(pkg, name), "rb") as f:
            return len(gzip.compress(f.read(), 9))

    loader = next(f for f in os.listdir(pkg) if f.startswith("__wasm_split.") and f.endswith(".js"))
    base_gz = sum(gz(f) for f in ["quantshift.wasm", "quantshift.js", loader])
    print(f"main module: quantshift.wasm {raw('quantshift.wasm')} B raw, {gz('quantshift.wasm')} B gzip; "
          f"JS {gz('quantshift.js') + gz(loader)} B gzip")
    print(f"{'page':<22}{'chunks gzip':>12}{'page total gzip':>17}")
    print(f"{'(every page)':<22}{0:>12}{base_gz:>17}")
    with open(os.path.join(pkg, "__wasm_split_manifest.json")) as f:
        manifest = json.load(f)
    worst, over = base_gz, []
    for name, chunks in sorted(manifest.items()):
        route = name.strip("_").rsplit("_view", 1)[0]
        size = sum(gz(c + ".wasm") for c in chunks)
        worst = max(worst, base_gz + size)
        if budget is not None and base_gz + size > budget:
            over.append(route)
        print(f"{route:<22}{size:>12}{base_gz + size:>17}")
    every = [f for f in os.listdir(pkg) if f.endswith(".wasm")]
    print(f"all WebAssembly files together: {sum(raw(f) for f in every)} B raw, "
          f"{sum(gz(f) for f in every)} B gzip")
    print(f"largest page total: {worst} B gzip (goal: 500000)")
    if budget is not None and (over or base_gz > budget):
        print(f"over the {budget} B budget: {', '.join(over) or 'every page'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
