#!/usr/bin/env python3
"""Reference vectors for `harness/datasets/src/drive_preprocessing.rs`.

The Rust module re-implements the DRIVE preprocessing of the retina-unet code
(`my_PreProc` in `lib/pre_processing.py`: grey conversion, dataset
standardisation, OpenCV CLAHE, gamma LUT, /255) without OpenCV.  This script runs
the *real* pipeline (numpy + opencv-python) on deterministic inputs and writes what
it produced, so that the Rust tests can demand bit-exact agreement.

Usage (rerunnable; the output only depends on the numpy/OpenCV versions):

    pip install "opencv-python-headless<5" numpy
    python scripts/reference/drive_preprocessing_reference.py [--out DIR]

DIR defaults to `harness/datasets/tests/data/drive_preprocessing/` of this
repository.  The vectors checked in were made with OpenCV 4.14.0 and numpy 2.4.6
(the versions are recorded on the first lines of `manifest.txt`; OpenCV 5.0.0
gave identical bytes).

What is written:

* `manifest.txt` - one record a line, whitespace separated, `#` starts a comment:
    - `opencv VERSION`, `numpy VERSION`
    - `input NAME HEIGHT WIDTH SOURCE`: a u8 grey image.  SOURCE `bin` means the
      next HEIGHT*WIDTH bytes of `clahe_inputs.bin`; `retina:SEED` means the integer
      formula `retina_gray` below (re-implemented in the Rust test), used for the
      584x565 DRIVE size whose raw bytes would not fit the size budget.
    - `clahe INPUT CLIP TILES_X TILES_Y OUTPUT`: `cv2.createCLAHE(CLIP,
      (TILES_X, TILES_Y)).apply(INPUT)`.  OUTPUT `full` means the next H*W bytes of
      `clahe_outputs.bin`; `rows:STEP:FNV` means rows 0, STEP, 2*STEP, ... are the
      next bytes of `clahe_outputs.bin` and FNV is the FNV-1a 64 hash (hex) of the
      whole output; `hash:FNV` stores the hash only.
    - `gamma_lut GAMMA v0 ... v255`: the retina-unet gamma table.
    - `pipeline NAME COUNT HEIGHT WIDTH SOURCE`: a set of COUNT RGB images (H x W x 3,
      interleaved).  SOURCE `bin`: next bytes of `pipeline_inputs.bin`;
      `retina_rgb:SEED`: formula `retina_rgb` below with seeds SEED, SEED+1, ...
    - `pipeline_stats NAME MEAN_BITS STD_BITS`: np.mean / np.std of the grey set
      as IEEE-754 bit patterns (hex).
    - `pipeline_stage NAME STAGE OUTPUT`: STAGE is `standardized_u8` (step 2 cast
      with np.uint8, i.e. the CLAHE input), `clahe` (step 3) or `gamma` (step 4,
      the final value times 255).  OUTPUT as for `clahe`, all images of the set
      back to back (rows counted over the images stacked vertically), in
      `pipeline_outputs.bin`.
* `clahe_inputs.bin`, `clahe_outputs.bin`, `pipeline_inputs.bin`,
  `pipeline_outputs.bin` - raw u8, consumed in manifest order.
"""

import argparse
import os

import cv2
import numpy as np

M32 = 0xFFFFFFFF


# ---------------------------------------------------------------------------
# The retina-unet preprocessing, as in lib/help_functions.py and
# lib/pre_processing.py of the authors' repository (arrays are N x C x H x W
# float64, as prepare_datasets_DRIVE.py stores them).


def rgb2gray(rgb):
    assert len(rgb.shape) == 4
    assert rgb.shape[1] == 3
    bn_imgs = rgb[:, 0, :, :] * 0.299 + rgb[:, 1, :, :] * 0.587 + rgb[:, 2, :, :] * 0.114
    return np.reshape(bn_imgs, (rgb.shape[0], 1, rgb.shape[2], rgb.shape[3]))


