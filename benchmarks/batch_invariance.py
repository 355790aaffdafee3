"""Does an image's result depend on its batch? How far the network's numbers move with the batch
size, and what computing every image on its own would cost.

For each crop size, 8 real photo crops go through EfficientNet-Lite0 to ``--layer`` and back
(forward + backward of ``‖Φ(x)‖²``, one engine step's network work) as one batch of 8 and as 8
batches of 1, in the same run. The table gives the largest difference of the features and of the
input gradients between the two, and the time of the per-image loop relative to the batch.
``invert`` gives every image its own noise stream and one jitter stream for all (see
``deeprestore/inversion/seeds.py``), so rounding is all that is left; a study keeps its batch
size as a resume key for that reason.

Run (from the repository root)::

    python benchmarks/batch_invariance.py
    python benchmarks/batch_invariance.py --device cuda --sizes 128 224
"""

from __future__ import annotations

import argparse
import statistics
from functools import partial

import numpy as np
import skimage.data
import torch
import torch.nn.functional as F

from deeprestore.nets import load_network

from machine import machine_lines, markdown_table, timed


def photo_batch(size: int, count: int = 8) -> torch.Tensor:
    """``count`` real crops ``count×3×size×size`` (astronaut, coffee, chelsea, rocket), in [0, 1]."""
    crops = []
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        image = torch.from_numpy(np.ascontiguousarray(getattr(skimage.data, name)())).permute(2, 0, 1).float() / 255
        crops += [image[:, :256, :256], image[:, -256:, -256:]]
    return F.interpolate(torch.stack(crops[:count]), size=(size, size), mode="bilinear", antialias=True).clamp(0, 1)


def network_step(net, x: torch.Tensor, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    features = net.features(x, [layer])[layer]
    features.float().pow(2).sum().backward()
    return features.detach(), x.grad.detach()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--layer", default="block4")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    net = load_network("efficientnet_lite0").to(device)
    rows = []
    for size in args.sizes:
        x = photo_batch(size).to(device)
        feats, grads = network_step(net, x, args.layer)
        singles = [network_step(net, x[i : i + 1], args.layer) for i in range(len(x))]
        d_feat = max(float((feats[i] - f[0]).abs().max()) for i, (f, _) in enumerate(singles))
        d_grad = max(float((grads[i] - g[0]).abs().max()) for i, (_, g) in enumerate(singles))
        scale = float(grads.abs().max())
        batched, looped = [], []
        batched_step = partial(network_step, net, x, args.layer)
        looped_steps = partial(lambda images: [network_step(net, images[i : i + 1], args.layer) for i in range(len(images))], x)
        for _ in range(args.repeats):  # interleaved, after the warm-up above
            batched.append(timed(batched_step, device))
            looped.append(timed(looped_steps, device))
        rows.append(
            [
                f"{size}²",
                f"{d_feat:.2e}",
                f"{d_grad:.2e} (of max {scale:.3g})",
                f"{statistics.median(batched) * 1e3:.0f}",
                f"{statistics.median(looped) * 1e3:.0f}",
                f"{statistics.median(looped) / statistics.median(batched):.2f}",
            ]
        )
    print(
        markdown_table(
            ["crop", "max |Δ features|", "max |Δ input gradient|", "batch of 8 (ms)", "8 × batch of 1 (ms)", "per-image / batched"], rows
        )
    )
    print()
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
