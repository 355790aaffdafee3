"""Shared fixtures: small real photo crops, so tests run on real data in seconds."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch


@pytest.fixture(scope="session")
def photo_crops() -> torch.Tensor:
    """32 crops of 64×64 from two real photographs, ``32×3×64×64`` in [0, 1]."""
    crops = []
    for name in ("astronaut", "coffee"):
        img = torch.from_numpy(np.ascontiguousarray(getattr(skimage.data, name)())).permute(2, 0, 1).float() / 255
        for i in range(4):
            for j in range(4):
                crops.append(img[:, 40 + 70 * i : 104 + 70 * i, 40 + 70 * j : 104 + 70 * j])
    return torch.stack(crops)
