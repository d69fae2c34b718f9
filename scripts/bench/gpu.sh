#!/usr/bin/env bash
# GPU benchmark in one command, for a GPU machine that has neither network access nor a Rust
# toolchain: it runs release binaries built elsewhere.
#
#   # on a build machine (the wgpu feature builds offline; see README "GPUs"):
#   cargo build --release --bins --features spiking-unet-cli/wgpu
#   strip target/release/{bench-engine,reproduce,report}
#   # on the GPU machine, in a checkout of this repository (configs/ and datasets/ are read):
#   BIN=path/to/binaries scripts/bench/gpu.sh [BACKEND]     # BACKEND: wgpu (default), flex, ...
#
# It prints the GPU and whether the machine offers a Vulkan driver for it (wgpu needs one on
# Linux: NVIDIA's ships with its driver as nvidia_icd.json; Mesa's lavapipe, a CPU, is
# lvp_icd*.json), then times on BACKEND, for the width-64 U-Net at 256x256 with MT neurons and
# connection-wise normalization at T = 32: an ANN training step, an ANN forward and burn's
# simulation per time step (`bench-engine --backend`), and the quickstart reproduction end to
# end (into runs/gpu-bench and results/gpu-bench-quickstart, so the committed results stay).
# Appends one row to results/bench/gpu.csv (OUT_CSV).
set -euo pipefail
cd "$(dirname "$0")/../.."

BACKEND=${1:-wgpu}
BIN=${BIN:-target/release}
OUT_CSV=${OUT_CSV:-results/bench/gpu.csv}
WIDTH=${WIDTH:-64}
SIZE=${SIZE:-256}
T=${T:-32}
REPEATS=${REPEATS:-3}
QUICKSTART=${QUICKSTART:-1}   # 0 skips the quickstart (hours on a software Vulkan)

for tool in bench-engine reproduce; do
  [[ -x "$BIN/$tool" ]] || { echo "no $BIN/$tool: build the binaries (see the top of $0) and set BIN" >&2; exit 1; }
done

echo "== GPU"
if command -v nvidia-smi >/dev/null; then
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)
  echo "$gpu"
else
  gpu="none (no nvidia-smi)"
  echo "$gpu"
fi

echo "== Vulkan drivers (installable client drivers)"
icds=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null || true)
if [[ -n "$icds" ]]; then
  for icd in $icds; do echo "$icd: $(grep -o '"library_path"[^,}]*' "$icd" || true)"; done
else
  echo "none: no file under /usr/share/vulkan/icd.d or /etc/vulkan/icd.d"
fi
if command -v vulkaninfo >/dev/null; then
  vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverName|driverInfo" || true
fi
if [[ "$BACKEND" == wgpu ]] && ! grep -qs nvidia <<<"$icds"; then
  echo "warning: no NVIDIA Vulkan driver; wgpu will use what is listed above (or fail)" >&2
fi

echo "== $BACKEND: width $WIDTH, ${SIZE}x$SIZE, MT, connection-wise, T = $T"
case_json=$("$BIN/bench-engine" --backend "$BACKEND" --width "$WIDTH" --size "$SIZE" \
  --neuron mt --normalization connection_wise --time-steps "$T" --repeats "$REPEATS")
echo "$case_json"

quickstart_s=
if [[ "$QUICKSTART" == 1 ]]; then
  echo "== quickstart end to end on $BACKEND"
  config=$(mktemp --suffix .yaml)
  trap 'rm -f "$config"' EXIT
  # The same experiment in other folders, so it neither reuses nor overwrites the committed
  # runs and results (the name stays: it labels the tables).
  cp configs/quickstart.yaml "$config"
  sed -i -e 's|^  dir: results/quickstart$|  dir: results/gpu-bench-quickstart|' \
    -e 's|^  summary_file: results/README.md$||' "$config"
  echo "runs_dir: runs/gpu-bench" >> "$config"
  rm -rf runs/gpu-bench results/gpu-bench-quickstart
  start=$(date +%s)
  "$BIN/reproduce" --backend "$BACKEND" "$config"
  quickstart_s=$(( $(date +%s) - start ))
  echo "quickstart: $quickstart_s s"
fi

mkdir -p "$(dirname "$OUT_CSV")"
if [[ ! -f "$OUT_CSV" ]]; then
  echo "date,commit,gpu,backend,device,width,size,time_steps,ann_train_step_s,ann_forward_s,snn_step_s,spikes,quickstart_s" > "$OUT_CSV"
fi
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# bench-engine prints one line of JSON; numbers are bare, the device is a string.
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$case_json"; }
device=$(sed -n 's/.*"device":"\([^"]*\)".*/\1/p' <<<"$case_json")
echo "$(date -u +%F),$commit,\"$gpu\",$BACKEND,\"$device\",$WIDTH,$SIZE,$T,$(field ann_train_step_s),$(field ann_forward_s),$(field snn_step_s),$(field spikes),$quickstart_s" >> "$OUT_CSV"
echo "appended a row to $OUT_CSV"
