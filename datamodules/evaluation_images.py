"""The images the studies evaluate, streamed: each one is decoded and cropped when it is read.

:class:`EvaluationImages` is a map-style dataset whose item ``i`` is
``{"index": i, "image": 3×crop×crop float in [0, 1]}``; names and labels are known up front, the
pixels are not held in memory, so a study over ImageNet's 50,000 validation images needs the
memory of one batch. Three sources:

* :func:`held_out_images` — the embedded held-out set, 22 labelled photos: the held-out sample
  photos ``chelsea`` and ``coffee`` (scikit-image; shorter side resized to ``2 × crop``, the scale of
  the training crops of :class:`~datamodules.SamplePhotos`, then the centre crop) and the 20
  labelled ImageNet validation photos shipped in the PyPI package ``foolbox``
  (``foolbox/data/imagenet_<k>_<label>.jpg``; shorter side resized to ``round(crop × 256 / 224)``,
  then the centre crop: the ImageNet evaluation protocol scaled to the crop);
* :func:`images_from_paths` — files and folders a user names (shorter side shrunk to the crop, never
  enlarged, then the centre crop); no labels;
* :func:`sample_photo_crops` — the held-out sample photos as tensors, centre or five crops (the
  generator studies).

Labels are ImageNet class indices (0–999). ``chelsea`` is labelled 281 (tabby cat; she is an
orange tabby) and ``coffee`` 967 (espresso).
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as F

from deeprestore.metrics.scores import SSIM_WINDOW

from .image_file_dataset import check_image_files
from .image_files import load_rgb
from .image_paths import expand_image_paths
from .sample_photos import SamplePhotos, load_sample_photo
from .skips import SkipReason, SkipTracker
from .transforms import EvalCrops, EvalTransform, ImageTooSmallError

__all__ = [
    "HELD_OUT_LABELS",
    "EvalImage",
    "EvaluationImages",
    "StackedImages",
    "foolbox_imagenet_files",
    "grey_test_photos",
    "held_out_images",
    "held_out_split",
    "images_from_paths",
    "sample_photo_crops",
]

#: ImageNet labels of the held-out sample photos.
HELD_OUT_LABELS: dict[str, int] = {"chelsea": 281, "coffee": 967}
#: ``imagenet_<k>_<label>.jpg``: foolbox's labelled ImageNet photos.
FOOLBOX_NAME = re.compile(r"^imagenet_(\d+)_(\d+)\.jpg$")


@dataclass(frozen=True)
class EvalImage:
    """One image of a study, not yet decoded.

    Attributes:
        name: unique name (file stem or photo name); the ``image`` column of the studies' CSVs.
        source: a file path, or ``"sample:<photo>"`` for a sample photo of :mod:`datamodules.sample_photos`.
        resize: the shorter side is reduced to this before the centre crop (never enlarged).
        label: ImageNet class index, or ``None`` when unknown.
    """

    name: str
    source: str
    resize: int
    label: int | None = None

    def load(self) -> torch.Tensor:
        """The decoded image, uint8 ``3×H×W``."""
        if self.source.startswith("sample:"):
            return load_sample_photo(self.source.removeprefix("sample:"))
        return F.pil_to_tensor(load_rgb(self.source)).as_subclass(torch.Tensor)


class EvaluationImages(Dataset[dict[str, object]]):
    """Centre crops of :class:`EvalImage` items, decoded on access.

    Item ``i`` is ``{"index": i, "image": float 3×crop_size×crop_size in [0, 1]}``.

    Raises:
        ValueError: no images, names that are not unique, or a crop smaller than 11 pixels.
    """

    def __init__(self, images: Sequence[EvalImage], crop_size: int) -> None:
        check_crop_size(crop_size)
        names = [image.name for image in images]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"need at least one image and unique names, got {names}")
        self.images = list(images)
        self.crop_size = crop_size

    @property
    def names(self) -> list[str]:
        return [image.name for image in self.images]

    @property
    def labels(self) -> list[int | None]:
        return [image.label for image in self.images]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, object]:
        image = self.images[index]
        transform = EvalTransform(self.crop_size, image.resize, "center")
        return {"index": index, "image": transform.crop(transform.prepare(image.load()))}

    def stack(self) -> torch.Tensor:
        """Every image at once, ``N×3×crop×crop`` (small sets only)."""
        return torch.stack([self[i]["image"] for i in range(len(self))])  # type: ignore[misc]


class StackedImages(Dataset[dict[str, object]]):
    """Images already in memory (``N×C×H×W``, e.g. the sample photos' five crops) with the same
    items as :class:`EvaluationImages`: ``{"index": i, "image": C×H×W}``."""

    def __init__(self, images: torch.Tensor, names: Sequence[str]) -> None:
        if images.ndim != 4 or len(images) != len(names) or len(set(names)) != len(names) or not len(names):
            raise ValueError(f"need N×C×H×W images and N unique names, got {tuple(images.shape)} and {list(names)}")
        self.images = images
        self.names = list(names)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, object]:
        return {"index": index, "image": self.images[index]}


def check_crop_size(crop_size: int) -> int:
    """``crop_size`` if SSIM can be computed at that size (≥ 11 pixels), else ``ValueError``."""
    if crop_size < SSIM_WINDOW:
        raise ValueError(f"crop_size must be at least {SSIM_WINDOW} pixels (the SSIM window), got {crop_size}")
    return crop_size


def foolbox_imagenet_files() -> list[Path]:
    """The 20 labelled ImageNet photos inside the installed ``foolbox`` package, in index order.

    Raises:
        FileNotFoundError: foolbox is not installed, or its data folder lacks the photos.
    """
    spec = importlib.util.find_spec("foolbox")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the held-out ImageNet photos ship in the PyPI package foolbox: pip install foolbox")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    files = sorted(
        (p for p in folder.glob("imagenet_*.jpg") if FOOLBOX_NAME.match(p.name)), key=lambda p: int(FOOLBOX_NAME.match(p.name).group(1))
    )  # type: ignore[union-attr]
    if not files:
        raise FileNotFoundError(f"no imagenet_<k>_<label>.jpg photos in {folder}; reinstall foolbox")
    return files


def imagenet_resize(crop_size: int) -> int:
    """The shorter side before a centre crop in the ImageNet protocol (256 → 224), scaled."""
    return round(crop_size * 256 / 224)


def held_out_images(crop_size: int = 128) -> EvaluationImages:
    """The embedded held-out set: chelsea, coffee and foolbox's 20 ImageNet photos (22, labelled)."""
    photos = [EvalImage(name, f"sample:{name}", 2 * crop_size, HELD_OUT_LABELS[name]) for name in SamplePhotos.split_names("test")]
    imagenet = [
        EvalImage(path.stem, str(path), imagenet_resize(crop_size), int(FOOLBOX_NAME.match(path.name).group(2)))  # type: ignore[union-attr]
        for path in foolbox_imagenet_files()
    ]
    return EvaluationImages(photos + imagenet, crop_size)


def held_out_split(crop_size: int = 128) -> tuple[EvaluationImages, EvaluationImages]:
    """The held-out set split for calibration: ``(tuning, report)``. Tuning: the 10 foolbox
    ImageNet photos of even index; report: the 10 of odd index, chelsea and coffee (12), so the
    photos the presets were first tuned on are only ever reported on."""
    every = held_out_images(crop_size).images
    imagenet = [image for image in every if FOOLBOX_NAME.match(Path(image.source).name)]
    tuning = [image for image in imagenet if int(FOOLBOX_NAME.match(Path(image.source).name).group(1)) % 2 == 0]  # type: ignore[union-attr]
    report = [image for image in every if image not in tuning]
    return EvaluationImages(tuning, crop_size), EvaluationImages(report, crop_size)


def images_from_paths(
    paths: Sequence[str | os.PathLike[str]], crop_size: int, skips: SkipTracker, scan: Literal["header", "decode"] = "decode"
) -> EvaluationImages:
    """Image files and folders (recursively), each shrunk to the crop (shorter side) and centre-cropped.

    Every file is checked first (``scan="decode"``: fully decoded, so the set is exact; ``"header"``:
    header only, faster on large sets). Files found in a folder that cannot be read or are smaller
    than the crop are skipped, logged and counted in ``skips``; a file named directly that cannot
    be used is an error.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: a folder without image files, a named file that is unreadable or too small,
            or no usable image at all.
    """
    check_crop_size(crop_size)
    files = expand_image_paths(paths, skips)
    ids = skips.register([str(f.path) for f in files])
    good = set(check_image_files([f.path for f in files], skips, ids, crop_size, crop_size, scan))
    for position, file in enumerate(files):
        if file.named and position not in good:
            skip = next(s for s in skips.skipped() if s.name == str(file.path))
            hint = " (images are never enlarged; use a smaller --crop_size)" if skip.reason == SkipReason.TOO_SMALL else ""
            raise ValueError(f"{file.path}: {skip.detail}{hint}")
    kept = [files[p].path for p in sorted(good)]
    if not kept:
        raise ValueError(f"none of the image files under {', '.join(map(str, paths))} can be used ({skips.report()})")
    stems = [p.stem for p in kept]
    names = [s if stems.count(s) == 1 else str(p) for s, p in zip(stems, kept)]
    return EvaluationImages([EvalImage(n, str(p), crop_size) for n, p in zip(names, kept)], crop_size)


def sample_photo_crops(crop_size: int, resize: int, crops: EvalCrops = "center") -> tuple[torch.Tensor, list[str]]:
    """The held-out sample photos (chelsea, coffee) as ``N×3×crop×crop`` crops in [0, 1] and their
    names (``<photo>`` or ``<photo>_<crop>`` for five crops, torchvision's five-crop order).

    Raises:
        ValueError: a photo smaller than ``resize`` (images are never enlarged).
    """
    transform = EvalTransform(crop_size, resize, crops)
    images, names = [], []
    for photo in SamplePhotos.split_names("test"):
        try:
            prepared = transform.prepare(load_sample_photo(photo))
        except ImageTooSmallError as error:
            raise ValueError(f"sample photo {photo} at {resize} pixels: {error}; images are never enlarged: pass --images") from error
        for k, crop in enumerate(transform.crop_names):
            images.append(transform.crop(prepared, k))
            names.append(photo if crops == "center" else f"{photo}_{crop}")
    return torch.stack(images), names


def grey_test_photos(crop_size: int) -> tuple[list[torch.Tensor], list[str]]:
    """scikit-image's ``camera`` and the held-out sample photos chelsea and coffee as grey
    ``crop×crop`` float64 centre crops at full resolution, in [0, 1] (scikit-image's ``rgb2gray``);
    none of them is in the priors' training split.

    Raises:
        ValueError: a crop larger than a photo.
    """
    import skimage.data
    from skimage.color import rgb2gray

    photos = {
        "camera": skimage.data.camera() / 255.0,
        "chelsea": rgb2gray(skimage.data.chelsea()),
        "coffee": rgb2gray(skimage.data.coffee()),
    }
    crops = []
    for name, image in photos.items():
        h, w = image.shape
        if min(h, w) < crop_size:
            raise ValueError(f"--crop_size {crop_size} is larger than {name} ({h}×{w}); images are never enlarged")
        top, left = (h - crop_size) // 2, (w - crop_size) // 2
        crops.append(torch.from_numpy(image[top : top + crop_size, left : left + crop_size].copy()))
    return crops, list(photos)
