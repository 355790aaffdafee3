"""Data modules reading image files from folders: a generic base, and :class:`ImageFolder`."""

from __future__ import annotations

import logging
from pathlib import Path

from PIL import ImageFile

from .crop_datamodule import CropDataModule, Split, stage_splits
from .image_file_dataset import ImageFileDataset, ScanMode, check_image_files
from .image_files import IMAGE_EXTENSIONS, scan_folder
from .transforms import EvalCrops

__all__ = ["FileCropDataModule", "ImageFolder", "describe_extensions"]

logger = logging.getLogger(__name__)


def describe_extensions() -> str:
    """The image extensions as a phrase for error messages."""
    return ", ".join(IMAGE_EXTENSIONS) + " (any case)"


class FileCropDataModule(CropDataModule):
    """Base of the file-based data modules; subclasses say which files make each split.

    In ``setup`` every file of a needed split is registered with the skip tracker and
    scanned (``scan``); files that fail are skipped (logged once, counted) and the rest
    become an :class:`~datamodules.image_file_dataset.ImageFileDataset`. Files that fail
    later, while loading (e.g. truncated files under ``scan="header"``), are skipped by the
    crop datasets, which then use the next good file instead.

    Args:
        scan: ``"header"`` (default: fast, finds non-images and too-small images),
            ``"decode"`` (full decode at setup: also finds corrupt and truncated files, so
            evaluation sets stay exact) or ``"none"``.
        Other args: see :class:`~datamodules.crop_datamodule.CropDataModule`.
    """

    def __init__(
        self,
        crop_size: int,
        resize: int | None,
        batch_size: int,
        num_workers: int,
        train_samples_per_epoch: int | None,
        eval_crops: EvalCrops,
        seed: int,
        scan: ScanMode,
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
        )
        if scan not in ("none", "header", "decode"):
            raise ValueError(f'scan must be "none", "header" or "decode", got {scan!r}')
        self.scan = scan
        # group key -> (files, tracker ids, positions of the usable files)
        self._groups: dict[str, tuple[list[Path], list[int], list[int]]] = {}

    def _split_files(self, split: Split) -> tuple[str, list[Path]] | None:
        """The candidate files of a split, sorted, and a key naming that list.

        Splits that use the very same list (e.g. val and test) return the same key, so its
        files are registered and scanned once. ``None``: the split has no files (its
        loader then raises). Raise ``FileNotFoundError``/``ValueError`` with what was
        expected when the files are missing.
        """
        raise NotImplementedError

    def _no_split_message(self, split: Split) -> str:
        """Error text for a loader of a split that ``_split_files`` said has no files."""
        return f"this data module has no {split} split"

    def setup(self, stage: str | None = None) -> None:
        """List, register and scan the files of the splits this stage needs (once)."""
        if ImageFile.LOAD_TRUNCATED_IMAGES:
            logger.warning(
                "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True (set by some other code): "
                "truncated image files will not be detected and will load partly grey"
            )
        for split in stage_splits(stage):
            if self._has_split(split):
                continue
            found = self._split_files(split)
            if found is None:
                self._missing[split] = self._no_split_message(split)
                continue
            key, files = found
            if key not in self._groups:
                ids = list(self.skips.register([str(f) for f in files]))
                good = check_image_files(files, self.skips, ids, self.crop_size, self.resize, self.scan)
                self._groups[key] = (files, ids, good)
            files, ids, good = self._groups[key]
            if not good:
                raise ValueError(
                    f"none of the {len(files)} image files of the {split} split can be used "
                    f"(all skipped: see the warnings logged above); first file: {files[0]}"
                )
            self._set_split(split, ImageFileDataset([files[g] for g in good]), [ids[g] for g in good])


class ImageFolder(FileCropDataModule):
    """Any folders of photos: one folder per split, each searched recursively.

    Image files are recognised by extension (``.jpg .jpeg .png .bmp .tif .tiff .webp
    .ppm``, any case); class subfolders are allowed and ignored (no labels). Files are
    used in order of file name. Odd modes (grey, RGBA, CMYK, palette, 16-bit) are
    converted to RGB; unreadable or too-small files are skipped, logged once, counted
    (``skip_count``, ``skipped()``).

    Without ``val``, validation uses ``test`` and vice versa. With neither, only training
    works: set the Trainer's ``limit_val_batches=0`` (or use a model without
    ``validation_step``).

    Args:
        train: folder of training photos (``None``: no training split).
        val: folder of validation photos.
        test: folder of test photos.
        crop_size: side of the square crops.
        resize: shorter side before cropping, never enlarged (``None``: native resolution). Photos from
            cameras are thousands of pixels wide, so cropping them natively gives flat
            texture: 256 (the ImageNet scale) is the default.
        batch_size: crops per batch.
        num_workers: DataLoader worker processes.
        train_samples_per_epoch: random crops per epoch (``None``: one per photo).
        eval_crops: ``"center"`` or ``"five"`` (4 corners + centre).
        seed: base seed of the training crops.
        hue_jitter: random hue rotation of training crops (fraction of the colour circle, ≤ 0.5).
        scan: setup check of the files: ``"header"``, ``"decode"`` or ``"none"``.
    """

    def __init__(
        self,
        train: str | None = None,
        val: str | None = None,
        test: str | None = None,
        crop_size: int = 128,
        resize: int | None = 256,
        batch_size: int = 8,
        num_workers: int = 4,
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
        if train is None and val is None and test is None:
            raise ValueError("ImageFolder needs at least one folder: train, val or test")
        self.folders: dict[Split, Path | None] = {
            "train": Path(train) if train is not None else None,
            "val": Path(val) if val is not None else None,
            "test": Path(test) if test is not None else None,
        }

    def _folder(self, split: Split) -> Path | None:
        folder = self.folders[split]
        if folder is None and split in ("val", "test"):
            other: Split = "test" if split == "val" else "val"
            folder = self.folders[other]
            if folder is not None:
                logger.info("no %s folder given: the %s split uses %s", split, split, folder)
        return folder

    def _split_files(self, split: Split) -> tuple[str, list[Path]] | None:
        folder = self._folder(split)
        if folder is None:
            return None
        expected = f"expected a folder of {split} images ({describe_extensions()}, searched recursively) at {folder}"
        if not folder.is_dir():
            raise FileNotFoundError(f"{expected}, but it does not exist or is not a folder")
        listing = scan_folder(folder)
        self.skips.note_listing(listing)
        files = listing.files
        if not files:
            raise ValueError(f"{expected}, but it holds no image files")
        return str(folder.resolve()), files

    def _no_split_message(self, split: Split) -> str:
        if split == "train":
            return "no train folder given: ImageFolder(train=...) is needed for training"
        return f"no {split} folder given (neither val nor test): set the Trainer's limit_val_batches=0 to train without validation"
