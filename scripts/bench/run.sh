#!/usr/bin/env bash
# Side-by-side benchmark: the harness's spiking inference engine against a PyTorch twin
# (scripts/bench/twin.py) on the same weights and input, in one run.
#
#   scripts/bench/run.sh                       # width 64, 256x256, T = 32, MT and IF, connection-wise
#   WIDTH=16 SIZE=128 T=16 scripts/bench/run.sh
#
# Installs torch, numpy and safetensors into a throwaway venv if it is not there yet
# (BENCH_VENV, default ~/.cache/spiking-unet/bench-venv; about 5 GB, from PyPI), builds the
# `bench-engine` binary, and for each neuron: writes the case (bench-engine), times the engine,
# runs the twin (its total spike count must be within 1e-4 of the harness's; the read-out
# difference is recorded), and prints seconds per
# step, the ANN forward times and the ratios. Appends one row per neuron to
# results/bench/side-by-side.csv (OUT_CSV). Run it with nothing else running: the ratios are what
# count, but two processes fighting for 2 cores distort even those.
set -euo pipefail
cd "$(dirname "$0")/../.."

WIDTH=${WIDTH:-64}
SIZE=${SIZE:-256}
T=${T:-32}
NEURONS=${NEURONS:-"mt if-zero"}
NORMALIZATION=${NORMALIZATION:-connection_wise}
REPEATS=${REPEATS:-3}
VENV=${BENCH_VENV:-$HOME/.cache/spiking-unet/bench-venv}
OUT_CSV=${OUT_CSV:-results/bench/side-by-side.csv}
CASES=${CASES:-runs/bench}

if ! "$VENV/bin/python" -c "import torch, numpy, safetensors" 2>/dev/null; then
  echo "installing torch, numpy and safetensors into $VENV (once)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet torch numpy safetensors
fi
cargo build --release --quiet --bin bench-engine

mkdir -p "$(dirname "$OUT_CSV")"
if [ ! -f "$OUT_CSV" ]; then
  echo "date,commit,cpu,threads,width,size,neuron,normalization,time_steps,harness_step_s,harness_ann_s,torch_ann_s,twin_step_s,step_over_torch_ann,step_over_twin,harness_ann_over_torch_ann,readout_relative_difference,spike_relative_difference,harness_spikes,twin_spikes,simulation_peak_rss_mib" > "$OUT_CSV"
fi
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo -dirty)

for neuron in $NEURONS; do
  case_dir="$CASES/w$WIDTH-$SIZE-$neuron-$NORMALIZATION-T$T"
  harness=$(./target/release/bench-engine --width "$WIDTH" --size "$SIZE" --neuron "$neuron" \
    --normalization "$NORMALIZATION" --time-steps "$T" --repeats "$REPEATS" --out "$case_dir")
  twin=$("$VENV/bin/python" scripts/bench/twin.py "$case_dir" --repeats "$REPEATS")
  HARNESS="$harness" TWIN="$twin" CPU="$cpu" COMMIT="$commit" WIDTH="$WIDTH" SIZE="$SIZE" \
  NEURON="$neuron" NORMALIZATION="$NORMALIZATION" T="$T" OUT_CSV="$OUT_CSV" "$VENV/bin/python" - <<'EOF'
import datetime, json, os, sys
h, t = json.loads(os.environ["HARNESS"]), json.loads(os.environ["TWIN"])
# Both sum each conv in their own order, so a membrane within a few ulps of a threshold fires a
# step apart now and then (harness/core/src/engine/tests.rs); the spike totals must agree to 1e-4.
spike_difference = abs(h["spikes"] - t["spikes"]) / max(t["spikes"], 1.0)
if spike_difference > 1e-4:
    sys.exit(f"the twin's spike count differs from the harness's by {spike_difference:.2e} (> 1e-4)")
row = {
    "date": datetime.date.today().isoformat(), "commit": os.environ["COMMIT"], "cpu": os.environ["CPU"],
    "threads": h["threads"], "width": os.environ["WIDTH"], "size": os.environ["SIZE"],
    "neuron": os.environ["NEURON"], "normalization": os.environ["NORMALIZATION"], "time_steps": os.environ["T"],
    "harness_step_s": h["snn_step_s"], "harness_ann_s": h["ann_forward_s"],
    "torch_ann_s": t["ann_forward_s"], "twin_step_s": t["snn_step_s"],
    "step_over_torch_ann": h["snn_step_s"] / t["ann_forward_s"],
    "step_over_twin": h["snn_step_s"] / t["snn_step_s"],
    "harness_ann_over_torch_ann": h["ann_forward_s"] / t["ann_forward_s"],
    "readout_relative_difference": t["readout_relative_difference"],
    "spike_relative_difference": spike_difference,
    "harness_spikes": h["spikes"], "twin_spikes": t["spikes"],
    "simulation_peak_rss_mib": h["simulation_peak_rss_mib"],
}
with open(os.environ["OUT_CSV"], "a") as f:
    f.write(",".join(str(row[k]).replace(",", " ") for k in row) + "\n")
print(f"{row['neuron']:>9} w{row['width']} {row['size']}² T={row['time_steps']}: "
      f"harness {row['harness_step_s']:.3f} s/step, twin {row['twin_step_s']:.3f} s/step, "
      f"torch ANN {row['torch_ann_s']:.3f} s, harness ANN {row['harness_ann_s']:.3f} s | "
      f"step/torch-ANN {row['step_over_torch_ann']:.2f}x, step/twin {row['step_over_twin']:.2f}x | "
      f"spikes diff {row['spike_relative_difference']:.1e}, read-out diff {row['readout_relative_difference']:.1e}, peak RSS {row['simulation_peak_rss_mib']:.0f} MiB")
EOF
done
echo "rows appended to $OUT_CSV"
