"""Per-image random streams, so that an image's result does not depend on its batch.

An optimisation that starts from noise gives each image its own ``torch.Generator``, seeded from
the run's seed and the image itself:

* :func:`image_seeds` keys the stream on the image's **pixels** (a BLAKE2b hash of its float32
  values): the same image and seed start from the same noise whatever the batch size, its
  position in the batch, the other images, or its file name;
* :func:`index_seeds` keys it on a position, for runs with no input image (activation
  maximisation: image ``i`` of ``num_images``).

The jitter of :func:`~deeprestore.inversion.engine.minimise` draws one offset per iteration from
the run's seed alone, shared by every image of the batch, so it too is the same for an image
whatever batch it is in.
"""

from __future__ import annotations

import hashlib

from torch import Tensor

__all__ = ["image_seeds", "index_seeds"]

_MASK = (1 << 63) - 1


def _digest(*parts: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(b"".join(parts), digest_size=8).digest(), "little") & _MASK


def image_seeds(images: Tensor, seed: int) -> list[int]:
    """One 63-bit seed per image of ``images`` (``N×…``), from ``seed`` and the image's float32 pixels."""
    values = images.detach().float().cpu().contiguous()
    key = int(seed).to_bytes(8, "little", signed=True)
    return [_digest(key, values[i].numpy().tobytes()) for i in range(values.shape[0])]


def index_seeds(count: int, seed: int) -> list[int]:
    """One 63-bit seed per position ``0 … count − 1``, from ``seed``."""
    key = int(seed).to_bytes(8, "little", signed=True)
    return [_digest(key, b"index", i.to_bytes(8, "little")) for i in range(count)]
