"""Stefan Roth's Fields-of-Experts filters (Roth & Black, CVPR 2005 / IJCV 2009), loaded into
:class:`~deeprestore.priors.patch_energy.PatchEnergy` (``expert="foe"``).

The ``.foe`` files (2×2 with 3 experts, 3×3 with 8, 5×5 with 24) ship in
``deeprestore/priors/data/`` under Roth's BSD license (``data/README.foe``); they are the copies
distributed with the Ceres Solver repository. Format (ASCII, whitespace separated)::

    s K                      filter size and number of experts
    s² integers              x offsets of the taps
    s² integers              y offsets of the taps
    α_1 … α_K                expert weights
    f_1,1 … f_1,s²           filter 1 (tap j at (x_j, y_j))
    …

The prior is learned on grey-level images with values in [0, 255]:
``−log p(x) = Σ_patches Σᵢ αᵢ log(1 + ½ (fᵢᵀ x_patch)²) + const``, i.e. the field energy of a
:class:`PatchEnergy` with Student-t experts, no whitening, on ``N×1×H×W`` maps in 0–255 units.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from deeprestore.priors.patch_energy import PatchEnergy

__all__ = ["ROTH_FOE_FILES", "load_foe_file", "roth_foe"]

DATA = Path(__file__).with_name("data")

#: the packaged files by filter size
ROTH_FOE_FILES: dict[int, Path] = {s: DATA / f"{s}x{s}.foe" for s in (2, 3, 5)}


def load_foe_file(path: str | os.PathLike[str]) -> PatchEnergy:
    """Parse a ``.foe`` file into a grey-level Student-t :class:`PatchEnergy` (0–255 units).

    Raises:
        ValueError: a malformed file (wrong number of values, offsets that are not a grid,
            non-positive expert weights), with the file name.
    """
    path = Path(path)
    tokens = path.read_text().split()
    try:
        size, count = int(tokens[0]), int(tokens[1])
        taps = size * size
        expected = 2 + 2 * taps + count + count * taps
        if len(tokens) != expected:
            raise ValueError(f"expected {expected} values for {count} filters of {size}×{size}, found {len(tokens)}")
        xs = [int(t) for t in tokens[2 : 2 + taps]]
        ys = [int(t) for t in tokens[2 + taps : 2 + 2 * taps]]
        values = torch.tensor([float(t) for t in tokens[2 + 2 * taps :]], dtype=torch.float64)
    except (IndexError, ValueError) as error:
        raise ValueError(f"{path}: not a Fields-of-Experts file: {error}") from None
    if sorted(zip(ys, xs)) != [(y, x) for y in range(size) for x in range(size)]:
        raise ValueError(f"{path}: tap offsets do not cover a {size}×{size} grid")
    alphas, flat = values[:count], values[count:].view(count, taps)
    filters = torch.zeros(count, taps, dtype=torch.float64)
    filters[:, [y * size + x for x, y in zip(xs, ys)]] = flat  # row-major (y, x), as conv weights
    if alphas.le(0).any():
        raise ValueError(f"{path}: expert weights must be positive")
    model = PatchEnergy("foe", channels=1, size=size, n_filters=count)
    model.set_filters(filters, alphas)
    return model


def roth_foe(size: int = 5) -> PatchEnergy:
    """Roth's packaged FoE with ``size×size`` filters (2, 3 or 5)."""
    if size not in ROTH_FOE_FILES:
        raise ValueError(f"Roth's FoE comes in sizes {sorted(ROTH_FOE_FILES)}, not {size}")
    return load_foe_file(ROTH_FOE_FILES[size])
