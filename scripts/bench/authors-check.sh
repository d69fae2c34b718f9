#!/usr/bin/env bash
# The authors' conversion, checked against a PyTorch twin written from the specification
# (scripts/bench/twin.py, authors-code.md §3.4): `bench-engine --authors` converts a seeded
# random U-Net as `fidelity: authors` does (connection-wise, 99.9th percentile, their off-by-one
# slice) and writes the ANN, its calibration batch and the converted weights; the twin converts
# the same ANN itself and simulates its own conversion. Fails unless the harness's converted
# weights equal the twin's to float rounding (1e-5 of each tensor's largest magnitude) and the
# exact scheme would differ (so the check can fail), and unless the read-outs agree to 1 %.
#
#   scripts/bench/authors-check.sh            # width 16, 64x64, T = 32, MT and IF
#
# Uses the benchmark's venv (torch, numpy, safetensors; see scripts/bench/run.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${BENCH_VENV:-$HOME/.cache/spiking-unet/bench-venv}
if ! "$VENV/bin/python" -c "import torch, numpy, safetensors" 2>/dev/null; then
  echo "installing torch, numpy and safetensors into $VENV (once)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet torch numpy safetensors
fi
cargo build --release --quiet --bin bench-engine
for neuron in mt if-zero; do
  case_dir=runs/bench/authors-w16-64-$neuron
  ./target/release/bench-engine --width 16 --size 64 --neuron "$neuron" --time-steps 32 \
    --repeats 1 --authors --out "$case_dir" >/dev/null
  TWIN=$("$VENV/bin/python" scripts/bench/twin.py "$case_dir" --repeats 1) NEURON=$neuron \
    "$VENV/bin/python" - <<'PY'
import json, os, sys
t = json.loads(os.environ["TWIN"])
print(f'{os.environ["NEURON"]}: weights {t["authors_conversion_weight_difference"]:.2e} from the twin\'s '
      f'(exact scheme: {t["exact_scheme_weight_difference"]:.2e}), read-out '
      f'{t["authors_conversion_readout_relative_difference"]:.2e}')
if not (t["authors_conversion_weight_difference"] < 1e-5 < t["exact_scheme_weight_difference"]):
    sys.exit("the harness's authors conversion differs from the twin's")
if t["authors_conversion_readout_relative_difference"] > 1e-2:
    sys.exit("the read-out of the twin's conversion differs from the harness's by more than 1 %")
PY
done
