#!/usr/bin/env bash
# Installs what the tests need and runs them: formatting, clippy, and the
# whole workspace's tests (unit, property, differential-against-the-host,
# fuzz-harness and end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "test.sh: cargo is required (https://rustup.rs)" >&2
    exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked "$@"
