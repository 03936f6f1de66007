# serin developer commands. `make demo` and `make test` are all a fresh
# machine needs (with the prerequisites that .ci/run installs).
.PHONY: all build generate test test-unit test-e2e lint fmt demo bench cluster-up cluster-down cluster-status clean

all: build

build:
	cargo build --workspace

## Regenerates crds/ (and the chart's copy) from the Rust types; tests fail when either drifts.
generate:
	cargo run --quiet --bin serin -- crd --out-dir crds
	cp crds/*.yaml charts/serin/crds/

## Everything CI runs: lints, unit tests, then e2e tests on the local control plane.
test: lint test-unit test-e2e

test-unit:
	cargo test --workspace --lib --bins --tests --exclude serin-e2e

test-e2e:
	e2e/cluster-lifecycle-test.sh
	e2e/run.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

## Starts the local environment (control plane, fake nodes, Prometheus) and serin, then rolls out
## examples/gatewayapi and a bad version live. `make test-e2e` runs it unattended (e2e/tests/demo.rs).
demo:
	e2e/demo.sh

## The scale benchmark (not a test): N = 100, 1,000, 5,000 Canaries rolling out at once; see e2e/README.md.
bench:
	e2e/bench.sh $(N)

cluster-up:
	e2e/cluster.sh up

cluster-down:
	e2e/cluster.sh down

cluster-status:
	e2e/cluster.sh status

clean:
	cargo clean

## Runs every cargo-fuzz target for FUZZ_SECONDS each (nightly, or stable with RUSTC_BOOTSTRAP=1); see fuzz/run.sh.
.PHONY: fuzz
FUZZ_SECONDS ?= 60
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)
