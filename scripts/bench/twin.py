"""PyTorch twin of the harness's spiking U-Net simulation, for side-by-side timing.

Written from ../shared/reference/authors-code.md (§1 model, §2 neurons, §3.7 coding, §4.2
simulation loop), but with an efficient neuron: the authors index membranes with boolean masks;
this twin uses `torch.where`-style arithmetic (compare, multiply, subtract) on whole tensors, which
is what a careful PyTorch user would write. Everything else follows the authors' loop: conv1 of the
image is computed once and injected at every step, the whole network runs once per step, a neuron
sits after every ReLU and every average pool, and the head's outputs (bias included) are summed
over T; the read-out is that sum / T.

Inputs come from `bench-engine` (the harness side): weights in the authors' naming, written by the
same code as the `export` binary, the input image and the harness's read-out, as raw float32 files
described by `case.json`. The twin checks its read-out against the harness's (mean absolute
difference relative to the mean absolute read-out) and times:
  - the ANN forward of the same network (the dense floor of one time step), and
  - the simulation, in seconds per time step.
Prints one JSON object on stdout.

With a case written by `bench-engine --authors`, the twin also converts the case's ANN itself, as
the authors' connection-wise code does (§3.4: 99.9th percentile, their off-by-one slice), and
reports how far the harness's converted weights and read-out are from its own.

Usage: python twin.py CASE_DIR [--repeats N]
"""

import argparse
import json
import pathlib
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file


def load(case_dir: pathlib.Path):
    case = json.loads((case_dir / "case.json").read_text())
    weights = load_file(str(case_dir / "weights.safetensors"))
    raw = lambda name, shape: torch.from_numpy(
        np.fromfile(case_dir / name, dtype="<f4").reshape(shape)
    )
    x = raw("input.f32", case["input_shape"])
    readout = raw("readout.f32", case["output_shape"])
    return case, weights, x, readout


class UNet:
    """The authors' U-Net (§1.1) on a state dict in their naming: conv1..conv(4d+3), convtranspose1..d."""

    def __init__(self, weights):
        self.w = weights
        self.depth = sum(1 for k in weights if k.startswith("convtranspose") and k.endswith(".weight"))
        self.head = f"conv{4 * self.depth + 3}"
        self.head_padding = 1 if weights[self.head + ".weight"].shape[-1] == 3 else 0

    def conv(self, n, x):
        return F.conv2d(x, self.w[f"conv{n}.weight"], self.w[f"conv{n}.bias"], padding=1)

    def up(self, k, x):
        return F.conv_transpose2d(
            x, self.w[f"convtranspose{k}.weight"], self.w[f"convtranspose{k}.bias"],
            stride=2, padding=1, output_padding=1,
        )

    def head_conv(self, x):
        return F.conv2d(x, self.w[self.head + ".weight"], self.w[self.head + ".bias"], padding=self.head_padding)

    def body(self, first, act):
        """Everything after conv1 with `act(site, tensor)` at every activation site."""
        x = act("relu1", first)
        skips, n = [], 2
        for level in range(self.depth + 1):
            if level > 0:
                x = act(f"pool{level}", F.avg_pool2d(x, 2))
                x = act(f"relu{n}", self.conv(n, x))
                n += 1
            x = act(f"relu{n}", self.conv(n, x))
            n += 1
            if level < self.depth:
                skips.append(x)
        for k in range(1, self.depth + 1):
            up = act(f"relu_convtranspose{k}", self.up(k, x))
            x = torch.cat([skips.pop(), up], 1)  # skip first, up-sampled second (§1.1)
            x = act(f"relu{n}", self.conv(n, x))
            x = act(f"relu{n + 1}", self.conv(n + 1, x))
            n += 2
        return self.head_conv(x)

    def forward(self, x):
        return self.body(self.conv(1, x), lambda site, t: t if site.startswith("pool") else F.relu(t))


class Neurons:
    """One state per site: membrane and spike count. `kind` is 'mt', 'if-zero' or 'if-subtract'."""

    def __init__(self, kind, ladder=(2.0, 1.0, 0.5, 0.25), threshold=1.0):
        self.kind, self.ladder, self.threshold = kind, ladder, threshold
        self.v, self.spikes = {}, {}

    def __call__(self, site, current):
        v = self.v.get(site)
        v = current.clone() if v is None else v.add_(current)
        if self.kind == "mt":
            # §2.2: thresholds largest first, strict >, each crossed one subtracted and emitted.
            out = torch.zeros_like(v)
            count = 0
            for theta in self.ladder:
                fired = (v > theta).to(v.dtype)
                v.sub_(fired * theta)
                out.add_(fired * theta)
                count += fired.sum()
        else:
            # §2.1: v >= θ fires one spike of θ; reset to zero or by subtraction.
            fired = v >= self.threshold
            out = fired.to(v.dtype) * self.threshold
            if self.kind == "if-zero":
                v = torch.where(fired, torch.zeros_like(v), v)
            else:
                v.sub_(out)
            count = fired.sum()
        self.v[site] = v
        self.spikes[site] = self.spikes.get(site, 0) + count
        return out


def simulate(net, x, time_steps, neurons):
    """§4.2: static = conv1(x) once; each step runs the whole network; the head output is summed."""
    static = net.conv(1, x)
    output = torch.zeros(1)
    for _ in range(time_steps):
        output = output + net.body(static, neurons)
    return output


def percentile_or_one(tensor):
    """§3.3/§3.4: numpy's 99.9th percentile over every element (zeros included); 0 becomes 1."""
    value = float(np.percentile(tensor.numpy().ravel(), 99.9))
    return 1.0 if value == 0.0 else value


