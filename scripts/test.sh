#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what is missing
# (Dovecot, Postfix, PostgreSQL, Chromium, LibreOffice), starts PostgreSQL,
# then runs formatting, lints and every test. Mail servers and the browser are
# started by the tests themselves on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
SOS_TEST_POSTGRES_URL=$(bash scripts/start-postgres.sh)
export SOS_TEST_POSTGRES_URL
echo "PostgreSQL for tests: $SOS_TEST_POSTGRES_URL"

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --no-fail-fast
# The fuzz targets are a separate crate that `cargo test` does not build;
# check that they still compile against the library, so a change of its API
# cannot silently leave them behind (running them needs cargo-fuzz).
CARGO_TARGET_DIR=target/fuzz-check cargo check --locked --manifest-path fuzz/Cargo.toml --bins
