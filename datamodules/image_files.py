"""Reading image files robustly: every readable image becomes an 8-bit RGB PIL image.

Mode conversions done by :func:`to_rgb` (``H×W`` is the image size, values are 8-bit):

============================  ==============================================================
Pillow mode                   Conversion to ``RGB``
============================  ==============================================================
``RGB``                       unchanged
``1`` (1-bit)                 0 -> 0, 1 -> 255 in all three channels
``L`` (grey)                  grey value copied to R, G and B
``LA``, ``La``, ``PA``        alpha **composited onto white**: ``v = a*c + (1-a)*255``
``RGBA``, ``RGBa``            alpha composited onto white (as above, per channel)
``P`` (palette)               palette colours; with a ``transparency`` entry, composited
                              onto white like ``RGBA`` (so is a PNG colour key on ``L``
                              or ``RGB``)
``CMYK``                      Pillow's conversion ``R = (255-K)(255-C)/255`` (Adobe-inverted
                              JPEGs are un-inverted by Pillow when decoding)
``I;16``, ``I;16B``,          16-bit: ``round(v / 257)`` (65535 -> 255), grey to RGB
``I;16L``, ``I;16N``
``I`` (32-bit signed int)     values in 0..65535 are 16-bit data (Pillow stores 16-bit
                              images in ``I`` in some paths): ``round(v / 257)``; values
                              above 65535 use the unsigned 32-bit range:
                              ``round(v / (2**32-1) * 255)``; negative values are an error
``F`` (32-bit float)          float images are taken to be in [0, 1]: ``round(v * 255)``;
                              values outside [0, 1] or non-finite values are an error
other modes (``YCbCr`` ...)   Pillow's ``convert("RGB")``; a mode Pillow cannot convert is
                              an error
============================  ==============================================================

Why composite alpha onto white rather than drop it: the colour stored under a fully
transparent pixel is arbitrary (often black, sometimes garbage left by an editor), and
transparent images (logos, cut-outs, web graphics) are meant to be seen on a light page.

16-bit *RGB* PNGs are reduced to 8 bits by Pillow itself while decoding (it keeps the high
byte, i.e. ``v >> 8``, which differs from ``round(v/257)`` by at most one level). The EXIF
orientation is applied (``PIL.ImageOps.exif_transpose``): a phone photo stored sideways with an
orientation tag is read upright, as every viewer shows it, and its header size
(:func:`probe_image`) is the upright one. Multi-frame files (GIF, multi-page TIFF) give their
first frame.

Every failure (not an image, unsupported format, corrupt, truncated, unconvertible mode)
raises :class:`BadImageError`. Truncation is only detected while Pillow's global
``ImageFile.LOAD_TRUNCATED_IMAGES`` is ``False`` (its default); this module never changes
it, and :func:`load_rgb` forces a full decode with ``Image.load()``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from PIL.ExifTags import Base as ExifTags

__all__ = [
    "BadImageError",
    "FolderListing",
    "IMAGE_EXTENSIONS",
    "load_rgb",
    "probe_image",
    "scan_folder",
    "to_rgb",
]

#: File name extensions (lower case) taken as images; matching ignores case.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".gif",
)

logger = logging.getLogger(__name__)

_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
#: the EXIF orientation tag, and its values that turn the image by a quarter (width and height swap)
ORIENTATION = ExifTags.Orientation
_TRANSPOSED = {5, 6, 7, 8}
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}
_MAX_16 = 65535
_MAX_32 = 2**32 - 1


class BadImageError(ValueError):
    """A file that cannot be read as an image.

    Attributes:
        path: the file.
        reason: what went wrong, in words.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(str(path), reason)
        self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class FolderListing:
    """What :func:`scan_folder` found under a folder.

    Attributes:
        root: the folder searched.
        files: image files (by extension), sorted by file name, ties broken by full path.
        unreadable_folders: ``(folder, reason)`` of every sub-folder that could not be listed.
        other_files: files whose extension is not an image extension (not read).
    """

    root: Path
    files: list[Path]
    unreadable_folders: list[tuple[str, str]] = field(default_factory=list)
    other_files: list[Path] = field(default_factory=list)


