"""Data modules: every batch is a float tensor ``N×3×H×W`` of image crops in [0, 1].

* :class:`SamplePhotos`: the real photographs shipped in scikit-image and scikit-learn
  (the default data set; no download).
* :class:`ImageNet`: ILSVRC2012 from an ImageFolder-style root (thesis or standard split).
* :class:`ImageFolder`: any folders of photos.

Bad image files are skipped (logged once with the file name, counted); odd image modes are
converted to RGB; see :mod:`datamodules.image_files` and :mod:`datamodules.skips`.
"""

from .crop_datamodule import CropDataModule
from .image_file_dataset import ImageFileDataset
from .image_files import BadImageError, load_rgb, scan_folder
from .image_folder import ImageFolder
from .imagenet import ImageNet
from .sample_photos import SamplePhotos, sample_photo_splits
from .skips import SkipTracker
from .transforms import EvalTransform, ImageTooSmallError, TrainTransform

__all__ = [
    "BadImageError",
    "CropDataModule",
    "EvalTransform",
    "ImageFileDataset",
    "ImageFolder",
    "ImageNet",
    "ImageTooSmallError",
    "SamplePhotos",
    "SkipTracker",
    "TrainTransform",
    "scan_folder",
    "load_rgb",
    "sample_photo_splits",
]
