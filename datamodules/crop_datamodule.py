"""Base of the data modules: splits of images -> crop datasets -> DataLoaders.

Subclasses load the images of each split in ``setup`` and hand them over with
:meth:`CropDataModule._set_split`; this class builds the datasets and the loaders.
Every batch is a float tensor ``N×3×crop_size×crop_size`` in [0, 1] (no labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from .crop_datasets import FixedCropDataset, ImageSource, RandomCropDataset
from .sampling import EpochSampler
from .skips import Skip, SkipTracker
from .transforms import EvalCrops, EvalTransform, TrainTransform

__all__ = ["CropDataModule", "Split", "stage_splits"]

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")


def stage_splits(stage: str | None) -> tuple[Split, ...]:
    """The splits a Lightning stage needs: fit -> train, val; validate -> val; test -> test.

    ``None`` (set up everything) gives all three; ``predict`` gives none.
    """
    return {
        None: SPLITS,
        "fit": ("train", "val"),
        "validate": ("val",),
        "test": ("test",),
        "predict": (),
    }[stage]


class CropDataModule(L.LightningDataModule):
    """Training crops (random crop + flip) and evaluation crops (centre or five) of images.

    Args:
        crop_size: side of the square crops, in pixels.
        resize: the shorter side of each image is reduced to this before cropping (never
            enlarged: an image smaller than the crop is skipped and counted)
            (``None``: crop at the native resolution).
        batch_size: crops per batch.
        num_workers: DataLoader worker processes (0: load in the main process).
        train_samples_per_epoch: random crops per training epoch (``None``: one per image).
        eval_crops: ``"center"`` or ``"five"`` (4 corners + centre) crops per evaluation
            image; five crops of one image are consecutive in a batch.
        seed: base seed of the training crops, flips and order (epoch by epoch).
        hue_jitter: random hue rotation of training crops, a fraction of the colour circle
            in ``[0, 0.5]`` (0: none).
        resize_in_transform: ``False`` when the subclass hands over images already resized.
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
        hue_jitter: float = 0.0,
        resize_in_transform: bool = True,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        if train_samples_per_epoch is not None and train_samples_per_epoch < 1:
            raise ValueError(f"train_samples_per_epoch must be positive or None, got {train_samples_per_epoch}")
        transform_resize = resize if resize_in_transform else None
        TrainTransform(crop_size, resize)  # clear ValueErrors for a bad crop_size or resize
        self.train_transform = TrainTransform(crop_size, transform_resize, hue_jitter)
        self.eval_transform = EvalTransform(crop_size, transform_resize, eval_crops)
        self.crop_size = crop_size
        self.resize = resize
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.train_samples_per_epoch = train_samples_per_epoch
        self.eval_crops: EvalCrops = eval_crops
        self.seed = seed
        self.skips = SkipTracker()
        self._splits: dict[str, tuple[ImageSource, list[int]]] = {}
        self._datasets: dict[str, Dataset[torch.Tensor]] = {}
        self._missing: dict[str, str] = {}  # split -> why it has no images

    # -- for subclasses ---------------------------------------------------------------

    def _set_split(self, split: Split, images: ImageSource, skip_ids: Sequence[int]) -> None:
        """Use these images (with their ids in ``self.skips``) for a split."""
        self._splits[split] = (images, list(skip_ids))
        self._datasets.pop(split, None)

    def _has_split(self, split: Split) -> bool:
        return split in self._splits

    # -- datasets and loaders ---------------------------------------------------------

    def dataset(self, split: Split) -> Dataset[torch.Tensor]:
        """The crop dataset of a split (after ``setup``); items are ``3×c×c`` floats."""
        if split not in self._datasets:
            if split in self._missing:
                raise ValueError(self._missing[split])
            if split not in self._splits:
                stage = {"train": "fit", "val": "fit", "test": "test"}[split]
                raise RuntimeError(f"the {split} split is not set up: call setup({stage!r}) first")
            images, ids = self._splits[split]
            if split == "train":
                self._datasets[split] = RandomCropDataset(
                    images,
                    self.train_transform,
                    self.train_samples_per_epoch,
                    self.seed,
                    self.skips,
                    ids,
                )
            else:
                self._datasets[split] = FixedCropDataset(images, self.eval_transform, self.skips, ids)
        return self._datasets[split]

    def split_size(self, split: Split) -> int:
        """Number of images in a split (after ``setup``; bad ones found at setup excluded)."""
        if split not in self._splits:
            raise RuntimeError(f"the {split} split is not set up")
        return len(self._splits[split][0])

    def _loader(self, split: Split) -> DataLoader[torch.Tensor]:
        dataset = self.dataset(split)
        sampler = EpochSampler(len(dataset), seed=self.seed, shuffle=True) if split == "train" else None
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            shuffle=False,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            drop_last=False,
        )

    def train_dataloader(self) -> DataLoader[torch.Tensor]:
        """Random crops, reshuffled and re-cropped every epoch (seeded by seed and epoch).

        Batches: float ``N×3×crop_size×crop_size`` in [0, 1].
        """
        return self._loader("train")

    def val_dataloader(self) -> DataLoader[torch.Tensor]:
        """Fixed crops in a fixed order. Batches: float ``N×3×crop_size×crop_size``."""
        return self._loader("val")

    def test_dataloader(self) -> DataLoader[torch.Tensor]:
        """Fixed crops in a fixed order. Batches: float ``N×3×crop_size×crop_size``."""
        return self._loader("test")

    # -- skipped images ----------------------------------------------------------------

    @property
    def skip_count(self) -> int:
        """Distinct images skipped so far (at setup, or by any DataLoader worker)."""
        return self.skips.count

    def skipped(self) -> list[Skip]:
        """Every image skipped so far: name, reason and detail."""
        return self.skips.skipped()

    def skip_report(self) -> str:
        """One line: images used and skipped, by reason (see :meth:`SkipTracker.report`)."""
        return self.skips.report()