def dataset_normalized(imgs):
    imgs_std = np.std(imgs)
    imgs_mean = np.mean(imgs)
    imgs_normalized = (imgs - imgs_mean) / imgs_std
    for i in range(imgs.shape[0]):
        imgs_normalized[i] = (
            (imgs_normalized[i] - np.min(imgs_normalized[i]))
            / (np.max(imgs_normalized[i]) - np.min(imgs_normalized[i]))
        ) * 255
    return imgs_normalized, imgs_mean, imgs_std


def clahe_equalized(imgs):
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    imgs_equalized = np.empty(imgs.shape)
    for i in range(imgs.shape[0]):
        imgs_equalized[i, 0] = clahe.apply(np.array(imgs[i, 0], dtype=np.uint8))
    return imgs_equalized


def gamma_table(gamma):
    inv_gamma = 1.0 / gamma
    return np.array([((i / 255.0) ** inv_gamma) * 255 for i in np.arange(0, 256)]).astype("uint8")


def adjust_gamma(imgs, gamma=1.0):
    table = gamma_table(gamma)
    new_imgs = np.empty(imgs.shape)
    for i in range(imgs.shape[0]):
        new_imgs[i, 0] = cv2.LUT(np.array(imgs[i, 0], dtype=np.uint8), table)
    return new_imgs


def my_preproc_stages(data_nhwc):
    """my_PreProc, keeping the intermediate u8 quantities (the /255 is exact)."""
    data = np.transpose(data_nhwc.astype(np.float64), (0, 3, 1, 2))
    gray = rgb2gray(data)
    normalized, mean, std = dataset_normalized(gray)
    standardized_u8 = np.array(normalized, dtype=np.uint8)
    equalized = clahe_equalized(normalized)
    gamma = adjust_gamma(equalized, 1.2)
    return {
        "mean": float(mean),
        "std": float(std),
        "standardized_u8": standardized_u8[:, 0],
        "clahe": equalized[:, 0].astype(np.uint8),
        "gamma": gamma[:, 0].astype(np.uint8),
    }


# ---------------------------------------------------------------------------
# Integer-only image formulas.  The Rust tests regenerate them bit for bit, so
# DRIVE-sized (584 x 565) inputs cost no bytes in the repository.


def hash32(x, y, seed):
    """A 32-bit integer hash of pixel coordinates (murmur3-style finaliser)."""
    v = (x * 0x9E3779B1 + y * 0x85EBCA77 + seed * 0xC2B2AE3D) & M32
    v ^= v >> 15
    v = (v * 0x2C1B3C6D) & M32
    v ^= v >> 12
    v = (v * 0x297A2D39) & M32
    v ^= v >> 15
    return v


def retina_base(h, w):
    """A bright disc fading to its rim, crossed by dark 'vessels', on black."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    cy, cx, r = h // 2, w // 2, min(h, w) * 9 // 20
    r2 = (y - cy) ** 2 + (x - cx) ** 2
    inside = r2 < r * r
    base = np.where(inside, 190 - (r2 * 110) // (r * r), 8)
    vessel = inside & (((3 * x + 5 * y + (x * y) // 97) % 53) < 3)
    return np.where(vessel, base - 45, base), x, y


def retina_gray(h, w, seed):
    base, x, y = retina_base(h, w)
    noise = (hash32(x, y, seed) % 17).astype(np.int64) - 8
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def retina_rgb(h, w, seed):
    base, x, y = retina_base(h, w)
    n_r = (hash32(x, y, 3 * seed) % 21).astype(np.int64) - 10
    n_g = (hash32(x, y, 3 * seed + 1) % 13).astype(np.int64) - 6
    n_b = (hash32(x, y, 3 * seed + 2) % 9).astype(np.int64) - 4
    r = np.clip(base + 50 + n_r, 0, 255)
    g = np.clip((base * 3) // 5 + n_g, 0, 255)
    b = np.clip(base // 4 + n_b, 0, 255)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in np.asarray(data, dtype=np.uint8).ravel().tobytes():
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


# ---------------------------------------------------------------------------
# Seeded numpy inputs, stored as raw bytes.


def smooth_noise(rng, h, w, noise):
    """Low-frequency random field plus Gaussian noise, in u8."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    field = np.zeros((h, w))
    for _ in range(4):
        fx, fy, phase = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 2 * np.pi)
        field += np.cos(2 * np.pi * (fx * x / w + fy * y / h) + phase)
    field = 128 + 25 * field + rng.normal(0, noise, (h, w))
    return np.clip(np.rint(field), 0, 255).astype(np.uint8)


