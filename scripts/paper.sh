#!/usr/bin/env bash
# Runs every paper config (configs/paper/*.yaml): fetches each dataset, then reproduces it.
# GPU-sized: pass the cargo feature of your backend, e.g. `scripts/paper.sh --features cuda`,
# and set `backend:` in the configs accordingly. DRIVE needs `--accept-terms` (or a local copy
# in configs/paper/drive.yaml); it is fetched only if ACCEPT_DRIVE_TERMS=1.
#
#   scripts/paper.sh [cargo build flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins "$@"
bin=target/release
for name in bsd68 cbsd68 set12 bsds500 isbi2012 camseq01; do
  "$bin/datasets" fetch "$name"
done
if [[ "${ACCEPT_DRIVE_TERMS:-0}" == 1 ]]; then
  "$bin/datasets" fetch drive --accept-terms
fi
for config in configs/paper/*.yaml; do
  if [[ "$config" == *drive.yaml && "${ACCEPT_DRIVE_TERMS:-0}" != 1 ]]; then
    echo "skipping $config: set ACCEPT_DRIVE_TERMS=1 after reading \`datasets info drive\`" >&2
    continue
  fi
  "$bin/reproduce" "$config"
done
