"""Image files from a command line's paths: files given by name, and the image files of folders.

Shared by ``evaluate.py`` and ``python -m deeprestore.stats`` so that both apply the rule of the
data modules: folders are searched recursively by extension (:data:`~datamodules.image_files.
IMAGE_EXTENSIONS`), what a listing leaves out (unreadable sub-folders, other extensions) is
counted in a :class:`~datamodules.skips.SkipTracker`, and every path is taken whole (a comma is
part of a file name, not a separator).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .image_files import IMAGE_EXTENSIONS, scan_folder
from .skips import SkipTracker

__all__ = ["ImagePath", "expand_image_paths"]


@dataclass(frozen=True)
class ImagePath:
    """One image file to read.

    Attributes:
        path: the file.
        named: ``True`` if the user named this file (its failure is an error), ``False`` if it
            was found in a folder (its failure is a counted skip).
    """

    path: Path
    named: bool


def expand_image_paths(paths: Sequence[str | os.PathLike[str]], skips: SkipTracker) -> list[ImagePath]:
    """The files named in ``paths`` and the image files under its folders, in the order given
    (each folder's files sorted by file name); folder listings are noted in ``skips``.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: no paths, or a folder without image files.
    """
    if not paths:
        raise ValueError("no image paths given")
    found: list[ImagePath] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            listing = scan_folder(entry)
            skips.note_listing(listing)
            if not listing.files:
                raise ValueError(f"no image files in folder {entry} (extensions: {' '.join(IMAGE_EXTENSIONS)}, any case)")
            found += [ImagePath(f, named=False) for f in listing.files]
        elif entry.is_file():
            found.append(ImagePath(entry, named=True))
        else:
            raise FileNotFoundError(f"image path does not exist: {entry}")
    return found
