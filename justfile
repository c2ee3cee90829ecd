# Everyday commands. README's two commands work without `just`.
set dotenv-load := false
export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") + "/.cache/pitwall-target")

# Run the demo (SQLite, in-process workers, demo data).
run:
    cargo run --release -p pitwall -- demo

# Serve without demo data.
serve:
    cargo run -p pitwall -- serve

# All tests; PostgreSQL tests run when it is reachable.
test:
    cargo test --workspace

# Tests with PostgreSQL required (as CI runs them).
test-pg:
    PITWALL_REQUIRE_PG=1 cargo test --workspace

# The browser test (needs Debian chromium).
test-browser:
    cargo build -p pitwall -p pitwall-testkit --bins
    cd tests/browser && npm ci --no-audit --no-fund
    PITWALL_BIN=$CARGO_TARGET_DIR/debug/pitwall node tests/browser/invite.mjs
    PITWALL_BIN=$CARGO_TARGET_DIR/debug/pitwall node tests/browser/dashboard.mjs
    PITWALL_BIN=$CARGO_TARGET_DIR/debug/pitwall node tests/browser/messages.mjs
    PITWALL_BIN=$CARGO_TARGET_DIR/debug/pitwall node tests/browser/approvals.mjs
    PITWALL_BIN=$CARGO_TARGET_DIR/debug/pitwall node tests/browser/billing.mjs
    PITWALL_BIN=$CARGO_TARGET_DIR/debug/pitwall node tests/browser/inspection.mjs
    PITWALL_BIN=$CARGO_TARGET_DIR/debug/pitwall node tests/browser/workflow.mjs
    PITWALL_BIN=$CARGO_TARGET_DIR/debug/pitwall node tests/browser/payments.mjs

# The browser tests on PostgreSQL (PITWALL_TEST_PG), the customer in Spanish.
test-browser-pg:
    cargo build -p pitwall -p pitwall-testkit --bins
    cd tests/browser && npm ci --no-audit --no-fund
    for t in invite dashboard messages approvals billing inspection workflow payments; do PITWALL_BROWSER_DB=postgres PITWALL_BROWSER_LOCALE=es PITWALL_BIN=$CARGO_TARGET_DIR/debug/pitwall node tests/browser/$t.mjs || exit 1; done

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# Benchmarks, each against its baseline (docs/BENCHMARKS.md).
bench:
    cargo build --release -p pitwall
    cd tests/bench/graphile && npm ci --no-audit --no-fund
    cargo run --release -p pitwall-bench

# Regenerate the committed OpenAPI document.
openapi:
    cargo run -q -p pitwall -- openapi > openapi/pitwall.json

# Everything CI runs.
ci:
    bash .ci/run
