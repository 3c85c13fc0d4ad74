#!/usr/bin/env bash
# The project's test command: formatting, lints, then every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
