"""Reference MAC counts of the authors' U-Net by thop, the profiler their code uses.

The authors count an ANN's operations with `thop.profile(net, (one_sample, 'original'))` and
report energy as MACs x 4.6 pJ (authors-code.md 4.4). thop's conventions differ from the
harness's count of multiply-adds performed: a transposed convolution is counted per *output*
pixel, average pools count one operation per output element, and biases are not counted. This
script rebuilds the authors' network (authors-code.md 1.1-1.3) in PyTorch, profiles it with thop
and writes the counts that `harness/core` pins in its tests:

    python3 -m venv /tmp/thop-venv && /tmp/thop-venv/bin/pip install torch thop==0.1.1.post2209072238
    /tmp/thop-venv/bin/python scripts/reference/thop_macs.py > harness/core/tests/data/thop_macs.json

Output: a JSON list of {"model", "width", "in_channels", "out_channels", "head_kernel", "height",
"width_px", "thop_macs", "thop_version", "torch_version"}.
"""
import json

import thop
import torch
from torch import nn


class AuthorsUNet(nn.Module):
    """The authors' Denoising_Model / Segmentation_UNet skeleton with F = `width`."""

    def __init__(self, in_channels, out_channels, width, head_kernel):
        super().__init__()
        f = width
        chans = [f, 2 * f, 4 * f, 8 * f, 16 * f]
        self.down = nn.ModuleList()
        c = in_channels
        for level, out in enumerate(chans):
            self.down.append(nn.Sequential(
                nn.Conv2d(c, out, 3, 1, 1), nn.ReLU(),
                nn.Conv2d(out, out, 3, 1, 1), nn.ReLU()))
            c = out
        self.pools = nn.ModuleList([nn.AvgPool2d(2) for _ in range(4)])
        self.ups = nn.ModuleList()
        self.up_convs = nn.ModuleList()
        for level in range(4):
            cin, cout = chans[4 - level], chans[3 - level]
            self.ups.append(nn.Sequential(
                nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1), nn.ReLU()))
            self.up_convs.append(nn.Sequential(
                nn.Conv2d(2 * cout, cout, 3, 1, 1), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, 1, 1), nn.ReLU()))
        padding = 1 if head_kernel == 3 else 0
        self.head = nn.Conv2d(f, out_channels, head_kernel, 1, padding)

    def forward(self, x):
        skips = []
        for level in range(5):
            x = self.down[level](x)
            if level < 4:
                skips.append(x)
                x = self.pools[level](x)
        for level in range(4):
            x = self.ups[level](x)
            x = self.up_convs[level](torch.cat([skips[3 - level], x], dim=1))
        return self.head(x)


def main():
    rows = []
    for (model, cin, cout, head) in [("gray denoiser", 1, 1, 3), ("binary segmenter", 1, 2, 1)]:
        for size in (48, 512):
            net = AuthorsUNet(cin, cout, 64, head).eval()
            sample = torch.zeros(1, cin, size, size)
            macs, _ = thop.profile(net, (sample,), verbose=False)
            rows.append({
                "model": model, "width": 64, "in_channels": cin, "out_channels": cout,
                "head_kernel": head, "height": size, "width_px": size,
                "thop_macs": int(macs), "thop_version": thop.__version__,
                "torch_version": torch.__version__,
            })
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