def few_bins(rng, h, w):
    """Mostly three grey levels and a sprinkle of others: tall histogram peaks, so
    clipping, redistribution and the residual step all matter."""
    img = rng.choice(np.array([10, 11, 200], dtype=np.uint8), size=(h, w), p=[0.5, 0.3, 0.2])
    mask = rng.random((h, w)) < 0.05
    img[mask] = rng.integers(0, 256, size=int(mask.sum()), dtype=np.uint8)
    return img


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "..", "harness", "datasets", "tests", "data", "drive_preprocessing")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.normpath(default_out))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    rng = np.random.default_rng(20240611)
    manifest = [
        "# Reference vectors for drive_preprocessing.rs, written by",
        "# scripts/reference/drive_preprocessing_reference.py (see its docstring for the format).",
        f"opencv {cv2.__version__}",
        f"numpy {np.__version__}",
    ]
    clahe_in, clahe_out, pipe_in, pipe_out = bytearray(), bytearray(), bytearray(), bytearray()

    # -- CLAHE ---------------------------------------------------------------
    inputs = {}

    def add_input(name, img=None, formula=None):
        if formula is not None:
            source = formula
        else:
            source = "bin"
            clahe_in.extend(img.tobytes())
        inputs[name] = img
        manifest.append(f"input {name} {img.shape[0]} {img.shape[1]} {source}")

    add_input("smooth_noise_64x64", smooth_noise(rng, 64, 64, 6.0))
    add_input("smooth_noise_40x48", smooth_noise(rng, 40, 48, 6.0))
    add_input("smooth_noise_45x37", smooth_noise(rng, 45, 37, 6.0))
    add_input("smooth_noise_100x93", smooth_noise(rng, 100, 93, 10.0))
    # Width divisible by 8 but height not: OpenCV then pads the width by a whole
    # extra tile (tilesX - width % tilesX == 8), which changes the tile size.
    add_input("smooth_noise_45x64", smooth_noise(rng, 45, 64, 6.0))
    add_input("constant_64x64", np.full((64, 64), 117, dtype=np.uint8))
    add_input("constant_45x37", np.full((45, 37), 3, dtype=np.uint8))
    add_input("few_bins_64x64", few_bins(rng, 64, 64))
    add_input("few_bins_50x77", few_bins(rng, 50, 77))
    add_input("uniform_64x64", rng.integers(0, 256, size=(64, 64), dtype=np.uint8))
    two_level = np.zeros((64, 64), dtype=np.uint8)
    two_level[:, 32:] = 255
    two_level[20:40, 10:50] ^= 255
    add_input("two_level_64x64", two_level)
    add_input("ramp_33x257", (np.arange(33 * 257).reshape(33, 257) % 256).astype(np.uint8))
    for h, w in [(1, 1), (3, 3), (5, 7), (2, 9), (8, 8), (7, 1)]:
        add_input(f"tiny_{h}x{w}", rng.integers(0, 256, size=(h, w), dtype=np.uint8))
    add_input("retina_584x565", retina_gray(584, 565, 7), formula="retina:7")

    default = (2.0, 8, 8)
    cases = [(name, *default) for name in inputs if name != "retina_584x565"]
    for params in [(1.0, 8, 8), (4.0, 8, 8), (40.0, 8, 8), (0.0, 8, 8), (0.01, 8, 8),
                   (2.0, 4, 4), (2.0, 2, 3), (2.0, 3, 2), (2.0, 16, 16), (2.5, 5, 7), (3.0, 1, 1)]:
        cases.append(("smooth_noise_40x48", *params))
    for params in [(1.0, 8, 8), (4.0, 4, 4), (40.0, 2, 3), (0.5, 3, 5)]:
        cases.append(("few_bins_50x77", *params))
    for params in [(4.0, 2, 3), (2.0, 16, 16), (1.0, 5, 7), (2.0, 40, 50)]:
        cases.append(("smooth_noise_45x37", *params))
    cases.append(("smooth_noise_100x93", 3.0, 6, 9))
    cases.append(("ramp_33x257", 4.0, 8, 4))

    def emit(buffer, out, row_step=None):
        """Stores `out` whole, or (for DRIVE-sized outputs) every `row_step`-th row of
        its images stacked vertically, plus a hash of the whole."""
        if row_step is None:
            buffer.extend(out.tobytes())
            return "full"
        buffer.extend(out.reshape(-1, out.shape[-1])[::row_step].tobytes())
        return f"rows:{row_step}:{fnv1a64(out)}"

    for name, clip, tx, ty in cases:
        out = cv2.createCLAHE(clipLimit=clip, tileGridSize=(tx, ty)).apply(inputs[name])
        manifest.append(f"clahe {name} {clip!r} {tx} {ty} {emit(clahe_out, out)}")
    for clip in [2.0, 40.0]:
        out = cv2.createCLAHE(clipLimit=clip, tileGridSize=(8, 8)).apply(inputs["retina_584x565"])
        manifest.append(f"clahe retina_584x565 {clip!r} 8 8 {emit(clahe_out, out, 32)}")

    # -- Gamma ---------------------------------------------------------------
    manifest.append("gamma_lut 1.2 " + " ".join(str(v) for v in gamma_table(1.2)))

    # -- Whole pipeline ------------------------------------------------------
    def add_pipeline(name, images, source, row_step=None):
        count, h, w, _ = images.shape
        if source == "bin":
            pipe_in.extend(images.tobytes())
        manifest.append(f"pipeline {name} {count} {h} {w} {source}")
        stages = my_preproc_stages(images)
        bits = [np.float64(stages[k]).view(np.uint64) for k in ("mean", "std")]
        manifest.append(f"pipeline_stats {name} {int(bits[0]):016x} {int(bits[1]):016x}")
        for stage in ("standardized_u8", "clahe", "gamma"):
            if row_step is None:
                output = emit(pipe_out, stages[stage])
            elif stage == "gamma":
                output = emit(pipe_out, stages[stage], row_step)
            else:
                output = f"hash:{fnv1a64(stages[stage])}"
            manifest.append(f"pipeline_stage {name} {stage} {output}")

    small = []
    for _ in range(3):
        grey = smooth_noise(rng, 64, 60, 5.0).astype(np.int64)
        rgb = np.stack([grey + 40, (grey * 3) // 5, grey // 4], axis=-1)
        rgb = rgb + rng.integers(-6, 7, size=rgb.shape)
        small.append(np.clip(rgb, 0, 255).astype(np.uint8))
    add_pipeline("small_3x64x60", np.stack(small), "bin")
    drive = np.stack([retina_rgb(584, 565, seed) for seed in (1, 2)])
    add_pipeline("retina_2x584x565", drive, "retina_rgb:1", row_step=32)

    with open(os.path.join(args.out, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    for name, data in [("clahe_inputs.bin", clahe_in), ("clahe_outputs.bin", clahe_out),
                       ("pipeline_inputs.bin", pipe_in), ("pipeline_outputs.bin", pipe_out)]:
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(bytes(data))
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"wrote {args.out} ({total} bytes) with OpenCV {cv2.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
