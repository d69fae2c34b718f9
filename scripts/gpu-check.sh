#!/usr/bin/env bash
# Runs configs/gpu-check.yaml on flex and on BACKEND (default wgpu) and compares the two sets of
# tables within results/gpu-check/tolerance.yaml (the quickstart's): the end-to-end check of a
# GPU backend through train, convert, fine-tune, evaluate and report.
#
#   scripts/gpu-check.sh [BACKEND]
#
# Builds the binaries with the backend's feature (into target/release), unless BIN names a folder
# of binaries built that way already. Results go to
# results/gpu-check/flex and results/gpu-check/BACKEND. On a machine without a GPU, install
# Mesa's lavapipe first (`apt-get install mesa-vulkan-drivers`).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-wgpu}
if [[ -z "${BIN:-}" ]]; then
  cargo build --release --bins --features "spiking-unet-cli/$backend"
fi
bin=${BIN:-target/release}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
configs=$(mktemp -d)
trap 'rm -rf "$configs"' EXIT
for run in flex "$backend"; do
  # The same experiment (name, seed, settings); only the results folder differs. Artifacts
  # are keyed by backend, so the two runs share runs/gpu-check without mixing.
  cp configs/gpu-check.yaml "$configs/$run.yaml"
  printf 'report:\n  dir: results/gpu-check/%s\n' "$run" >> "$configs/$run.yaml"
  start=$(date +%s)
  "$bin/reproduce" --backend "$run" "$configs/$run.yaml"
  echo "$run: $(( $(date +%s) - start )) s"
done
"$bin/report" "$configs/$backend.yaml" --compare-to results/gpu-check/flex \
  --tolerance results/gpu-check/tolerance.yaml
