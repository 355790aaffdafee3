"""Crop transforms: image (PIL, or uint8 tensor ``3×H×W``) -> float tensor ``3×c×c`` in [0, 1].

Built from ``torchvision.transforms.v2.functional``. The random choices of the training
transform come from an explicit ``torch.Generator`` passed per call, never from torch's
global random state (``v2.RandomCrop`` and ``v2.RandomHorizontalFlip`` draw from the global
state), so a crop is reproducible from a seed and independent of which worker makes it.

The optional resize only ever shrinks (shorter side down to ``resize``; see
:func:`resize_shorter_side`). An image smaller than the crop after it raises
:class:`ImageTooSmallError`; the crop datasets turn that into a counted, logged skip.
"""

from __future__ import annotations

from typing import Literal

import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F

__all__ = [
    "EvalCrops",
    "EvalTransform",
    "ImageTooSmallError",
    "TrainTransform",
    "resize_shorter_side",
    "resized_size",
    "to_uint8_tensor",
]

EvalCrops = Literal["center", "five"]
"""``"center"``: one centre crop; ``"five"``: the four corner crops then the centre crop."""

_FIVE_CROP_NAMES = ("top_left", "top_right", "bottom_left", "bottom_right", "center")


class ImageTooSmallError(ValueError):
    """The image (after the optional resize) is smaller than the crop."""

    def __init__(self, height: int, width: int, crop_size: int) -> None:
        super().__init__(height, width, crop_size)
        self.height, self.width, self.crop_size = height, width, crop_size

    def __str__(self) -> str:
        return f"{self.width}x{self.height} pixels is smaller than the {self.crop_size}-pixel crop"


def to_uint8_tensor(image: Image.Image | torch.Tensor) -> torch.Tensor:
    """A PIL RGB image or uint8 tensor ``3×H×W`` as a plain uint8 tensor ``3×H×W``."""
    if isinstance(image, Image.Image):
        if image.mode != "RGB":
            raise ValueError(f"expected an RGB image, got mode {image.mode}")
        tensor = F.pil_to_tensor(image)
    else:
        tensor = image
    if tensor.dtype != torch.uint8 or tensor.ndim != 3 or tensor.shape[0] != 3:
        raise ValueError(f"expected a uint8 tensor 3xHxW, got {tuple(tensor.shape)} {tensor.dtype}")
    return tensor.as_subclass(torch.Tensor)


#: The longer side after a resize is at most this many times the requested shorter side,
#: so a thin strip (say 1×20000 pixels) cannot blow up into gigabytes; its shorter side
#: then ends up below the requested size (and the image is usually too small to crop).
MAX_ASPECT_RATIO = 10


def resize_shorter_side(image: torch.Tensor, size: int | None) -> torch.Tensor:
    """Shrink uint8 ``3×H×W`` so its shorter side is ``size`` (bilinear, antialiased).

    **Images are never enlarged**: one whose shorter side is ``size`` or less is returned as
    is, and an image too small for the crop is then skipped by the datasets rather than
    upsampled into a blurred crop that would count in the means. The longer side is capped at
    ``MAX_ASPECT_RATIO × size``. ``None`` returns the image unchanged.
    """
    if size is None or min(image.shape[-2:]) <= size:
        return image
    resized = F.resize(image, [size], max_size=MAX_ASPECT_RATIO * size, antialias=True)
    return resized.as_subclass(torch.Tensor)


def resized_size(height: int, width: int, size: int | None) -> tuple[int, int]:
    """``(height, width)`` that :func:`resize_shorter_side` gives an image of this size.

    Mirrors torchvision's rounding (used to check sizes from file headers without decoding).
    """
    if size is None or min(height, width) <= size:
        return height, width
    short, long = min(height, width), max(height, width)
    new_short, new_long = size, int(size * long / short)
    max_size = MAX_ASPECT_RATIO * size
    if new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if width <= height else (new_short, new_long)


def _check_size(image: torch.Tensor, crop_size: int) -> None:
    height, width = image.shape[-2:]
    if height < crop_size or width < crop_size:
        raise ImageTooSmallError(int(height), int(width), crop_size)