def scan_folder(root: str | os.PathLike[str], extensions: Iterable[str] = IMAGE_EXTENSIONS) -> FolderListing:
    """Every file under ``root`` (recursively), split into image files and the rest.

    Extensions match case-insensitively (``.JPEG`` is ``.jpeg``). Symbolic links to files
    are listed; symbolic links to folders below ``root`` are followed, each real folder
    once (so a link loop cannot recurse forever). A sub-folder that cannot be listed
    (permissions, I/O error) is logged as a warning and recorded, never dropped silently.

    Returns:
        The listing; its files are sorted by file name (not by folder), ties broken by full
        path, so that a flat folder and the same files in class subfolders give the same order.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        PermissionError: ``root`` itself cannot be listed.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {root}")
    try:
        os.scandir(root).close()
    except OSError as error:
        raise PermissionError(f"cannot list the folder {root}: {error.strerror or error}") from error
    wanted = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    listing = FolderListing(root, [])

    def unreadable(error: OSError) -> None:
        folder = str(error.filename or "?")
        listing.unreadable_folders.append((folder, error.strerror or str(error)))
        logger.warning("skipped folder %s: cannot list it (%s)", folder, error.strerror or error)

    visited: set[str] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True, onerror=unreadable):
        real = os.path.realpath(folder)
        if real in visited:  # a symbolic link loop, or a folder reached twice
            subfolders.clear()
            continue
        visited.add(real)
        for name in names:
            path = Path(folder) / name
            (listing.files if os.path.splitext(name)[1].lower() in wanted else listing.other_files).append(path)
    listing.files.sort(key=lambda p: (p.name, str(p)))
    listing.other_files.sort()
    return listing


def probe_image(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Read only the header of an image file (fast; does not detect truncation).

    Returns:
        ``(width, height)`` in pixels.

    Raises:
        BadImageError: not an image file, unsupported format, or an empty image.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(ORIENTATION, 1) in _TRANSPOSED:  # turned by a quarter: upright it is H×W
                width, height = height, width
    except Exception as error:  # Pillow raises many types: OSError, SyntaxError, ...
        raise BadImageError(path, _describe(error)) from error
    if width < 1 or height < 1:
        raise BadImageError(path, f"empty image ({width}x{height})")
    return width, height


def load_rgb(path: str | os.PathLike[str]) -> Image.Image:
    """Fully decode an image file to an 8-bit RGB PIL image (see module table).

    Returns:
        A loaded PIL image of mode ``RGB``, size ``W×H`` of the file.

    Raises:
        BadImageError: not an image, corrupt, truncated, or a mode that cannot be converted.
    """
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(ImageOps.exif_transpose(image))
    except Exception as error:  # Pillow raises many types: OSError, SyntaxError, ...
        raise BadImageError(path, _describe(error)) from error


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert a loaded PIL image of any mode to 8-bit ``RGB`` (see module table).

    Raises:
        ValueError: values outside the range of the mode (``I`` negative, ``F`` outside
            [0, 1] or not finite), or a mode Pillow cannot convert.
    """
    mode = image.mode
    if mode in ("P", "L", "RGB") and "transparency" in image.info:
        # palette transparency, or a PNG colour key (tRNS) on a grey or RGB image
        return _composite_on_white(image.convert("RGBA"))
    if mode == "RGB":
        return image.copy()
    if mode in _ALPHA_MODES:
        return _composite_on_white(image.convert("RGBA"))
    if mode in _SIXTEEN_BIT_MODES:
        return _grey_to_rgb(_scale_to_8bit(np.asarray(image), _MAX_16))
    if mode == "I":
        values = np.asarray(image, dtype=np.int64)
        if values.size and values.min() < 0:
            raise ValueError(f"mode I image with negative values (min {values.min()})")
        top = _MAX_16 if not values.size or values.max() <= _MAX_16 else _MAX_32
        return _grey_to_rgb(_scale_to_8bit(values, top))
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError("mode F image with non-finite values")
        if values.size and (values.min() < 0.0 or values.max() > 1.0):
            raise ValueError(f"mode F image with values in [{values.min():g}, {values.max():g}], expected [0, 1]")
        return _grey_to_rgb(_scale_to_8bit(values, 1.0))
    return image.convert("RGB")


def _scale_to_8bit(values: np.ndarray, top: float) -> np.ndarray:
    """Map ``[0, top]`` linearly to ``[0, 255]`` with rounding; returns ``uint8``."""
    scaled = np.rint(values.astype(np.float64) * (255.0 / top))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> Image.Image:
    """``H×W`` uint8 array to an RGB image with three equal channels."""
    return Image.fromarray(np.ascontiguousarray(np.stack([grey, grey, grey], axis=-1)))


def _composite_on_white(rgba: Image.Image) -> Image.Image:
    """Alpha-composite an RGBA image onto an opaque white background; returns RGB."""
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _describe(error: BaseException) -> str:
    """A one-line reason for an exception raised while reading a file."""
    text = str(error).strip() or "no details"
    return f"{type(error).__name__}: {text}"
