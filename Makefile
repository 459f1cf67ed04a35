# QuantShift's two commands. Both install what they need first (idempotently).
#   make run   builds and starts QuantShift at http://127.0.0.1:3000 on the embedded defaults
#   make test  runs the whole test suite (what CI runs)
.PHONY: run test tools check release

run: tools
	cargo leptos serve --split

test:
	bash scripts/test.sh

tools:
	bash scripts/install-tools.sh

# A fast compile check of both builds, for the edit loop.
check:
	cargo check -p server --tests
	cargo check -p frontend --target wasm32-unknown-unknown

# The release build production serves (target/release/quantshift and target/site).
release: tools
	bash scripts/release.sh
