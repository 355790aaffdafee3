"""What a patch prior costs in the optimisation: one step (forward and backward to the image) of the
trained ICA image prior's field energy (512 filters on 8×8 colour patches, the thesis's §4.3), against
EfficientNet-Lite0's pass to a layer, in three exact forms of the prior's convolution:

* ``direct``: ``F.conv2d`` on NCHW tensors, what :class:`~deeprestore.priors.patch_energy.PatchEnergy` runs;
* ``channels-last``: the same convolution in NHWC memory;
* ``fft``: the correlation by ``rfft2``, a product of spectra summed over the 3 colour channels, and
  ``irfft2`` of the 512 responses (equal to the direct form to float32 rounding).

Run (from the repository root, after ``python train.py --config configs/priors/ica_image.yaml``)::

    python benchmarks/ica_prior_cost.py
    python benchmarks/ica_prior_cost.py --sizes 64 128 224 --batch 4 --layers block3 block8 --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from deeprestore.nets import load_network
from deeprestore.priors import load_patch_prior

from machine import machine_lines, markdown_table


def fft_correlation(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(x, weight, bias)`` (valid) by FFT: ``N×C×H×W``, ``m×C×k×k`` → ``N×m×(H−k+1)×(W−k+1)``."""
    h, w, k = x.shape[-2], x.shape[-1], weight.shape[-1]
    spectrum = torch.einsum("nchw,mchw->nmhw", torch.fft.rfft2(x, s=(h, w)), torch.fft.rfft2(weight.flip(-1, -2), s=(h, w)))
    return torch.fft.irfft2(spectrum, s=(h, w))[..., k - 1 :, k - 1 :] + bias.view(1, -1, 1, 1)


def step_seconds(fn, x: torch.Tensor, repeats: int) -> float:
    """Median seconds of ``fn(x).backward()`` with ``x`` a leaf, after one warm-up."""
    times = []
    for _ in range(repeats + 1):
        leaf = x.clone().requires_grad_(True)
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn(leaf).backward()
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/prior_ica_image/last.ckpt")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument(
        "--layers", nargs="+", default=["block3", "block8"], help="Lite0 layers matching AlexNet's conv1 and conv4 (strides 4 and 16)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    energy = load_patch_prior(args.checkpoint).energy.requires_grad_(False).to(device)
    weight, bias = energy.conv_filters()
    alphas, G = energy.alphas.view(1, -1, 1, 1), energy.expert.G
    net = load_network("efficientnet_lite0").to(device)
    forms = {
        "direct": lambda x: -(G(F.conv2d(x, weight, bias)) * alphas).sum(),
        "channels-last": lambda x: (
            -(
                G(F.conv2d(x.contiguous(memory_format=torch.channels_last), weight.contiguous(memory_format=torch.channels_last), bias))
                * alphas
            ).sum()
        ),
        "fft": lambda x: -(G(fft_correlation(x, weight, bias)) * alphas).sum(),
    }
    rows = []
    for size in args.sizes:
        x = torch.rand(args.batch, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
        networks = {
            layer: step_seconds(lambda v, layer=layer: net.features(v, [layer])[layer].pow(2).sum(), x, args.repeats)
            for layer in args.layers
        }
        check = float((F.conv2d(x, weight, bias) - fft_correlation(x, weight, bias)).abs().max() / F.conv2d(x, weight, bias).abs().max())
        for name, fn in forms.items():
            seconds = step_seconds(fn, x, args.repeats)
            ratios = " / ".join(f"{seconds / networks[layer]:.1f}×" for layer in args.layers)
            rows.append([f"{size}²", name, f"{1000 * seconds:.0f}", ratios, f"{check:.1e}" if name == "fft" else "–"])
    header = ["size", "form", f"ms per step (batch {args.batch})", f"× Lite0 to {' / '.join(args.layers)}", "max relative difference"]
    print(markdown_table(header, rows))
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
