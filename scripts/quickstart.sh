#!/usr/bin/env bash
# The README's main job: train, convert, fine-tune and evaluate both quickstart experiments on
# the embedded data. Safe to interrupt: rerunning resumes every stage where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --bin reproduce -- configs/quickstart.yaml
