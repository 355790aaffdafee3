"""The embedded default data set: real colour photographs shipped inside scikit-image and
scikit-learn, so training and tests need no download."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from .crop_datamodule import CropDataModule, Split, stage_splits
from .skips import SkipReason
from .transforms import EvalCrops, resize_shorter_side

__all__ = ["SAMPLE_PHOTOS", "SamplePhotos", "load_sample_photo", "sample_photo_splits"]

logger = logging.getLogger(__name__)


def _skimage(name: str, item: int | None = None) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[item] if item is not None else image

    return load


def _sklearn(file_name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(file_name)

    return load


#: name -> (split, loader returning uint8 ``H×W×3``). Sizes are H×W of the originals.
SAMPLE_PHOTOS: dict[str, tuple[Split, Callable[[], np.ndarray]]] = {
    "astronaut": ("train", _skimage("astronaut")),  # 512×512, skimage
    "rocket": ("train", _skimage("rocket")),  # 427×640, skimage
    "hubble_deep_field": ("train", _skimage("hubble_deep_field")),  # 872×1000, skimage
    "retina": ("train", _skimage("retina")),  # 1411×1411, skimage
    "immunohistochemistry": ("train", _skimage("immunohistochemistry")),  # 512×512, skimage
    "motorcycle_left": ("train", _skimage("stereo_motorcycle", 0)),  # 500×741, skimage
    "motorcycle_right": ("train", _skimage("stereo_motorcycle", 1)),  # 500×741, skimage
    "china": ("train", _sklearn("china.jpg")),  # 427×640, scikit-learn
    "flower": ("val", _sklearn("flower.jpg")),  # 427×640, scikit-learn
    "chelsea": ("test", _skimage("chelsea")),  # 300×451, skimage
    "coffee": ("test", _skimage("coffee")),  # 400×600, skimage
}


def sample_photo_splits() -> list[tuple[str, Split]]:
    """``(name, split)`` of every sample photo, in a fixed order (train, val, test)."""
    return [(name, split) for name, (split, _) in SAMPLE_PHOTOS.items()]


def load_sample_photo(name: str) -> torch.Tensor:
    """One sample photo, decoded, as a uint8 tensor ``3×H×W`` (RGB).

    Raises:
        KeyError: unknown name.
        ValueError: the package returned something that is not an 8-bit RGB image.
    """
    if name not in SAMPLE_PHOTOS:
        raise KeyError(f"unknown sample photo {name!r}; known: {', '.join(SAMPLE_PHOTOS)}")
    array = np.asarray(SAMPLE_PHOTOS[name][1]())
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"sample photo {name}: expected uint8 H×W×3, got {array.shape} {array.dtype}")
    return torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1).contiguous()


class SamplePhotos(CropDataModule):
    """The 11 real colour photographs shipped inside scikit-image and scikit-learn.

    Split **by image**, fixed (the two stereo views of the motorcycle are one scene and
    stay together in train):

    =====  ===========================================================================
    split  photos (package)
    =====  ===========================================================================
    train  astronaut, rocket, hubble_deep_field, retina, immunohistochemistry,
           motorcycle_left, motorcycle_right (skimage ``stereo_motorcycle`` views),
           china (scikit-learn) — 8 photos
    val    flower (scikit-learn) — 1 photo
    test   chelsea, coffee (skimage) — 2 photos
    =====  ===========================================================================

    Training: ``train_samples_per_epoch`` random crops per epoch, spread evenly over the 8
    training photos, with random horizontal flips; crops, flips and order follow from
    ``seed`` and the epoch number. Validation and test: fixed crops (``eval_crops``), so
    ``"five"`` gives 5 val crops and 10 test crops. Every batch is a float tensor
    ``N×3×crop_size×crop_size`` in [0, 1].

    The photos are decoded once in ``setup`` and kept in memory as uint8 tensors, already
    resized (a few MB in all).

    Why ``resize=256`` by default: the photos range from 300 to 1411 pixels on the shorter
    side, so cropping at the native resolution would give crops of very different scale
    (a 128-pixel crop sees 9% of the retina's width but 28% of chelsea's). Resizing every
    shorter side to 256 puts all photos at one scale, the one of the usual ImageNet
    preprocessing (resize 256) that pretrained networks expect, and a 128 crop then sees
    half the shorter side: object parts with context, not flat texture. Change ``resize``
    together with ``crop_size`` (e.g. ``2 * crop_size``); it must be at least ``crop_size``.

    Args:
        crop_size: side of the square crops, in pixels.
        resize: shorter side of every photo before cropping (never enlarged); ``None`` crops at native
            resolution (then photos smaller than the crop are skipped, with a warning).
        batch_size: crops per batch.
        num_workers: DataLoader worker processes.
        train_samples_per_epoch: random training crops per epoch.
        eval_crops: ``"center"`` (1 crop per photo) or ``"five"`` (4 corners + centre).
        seed: base seed of the training crops.
        hue_jitter: random hue rotation of training crops (fraction of the colour circle, ≤ 0.5).
    """

    def __init__(
        self,
        crop_size: int = 128,
        resize: int | None = 256,
        batch_size: int = 8,
        num_workers: int = 0,
        train_samples_per_epoch: int = 256,
        eval_crops: EvalCrops = "five",
        seed: int = 0,
        hue_jitter: float = 0.0,
    ) -> None:
        super().__init__(
            crop_size=crop_size,
            resize=resize,
            batch_size=batch_size,
            num_workers=num_workers,
            train_samples_per_epoch=train_samples_per_epoch,
            eval_crops=eval_crops,
            seed=seed,
            hue_jitter=hue_jitter,
            resize_in_transform=False,  # the photos are resized once, in setup
        )
        self.save_hyperparameters()
        self._photo_ids: dict[str, int] = {}

    @staticmethod
    def split_names(split: Split) -> list[str]:
        """Names of the photos in a split, in dataset order."""
        return [name for name, s in sample_photo_splits() if s == split]

    def setup(self, stage: str | None = None) -> None:
        """Decode and resize the photos of the splits this stage needs (once)."""
        if not self._photo_ids:
            self._photo_ids = dict(zip(SAMPLE_PHOTOS, self.skips.register(list(SAMPLE_PHOTOS)), strict=True))
        for split in stage_splits(stage):
            if self._has_split(split):
                continue
            images, ids = [], []
            for name in self.split_names(split):
                image = resize_shorter_side(load_sample_photo(name), self.resize)
                height, width = image.shape[-2:]
                if min(height, width) < self.crop_size:
                    self.skips.record(
                        self._photo_ids[name],
                        SkipReason.TOO_SMALL,
                        f"{width}x{height} pixels is smaller than the {self.crop_size}-pixel crop",
                    )
                    continue
                images.append(image)
                ids.append(self._photo_ids[name])
            if not images:
                raise ValueError(
                    f"no {split} photo is at least {self.crop_size} pixels on its shorter side "
                    f"(resize={self.resize}); use a smaller crop_size or set resize"
                )
            self._set_split(split, images, ids)
