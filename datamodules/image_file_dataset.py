"""A dataset of image files, and the fast scan that weeds out bad files at setup."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as F

from .image_files import BadImageError, load_rgb, probe_image
from .skips import SkipReason, SkipTracker
from .transforms import ImageTooSmallError, resized_size

__all__ = ["ImageFileDataset", "ScanMode", "check_image_files"]

logger = logging.getLogger(__name__)

ScanMode = Literal["none", "header", "decode"]
"""How :func:`check_image_files` checks files at setup.

``"none"``: no check (bad files are found while loading). ``"header"``: open each header
(fast; finds non-images, unsupported formats, and images too small for the crop).
``"decode"``: fully decode each file (slow; also finds corrupt and truncated files, so no
substitution happens later, which keeps evaluation sets exact).
"""


class ImageFileDataset(Dataset[torch.Tensor]):
    """Decoded image files: item ``i`` is file ``i`` as a uint8 tensor ``3×H×W`` (RGB).

    Any mode is converted to 8-bit RGB (see :mod:`datamodules.image_files`).
    Raises :class:`~datamodules.image_files.BadImageError` for a file it cannot read; the
    crop datasets turn that into a logged, counted skip.
    """

    def __init__(self, files: Sequence[str | os.PathLike[str]]) -> None:
        self.files = [Path(f) for f in files]

    @property
    def names(self) -> list[str]:
        """The file paths as strings."""
        return [str(f) for f in self.files]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        return F.pil_to_tensor(load_rgb(self.files[index])).as_subclass(torch.Tensor)


def check_image_files(
    files: Sequence[Path],
    skips: SkipTracker,
    skip_ids: Sequence[int],
    crop_size: int,
    resize: int | None,
    mode: ScanMode = "header",
) -> list[int]:
    """Check files before training; record bad ones in ``skips`` (logged once each).

    A file is too small when its shorter side, after the optional resize of the shorter
    side to ``resize`` (see :func:`~datamodules.transforms.resized_size`), is below
    ``crop_size``.
    Files already flagged in ``skips`` are left out without being read again.

    Returns:
        The positions (in ``files``) of the files that passed.
    """
    if mode not in ("none", "header", "decode"):
        raise ValueError(f'scan mode must be "none", "header" or "decode", got {mode!r}')
    good = []
    for position, (path, image_id) in enumerate(zip(files, skip_ids, strict=True)):
        if skips.is_skipped(image_id):
            continue
        if mode == "none":
            good.append(position)
            continue
        try:
            if mode == "header":
                width, height = probe_image(path)
            else:
                width, height = load_rgb(path).size
        except BadImageError as error:
            skips.record(image_id, SkipReason.UNREADABLE, error.reason)
            continue
        new_height, new_width = resized_size(height, width, resize)
        if min(new_height, new_width) < crop_size:
            skips.record(
                image_id,
                SkipReason.TOO_SMALL,
                str(ImageTooSmallError(new_height, new_width, crop_size))
                + ("" if (new_height, new_width) == (height, width) else f" (after resizing {width}x{height})"),
            )
            continue
        good.append(position)
    if mode != "none":
        logger.info("scanned %d image files (%s): %d usable", len(files), mode, len(good))
    return good