def _to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 -> float32 in [0, 1], contiguous (so crops do not keep the full image alive)."""
    return F.to_dtype(image, torch.float32, scale=True).contiguous()


def _check_sizes(crop_size: int, resize: int | None) -> None:
    if crop_size < 1:
        raise ValueError(f"crop_size must be positive, got {crop_size}")
    if resize is not None and resize < crop_size:
        raise ValueError(
            f"resize ({resize}) must be at least crop_size ({crop_size}): the shorter side "
            "is resized before cropping, so every image would be too small"
        )


class TrainTransform:
    """Optional resize of the shorter side, random ``crop_size`` crop, random horizontal flip,
    optional random hue rotation.

    Call with an image (PIL RGB or uint8 ``3×H×W``) and a ``torch.Generator``; returns a
    float tensor ``3×crop_size×crop_size`` in [0, 1].

    ``hue_jitter`` rotates the hue by a uniform amount in ``[-hue_jitter, hue_jitter]`` (a
    fraction of the colour circle, at most 0.5). With a handful of training photos an inverting
    network otherwise learns their colours as a prior and paints unseen colours wrong.
    """

    def __init__(self, crop_size: int, resize: int | None = None, hue_jitter: float = 0.0) -> None:
        _check_sizes(crop_size, resize)
        if not 0.0 <= hue_jitter <= 0.5:
            raise ValueError(f"hue_jitter must be in [0, 0.5], got {hue_jitter}")
        self.crop_size = crop_size
        self.resize = resize
        self.hue_jitter = hue_jitter

    def __call__(self, image: Image.Image | torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        tensor = resize_shorter_side(to_uint8_tensor(image), self.resize)
        _check_size(tensor, self.crop_size)
        height, width = tensor.shape[-2:]
        top = int(torch.randint(height - self.crop_size + 1, (1,), generator=generator))
        left = int(torch.randint(width - self.crop_size + 1, (1,), generator=generator))
        flip = bool(torch.rand((), generator=generator) < 0.5)
        crop = F.crop(tensor, top, left, self.crop_size, self.crop_size)
        if flip:
            crop = F.horizontal_flip(crop)
        if self.hue_jitter > 0:
            shift = (2 * float(torch.rand((), generator=generator)) - 1) * self.hue_jitter
            crop = F.adjust_hue(crop, shift)
        return _to_float(crop)

    def __repr__(self) -> str:
        return f"TrainTransform(crop_size={self.crop_size}, resize={self.resize}, hue_jitter={self.hue_jitter})"


class EvalTransform:
    """Optional resize of the shorter side, then fixed crops: centre, or 4 corners + centre.

    ``transform(image, k)`` returns crop ``k`` (``0 <= k < num_crops``) as a float tensor
    ``3×crop_size×crop_size`` in [0, 1]; the five crops are ordered top-left, top-right,
    bottom-left, bottom-right, centre (torchvision's ``five_crop`` order).
    To crop one image several times, resize once with :meth:`prepare` and use :meth:`crop`.
    """

    def __init__(self, crop_size: int, resize: int | None = None, crops: EvalCrops = "center") -> None:
        _check_sizes(crop_size, resize)
        if crops not in ("center", "five"):
            raise ValueError(f'crops must be "center" or "five", got {crops!r}')
        self.crop_size = crop_size
        self.resize = resize
        self.crops: EvalCrops = crops

    @property
    def num_crops(self) -> int:
        """Crops per image: 1 or 5."""
        return 1 if self.crops == "center" else 5

    @property
    def crop_names(self) -> tuple[str, ...]:
        """Names of the crops, in index order."""
        return ("center",) if self.crops == "center" else _FIVE_CROP_NAMES

    def prepare(self, image: Image.Image | torch.Tensor) -> torch.Tensor:
        """Resize (if set) and check the size; returns uint8 ``3×H'×W'``.

        Raises:
            ImageTooSmallError: the (resized) image is smaller than the crop.
        """
        tensor = resize_shorter_side(to_uint8_tensor(image), self.resize)
        _check_size(tensor, self.crop_size)
        return tensor

    def crop(self, prepared: torch.Tensor, index: int = 0) -> torch.Tensor:
        """Crop ``index`` of an image returned by :meth:`prepare`: float ``3×c×c``."""
        if not 0 <= index < self.num_crops:
            raise IndexError(f"crop index {index} not in [0, {self.num_crops})")
        size = [self.crop_size, self.crop_size]
        if self.crops == "center":
            crop = F.center_crop(prepared, size)
        else:
            crop = F.five_crop(prepared, size)[index]
        return _to_float(crop.as_subclass(torch.Tensor))

    def __call__(self, image: Image.Image | torch.Tensor, index: int = 0) -> torch.Tensor:
        return self.crop(self.prepare(image), index)

    def __repr__(self) -> str:
        return f"EvalTransform(crop_size={self.crop_size}, resize={self.resize}, crops={self.crops!r})"
