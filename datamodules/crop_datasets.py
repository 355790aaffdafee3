"""Datasets of crops that never fail on a bad image: each item is a float tensor ``3×c×c``.

Both datasets read images from an *image source*: any sequence whose item ``i`` is an RGB
image (PIL, or uint8 tensor ``3×H×W``), e.g. a list of tensors or an
:class:`~datamodules.image_file_dataset.ImageFileDataset`, which raises
:class:`~datamodules.image_files.BadImageError` for a file it cannot decode.

When an image cannot be read, or is smaller than the crop, the dataset records it in its
:class:`~datamodules.skips.SkipTracker` (counted and logged once) and returns the same crop
of the *next* good image instead (wrapping around), so an epoch keeps its length and a
DataLoader never crashes on a bad file. A flagged image is not read again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
from PIL import Image
from torch.utils.data import Dataset

from .image_files import BadImageError
from .sampling import mix_seed, sample_generator
from .skips import SkipReason, SkipTracker
from .transforms import EvalTransform, ImageTooSmallError, TrainTransform

__all__ = ["FixedCropDataset", "ImageSource", "RandomCropDataset"]


class ImageSource(Protocol):
    """A sequence of RGB images (PIL or uint8 ``3×H×W``); may raise ``BadImageError``."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Image.Image | torch.Tensor: ...


class _SkipSafe(Dataset[torch.Tensor]):
    """Shared part: the source, the skip tracker, and the substitute-next-good logic."""

    def __init__(
        self,
        images: ImageSource,
        skips: SkipTracker | None,
        skip_ids: Sequence[int] | None,
    ) -> None:
        if len(images) == 0:
            raise ValueError("no images: the image source is empty")
        if skips is None:
            names = getattr(images, "names", None) or [f"image {i}" for i in range(len(images))]
            skips = SkipTracker()
            skip_ids = skips.register(names)
        elif skip_ids is None:
            raise ValueError("skip_ids (the tracker ids of the images) must go with skips")
        if len(skip_ids) != len(images):
            raise ValueError(f"{len(skip_ids)} skip ids for {len(images)} images")
        self.images = images
        self.skips = skips
        self.skip_ids = list(skip_ids)

    def _first_good(self, start: int, make: Callable[[int], torch.Tensor]) -> torch.Tensor:
        """``make(j)`` for the first image ``j`` from ``start`` on (cyclically) that works."""
        count = len(self.images)
        for offset in range(count):
            j = (start + offset) % count
            image_id = self.skip_ids[j]
            if self.skips.is_skipped(image_id):
                continue
            try:
                return make(j)
            except BadImageError as error:
                self.skips.record(image_id, SkipReason.UNREADABLE, error.reason)
            except ImageTooSmallError as error:
                self.skips.record(image_id, SkipReason.TOO_SMALL, str(error))
        raise RuntimeError(
            f"all {count} images of this dataset were skipped (see the warnings logged by {SkipTracker.__module__}); nothing left to return"
        )


class RandomCropDataset(_SkipSafe):
    """Random training crops, reproducible from ``(seed, epoch, sample index)``.

    Sample ``i`` of epoch ``e`` is a crop of image ``order[(e * samples_per_epoch + i) % n]``
    (``n`` images, ``order`` a fixed permutation drawn from ``seed``), made by ``transform``
    with a generator seeded from ``(seed, e, i)``. So every image gets its share of crops:
    with more samples than images, each epoch spreads them evenly over all images; with
    fewer, consecutive epochs walk on through the (shuffled) images instead of always using
    the same ones. Index with ``(epoch, i)`` keys from an
    :class:`~datamodules.sampling.EpochSampler`, or with a plain ``i`` (epoch 0).

    Item: float tensor ``3×crop_size×crop_size`` in [0, 1].

    Args:
        images: the image source.
        transform: the training transform.
        samples_per_epoch: crops per epoch; ``None`` is one per image.
        seed: base seed.
        skips: tracker for skipped images (a private one if ``None``).
        skip_ids: the tracker ids of the images (required with ``skips``).
    """

    def __init__(
        self,
        images: ImageSource,
        transform: TrainTransform,
        samples_per_epoch: int | None = None,
        seed: int = 0,
        skips: SkipTracker | None = None,
        skip_ids: Sequence[int] | None = None,
    ) -> None:
        super().__init__(images, skips, skip_ids)
        if samples_per_epoch is not None and samples_per_epoch < 1:
            raise ValueError(f"samples_per_epoch must be positive, got {samples_per_epoch}")
        self.transform = transform
        self.samples_per_epoch = samples_per_epoch or len(images)
        self.seed = seed
        generator = torch.Generator().manual_seed(mix_seed(seed, -2))
        self.order: list[int] = torch.randperm(len(images), generator=generator).tolist()

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, key: Any) -> torch.Tensor:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} not in [0, {len(self)})")

        def make(j: int) -> torch.Tensor:
            return self.transform(self.images[j], sample_generator(self.seed, int(epoch), index))

        position = (int(epoch) * self.samples_per_epoch + index) % len(self.images)
        return self._first_good(self.order[position], make)


class FixedCropDataset(_SkipSafe):
    """Deterministic evaluation crops: item ``k`` is crop ``k % n`` of image ``k // n``.

    ``n`` is ``transform.num_crops`` (1 for the centre crop, 5 for corners + centre), so the
    length is ``n × len(images)`` and the crops of one image are consecutive. The last
    resized image is cached (per process), so an image is decoded and resized once for its
    ``n`` crops when they are read in order.

    Item: float tensor ``3×crop_size×crop_size`` in [0, 1].
    """

    def __init__(
        self,
        images: ImageSource,
        transform: EvalTransform,
        skips: SkipTracker | None = None,
        skip_ids: Sequence[int] | None = None,
    ) -> None:
        super().__init__(images, skips, skip_ids)
        self.transform = transform
        self._cache: tuple[int, torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.images) * self.transform.num_crops

    def __getitem__(self, key: int) -> torch.Tensor:
        key = int(key)
        if not 0 <= key < len(self):
            raise IndexError(f"item {key} not in [0, {len(self)})")
        image_index, crop_index = divmod(key, self.transform.num_crops)

        def make(j: int) -> torch.Tensor:
            if self._cache is None or self._cache[0] != j:
                self._cache = None
                self._cache = (j, self.transform.prepare(self.images[j]))
            return self.transform.crop(self._cache[1], crop_index)

        return self._first_good(image_index, make)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = None  # do not ship a cached image to worker processes
        return state
