"""Fixtures of the study tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import skimage.data
from PIL import Image


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    """A folder of three 48×48 PNG crops of real photos (astronaut, chelsea, coffee): an odd count,
    so that two DDP ranks get uneven shares."""
    folder = tmp_path_factory.mktemp("photos")
    for name, (top, left) in {"astronaut": (60, 200), "coffee": (120, 260), "chelsea": (50, 150)}.items():
        Image.fromarray(getattr(skimage.data, name)()[top : top + 48, left : left + 48]).save(folder / f"{name}.png")
    return folder
