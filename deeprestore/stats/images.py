"""The image set for feature-map statistics: random square crops from photos (Harder 2017, §4.1).

The thesis averages over 200 images. Here the images are ``count`` random crops, spread evenly
over a list of photos — the embedded sample photos (:data:`datamodules.sample_photos.SAMPLE_PHOTOS`,
any of their splits) or the image files of a user's folders. Each photo is shrunk (shorter side
to ``resize``, default ``2 × crop_size``: the scale of :class:`datamodules.SamplePhotos`; never
enlarged) and cropped at uniformly random positions drawn from one seeded ``torch.Generator``. There are no
flips or colour changes: augmentation would add symmetries the statistics should not have.

A file that cannot be read (:class:`datamodules.image_files.BadImageError`) or is smaller than the
crop is skipped: logged once, counted in :attr:`RandomCrops.skipped` and in its
:class:`~datamodules.skips.SkipTracker` (with what the folder listings left out), and its crops go
to the remaining photos.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as F

from datamodules.image_files import BadImageError, load_rgb
from datamodules.image_paths import expand_image_paths
from datamodules.sample_photos import SAMPLE_PHOTOS, load_sample_photo
from datamodules.skips import SkipReason, SkipTracker
from datamodules.transforms import resize_shorter_side

__all__ = ["ImageSource", "RandomCrops", "batched", "file_sources", "sample_photo_sources"]

logger = logging.getLogger(__name__)

#: The splits of the sample photos (all 11 photos by default).
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ImageSource:
    """One photo: a name (file path or sample-photo name) and a loader → uint8 ``3×H×W`` (RGB)."""

    name: str
    load: Callable[[], Tensor]


def sample_photo_sources(splits: Sequence[str] = SPLITS) -> list[ImageSource]:
    """The embedded sample photos of the given splits (``train``: 8, ``val``: 1, ``test``: 2)."""
    unknown = [s for s in splits if s not in SPLITS]
    if unknown or not splits:
        raise ValueError(f"splits must be a non-empty subset of {', '.join(SPLITS)}, got {list(splits)}")
    return [ImageSource(name, lambda name=name: load_sample_photo(name)) for name, (split, _) in SAMPLE_PHOTOS.items() if split in splits]


def _load_file(path: Path) -> Tensor:
    return F.pil_to_tensor(load_rgb(path)).as_subclass(torch.Tensor)


def file_sources(paths: Sequence[str | os.PathLike[str]], skips: SkipTracker | None = None) -> list[ImageSource]:
    """Image files and folders (searched recursively) as sources, in file-name order; what the
    folder listings leave out (unreadable folders, other extensions) is noted in ``skips``.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: a folder without image files.
    """
    files = [f.path for f in expand_image_paths(paths, SkipTracker() if skips is None else skips)]
    return [ImageSource(str(f), lambda f=f: _load_file(f)) for f in files]


class RandomCrops:
    """``count`` random crops ``3×crop_size×crop_size`` (float, [0, 1]) from ``sources``.

    Iterating decodes the photos one at a time, in an order shuffled by ``seed``, and takes
    ``ceil(remaining crops / remaining photos)`` crops from each, so crops are spread evenly and a
    skipped photo's share goes to the others. Iterating again gives the same crops.

    Args:
        sources: the photos.
        count: number of crops.
        crop_size: side of the square crops.
        resize: shorter side of every photo before cropping; ``None``: ``2 × crop_size``;
            ``0``: native resolution.
        seed: seed of the photo order and the crop positions.
        skips: tracker the skipped photos are counted in (a private one if ``None``).

    Attributes:
        skipped: ``(name, reason)`` of every photo skipped in the last iteration.
        used: names of the photos crops were taken from in the last iteration.
        produced: crops yielded by the last complete iteration (``count`` unless photos at the
            end of the order were skipped).
    """

    def __init__(
        self,
        sources: Sequence[ImageSource],
        count: int,
        crop_size: int,
        resize: int | None = None,
        seed: int = 0,
        skips: SkipTracker | None = None,
    ) -> None:
        if count < 1:
            raise ValueError(f"the number of images must be positive, got {count}")
        if crop_size < 1:
            raise ValueError(f"crop_size must be positive, got {crop_size}")
        if not sources:
            raise ValueError("the image set is empty: no photos to crop from")
        self.resize = 2 * crop_size if resize is None else (resize or None)
        if self.resize is not None and self.resize < crop_size:
            raise ValueError(f"resize ({self.resize}) must be at least crop_size ({crop_size})")
        self.sources = list(sources)
        self.count = count
        self.crop_size = crop_size
        self.seed = seed
        self.skipped: list[tuple[str, str]] = []
        self.used: list[str] = []
        self.produced = 0
        self.skips = SkipTracker() if skips is None else skips
        self._ids = list(self.skips.register([s.name for s in self.sources]))

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Tensor]:
        generator = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(len(self.sources), generator=generator).tolist()
        self.skipped, self.used, self.produced = [], [], 0
        remaining = self.count
        for position, index in enumerate(order):
            if remaining == 0:
                break
            source = self.sources[index]
            try:
                image = resize_shorter_side(source.load(), self.resize)
            except BadImageError as error:
                self._skip(index, SkipReason.UNREADABLE, f"unreadable ({error.reason})")
                continue
            height, width = image.shape[-2:]
            if min(height, width) < self.crop_size:
                self._skip(index, SkipReason.TOO_SMALL, f"{width}x{height} pixels is smaller than the {self.crop_size}-pixel crop")
                continue
            self.used.append(source.name)
            take = math.ceil(remaining / (len(order) - position))
            for _ in range(take):
                top = int(torch.randint(height - self.crop_size + 1, (1,), generator=generator))
                left = int(torch.randint(width - self.crop_size + 1, (1,), generator=generator))
                crop = image[:, top : top + self.crop_size, left : left + self.crop_size]
                yield crop.to(torch.float32).div(255.0).contiguous()
            remaining -= take
        self.produced = self.count - remaining
        if remaining == self.count:
            raise ValueError(
                f"the image set is empty: none of the {len(self.sources)} photo(s) could be used "
                f"({len(self.skipped)} skipped; see the warnings)"
            )
        if remaining:
            logger.warning("only %d of %d crops: the last photos were skipped", self.produced, self.count)

    def _skip(self, index: int, reason: SkipReason, detail: str) -> None:
        self.skips.record(self._ids[index], reason, detail)  # logged once per photo
        self.skipped.append((self.sources[index].name, detail))


def batched(crops: Iterator[Tensor] | RandomCrops, batch_size: int) -> Iterator[Tensor]:
    """Stack an iterable of ``3×c×c`` crops into batches ``N×3×c×c`` (the last one may be smaller)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    batch: list[Tensor] = []
    for crop in crops:
        batch.append(crop)
        if len(batch) == batch_size:
            yield torch.stack(batch)
            batch = []
    if batch:
        yield torch.stack(batch)
