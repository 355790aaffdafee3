"""ImageNet (ILSVRC2012) from an ImageFolder-style root, with the thesis split."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .crop_datamodule import Split
from .image_file_dataset import ScanMode
from .image_files import scan_folder
from .image_folder import FileCropDataModule, describe_extensions
from .transforms import EvalCrops

__all__ = ["ImageNet", "ImageNetSplit", "ThesisSplit", "thesis_split"]

logger = logging.getLogger(__name__)

ImageNetSplit = Literal["thesis", "standard"]


@dataclass(frozen=True)
class ThesisSplit:
    """The thesis split of a sorted file list: ``train``, ``val``, ``test`` (lists of files).

    ``val_is_test`` tells that validation uses the held-out test images.
    """

    train: list[Path]
    val: list[Path]
    test: list[Path]
    val_is_test: bool


def thesis_split(files: list[Path], train_images: int, val_from_train: int = 0) -> ThesisSplit:
    """Split files (already sorted by file name) the thesis way.

    The first ``train_images`` files train and the rest are held out for test; validation
    uses the held-out files too, unless ``val_from_train > 0`` carves the last
    ``val_from_train`` of the training files out as validation.

    Raises:
        ValueError: too few files to leave any for test, or bad counts.
    """
    if train_images < 1:
        raise ValueError(f"train_images must be positive, got {train_images}")
    if not 0 <= val_from_train < train_images:
        raise ValueError(f"val_from_train must be in [0, train_images={train_images}), got {val_from_train}")
    if len(files) <= train_images:
        raise ValueError(
            f"{len(files)} images are too few for the thesis split: the first "
            f"{train_images} train and the rest are the held-out test set, so more than "
            f"{train_images} are needed"
        )
    train, test = files[:train_images], files[train_images:]
    if val_from_train:
        return ThesisSplit(train[:-val_from_train], train[-val_from_train:], test, False)
    return ThesisSplit(train, test, test, True)


class ImageNet(FileCropDataModule):
    """ILSVRC2012 images (labels unused) from a root with ``val/`` (and ``train/``).

    ``split="thesis"`` (default) uses only the 50,000 validation images under ``root/val``
    (a flat folder of ``ILSVRC2012_val_000xxxxx.JPEG``, or the same files in class
    subfolders), sorted by **file name** whatever the subfolders:

    ==========  ================================================================
    split       images
    ==========  ================================================================
    train       the first ``thesis_train_images`` (48,000), less the last
                ``val_from_train`` of them if that is > 0
    val         the held-out images (same as test: the thesis has no separate
                validation set), or the last ``val_from_train`` training images
    test        the rest: images 48,001 to 50,000 (2,000 held out)
    ==========  ================================================================

    The split is made on the file list *before* bad files are skipped, so a bad file
    never moves another file between splits. A folder with a number of images other than
    ``thesis_expected_images`` is split the same way, with a warning giving the counts; too
    few to leave a test set is an error.

    ``split="standard"``: train = ``root/train`` (1,281,167 images in class folders),
    val = test = ``root/val``.

    Bad files (not images despite the extension, corrupt, truncated, smaller than the crop)
    are skipped, logged once each with the file name, and counted (``skip_count``,
    ``skipped()``); odd modes (grey, RGBA, CMYK, palette, 16-bit) are converted to RGB.
    Batches are float tensors ``N×3×crop_size×crop_size`` in [0, 1], no labels.

    Args:
        root: the ImageNet root (holding ``val/`` and, for ``standard``, ``train/``).
        split: ``"thesis"`` or ``"standard"``.
        thesis_train_images: thesis split: number of training images (first by name).
        thesis_expected_images: thesis split: images expected under ``root/val``
            (another count only gives a warning).
        val_from_train: thesis split: carve the last N training images out as validation
            (0: validate on the held-out test images).
        crop_size: side of the square crops.
        resize: shorter side before cropping, never enlarged (``None``: native resolution);
            an image smaller than the crop is skipped and counted.
        batch_size: crops per batch.
        num_workers: DataLoader worker processes.
        train_samples_per_epoch: random crops per epoch (``None``: one per image).
        eval_crops: ``"center"`` or ``"five"`` (4 corners + centre).
        seed: base seed of the training crops.
        hue_jitter: random hue rotation of training crops (fraction of the colour circle, ≤ 0.5).
        scan: setup check of the files: ``"header"``, ``"decode"`` or ``"none"``.
    """

    def __init__(
        self,
        root: str,
        split: ImageNetSplit = "thesis",
        thesis_train_images: int = 48_000,
        thesis_expected_images: int = 50_000,
        val_from_train: int = 0,
        crop_size: int = 224,
        resize: int | None = 256,
        batch_size: int = 64,
        num_workers: int = 8,
        train_samples_per_epoch: int | None = None,
        eval_crops: EvalCrops = "center",
        seed: int = 0,
        hue_jitter: float = 0.0,
        scan: ScanMode = "header",
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
            scan=scan,
        )
        self.save_hyperparameters()
        if split not in ("thesis", "standard"):
            raise ValueError(f'split must be "thesis" or "standard", got {split!r}')
        if thesis_train_images < 1 or thesis_expected_images < 1:
            raise ValueError("thesis_train_images and thesis_expected_images must be positive")
        if not 0 <= val_from_train < thesis_train_images:
            raise ValueError(f"val_from_train must be in [0, thesis_train_images={thesis_train_images}), got {val_from_train}")
        self.root = Path(root)
        self.split = split
        self.thesis_train_images = thesis_train_images
        self.thesis_expected_images = thesis_expected_images
        self.val_from_train = val_from_train
        self._thesis: ThesisSplit | None = None

    def _expected(self) -> str:
        val = (
            f"{self.root / 'val'} with the {self.thesis_expected_images:,} ILSVRC2012 "
            "validation images (flat or in class folders, e.g. ILSVRC2012_val_00000001.JPEG)"
        )
        if self.split == "thesis":
            return f"expected ImageNet under {self.root}: {val} (split='thesis' uses only these)"
        return f"expected ImageNet under {self.root}: {self.root / 'train'} with the ILSVRC2012 training images in class folders, and {val}"

    def _list(self, folder: Path) -> list[Path]:
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self._expected()}; but {self.root} does not exist")
        if not folder.is_dir():
            raise FileNotFoundError(f"{self._expected()}; but {folder} does not exist")
        listing = scan_folder(folder)
        self.skips.note_listing(listing)
        files = listing.files
        if not files:
            raise ValueError(f"{self._expected()}; but {folder} holds no image files ({describe_extensions()}, searched recursively)")
        return files

    def thesis_files(self) -> ThesisSplit:
        """The thesis split of ``root/val`` (listed once; warns on an unexpected count)."""
        if self._thesis is None:
            files = self._list(self.root / "val")
            if len(files) != self.thesis_expected_images:
                logger.warning(
                    "%s holds %d images, not the %d expected; splitting the same way: "
                    "first %d by file name for training, the other %d held out",
                    self.root / "val",
                    len(files),
                    self.thesis_expected_images,
                    self.thesis_train_images,
                    max(len(files) - self.thesis_train_images, 0),
                )
            try:
                self._thesis = thesis_split(files, self.thesis_train_images, self.val_from_train)
            except ValueError as error:
                raise ValueError(f"{error}; {self._expected()}") from error
        return self._thesis

    def _split_files(self, split: Split) -> tuple[str, list[Path]]:
        if self.split == "standard":
            if split == "train":
                return "standard-train", self._list(self.root / "train")
            return "standard-val", self._list(self.root / "val")
        thesis = self.thesis_files()
        if split == "train":
            return "thesis-train", thesis.train
        if split == "test" or thesis.val_is_test:
            return "thesis-heldout", thesis.test
        return "thesis-val", thesis.val
