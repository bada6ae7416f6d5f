#!/usr/bin/env bash
# Installs what the tests need and runs them: formatting, clippy, and the
# whole workspace's tests (unit, property, differential-against-the-host,
# fuzz-harness, end-to-end and native-vs-sysgate tests).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "test.sh: cargo is required (https://rustup.rs)" >&2
    exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# The native-vs-sysgate comparison (tests/native.rs) needs gcc-multilib,
# musl-tools, g++, busybox-static and strace; this installs what is missing
# and builds the C and C++ test programs.
scripts/build-c-tests.sh --install

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked "$@"