def authors_connection_wise(ann_weights, calibration, off_by_one=True):
    """The authors' connection-wise conversion (§3.4) of an ANN in their naming: λ_out of every
    weighted layer = P99.9 of its ReLU output on the calibration batch (the head's = 1); λ_in =
    λ_out of the layer feeding it (pools transparent), per branch after a concatenation, where
    their slice [k·w, k·w + w − 1) leaves the last channel of every branch unscaled. Returns the
    rescaled weights."""
    net = UNet(ann_weights)
    d = net.depth
    outputs = {}

    def record(site, t):
        if site.startswith("pool"):
            return t
        y = F.relu(t)
        outputs[site] = y
        return y

    with torch.no_grad():
        net.body(net.conv(1, calibration), record)
    lam_out = {f"conv{n}": percentile_or_one(outputs[f"relu{n}"]) for n in range(1, 4 * d + 3)}
    for k in range(1, d + 1):
        lam_out[f"convtranspose{k}"] = percentile_or_one(outputs[f"relu_convtranspose{k}"])
    lam_out[net.head] = 1.0
    # Where each layer's input comes from (§3.4 table, any depth).
    lam_in = {"conv1": 1.0}
    for level in range(d + 1):
        first, second = 2 * level + 1, 2 * level + 2
        if level > 0:
            lam_in[f"conv{first}"] = lam_out[f"conv{first - 1}"]  # through the pool
        lam_in[f"conv{second}"] = lam_out[f"conv{first}"]
    for k in range(1, d + 1):
        lam_in[f"convtranspose{k}"] = lam_out[f"conv{2 * d + 2 * k}"]
        cat = 2 * d + 1 + 2 * k
        lam_in[f"conv{cat}"] = [lam_out[f"conv{2 * (d - k + 1)}"], lam_out[f"convtranspose{k}"]]
        lam_in[f"conv{cat + 1}"] = lam_out[f"conv{cat}"]
    lam_in[net.head] = lam_out[f"conv{4 * d + 2}"]
    scaled = {}
    for layer, scale_in in lam_in.items():
        w = ann_weights[layer + ".weight"].clone()
        if isinstance(scale_in, list):
            width = w.shape[1] // len(scale_in)
            for k, branch in enumerate(scale_in):
                end = k * width + width - (1 if off_by_one else 0)
                w[:, k * width:end] *= branch
            w /= lam_out[layer]
        else:
            w = w * scale_in / lam_out[layer]
        scaled[layer + ".weight"] = w
        scaled[layer + ".bias"] = ann_weights[layer + ".bias"] / lam_out[layer]
    return scaled


def conversion_check(case_dir, case, weights, x, T, kind):
    """Convert the case's ANN as the authors do and compare with the harness's conversion: the
    weights (largest difference relative to each tensor's largest magnitude) and the read-out of
    the twin's own conversion."""
    ann = load_file(str(case_dir / "ann.safetensors"))
    calibration = torch.from_numpy(
        np.fromfile(case_dir / "calibration.f32", dtype="<f4").reshape(case["calibration_shape"])
    )
    ours = authors_connection_wise(ann, calibration, off_by_one=True)
    weight_difference = max(
        float((ours[name] - weights[name]).abs().max() / weights[name].abs().max().clamp_min(1e-12))
        for name in weights
    )
    exact = authors_connection_wise(ann, calibration, off_by_one=False)
    off_by_one_moves = max(
        float((exact[name] - weights[name]).abs().max() / weights[name].abs().max().clamp_min(1e-12))
        for name in weights
    )
    with torch.no_grad():
        readout = simulate(UNet(ours), x, T, Neurons(kind)) / T
    return weight_difference, off_by_one_moves, readout


def median_seconds(fn, repeats):
    fn()  # warm-up (allocator, oneDNN primitive cache)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case_dir", type=pathlib.Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(int(json.loads((args.case_dir / "case.json").read_text())["threads"]))
    case, weights, x, readout = load(args.case_dir)
    net = UNet(weights)
    T = case["time_steps"]
    kind = case["neuron"]
    with torch.no_grad():
        neurons = Neurons(kind)
        twin_readout = simulate(net, x, T, neurons) / T
        # Both sum each conv in their own order, so a membrane within a few ulps of a threshold
        # may fire one step apart (see engine/tests.rs); the mean absolute difference, relative
        # to the mean absolute read-out, is the measure that such moved spikes leave small.
        difference = float((twin_readout - readout).abs().mean() / readout.abs().mean().clamp_min(1e-12))
        max_difference = float((twin_readout - readout).abs().max() / readout.abs().max().clamp_min(1e-6))
        twin_spikes = float(sum(float(s) for s in neurons.spikes.values()))
        ann = median_seconds(lambda: net.forward(x), args.repeats)
        snn = median_seconds(lambda: simulate(net, x, T, Neurons(kind)), args.repeats) / T
    extra = {}
    if case.get("authors"):
        weight_difference, off_by_one_moves, own_readout = conversion_check(
            args.case_dir, case, weights, x, T, kind
        )
        extra = {
            "authors_conversion_weight_difference": weight_difference,
            "exact_scheme_weight_difference": off_by_one_moves,
            "authors_conversion_readout_relative_difference": float(
                (own_readout - readout).abs().mean() / readout.abs().mean().clamp_min(1e-12)
            ),
        }
    print(json.dumps({
        **extra,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "ann_forward_s": ann,
        "snn_step_s": snn,
        "readout_relative_difference": difference,
        "readout_max_relative_difference": max_difference,
        "spikes": twin_spikes,
    }))


if __name__ == "__main__":
    main()
