#!/usr/bin/env bash
# Runs every paper config (configs/paper/*.yaml): fetches each dataset, then reproduces it on
# BACKEND (default wgpu; the configs themselves say flex so that they run anywhere).
#
#   scripts/paper.sh [BACKEND] [extra cargo build flags...]
#
# BACKEND: flex (CPU, default build), wgpu (Vulkan/Metal/DX12 GPU; builds offline), or cuda
# (NVIDIA; its build downloads an LLVM bundle, so it needs network access at build time, and an
# NVIDIA driver at run time; see README "GPUs"). The binaries are built with the backend's
# feature into target/release. DRIVE needs `--accept-terms` (or a local copy in
# configs/paper/drive.yaml); it is fetched only if ACCEPT_DRIVE_TERMS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-wgpu}
shift || true
case "$backend" in
  flex) features=() ;;
  wgpu | cuda | ndarray) features=(--features "spiking-unet-cli/$backend") ;;
  *) echo "BACKEND must be flex, wgpu, cuda or ndarray, not '$backend'" >&2; exit 2 ;;
esac
cargo build --release --bins "${features[@]}" "$@"
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
  "$bin/reproduce" --backend "$backend" "$config"
done
