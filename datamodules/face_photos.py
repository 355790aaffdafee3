"""Real face photos for a face generator's out-of-range test (Daras et al. 2021, §5: images the
generator did not make).

The only real face photo shipped in this project's dependencies is scikit-image's ``astronaut()``
(Eileen Collins, NASA, public domain). :func:`astronaut_faces` cuts it the way the DigiFace-1M
faces the DCGAN of ``gan-face-generate`` was trained on are framed — the face filling most of a
square, hair at the top and chin at the bottom — at three framings and their mirror images, so
six views of **one** face (not six faces; a report says so):

=============  ====================  ==========================================
name           box (rows, columns)   framing
=============  ====================  ==========================================
``tight``      50–200, 150–300       150 px square centred on the face
``wide``       35–215, 135–315       180 px: more hair and shoulders
``shifted``    55–205, 165–315       the tight box moved 5 px down, 15 px right
=============  ====================  ==========================================

Each box is resized to ``size × size`` with an antialiased bicubic filter (Pillow). Face photos
of your own (``--images``) are prepared by the studies' one rule for files: the shorter side
reduced to the size (never enlarged) and the centre square kept — pass photos cropped to the
face as above.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

__all__ = ["ASTRONAUT_BOXES", "astronaut_faces"]

#: name → (top, bottom, left, right) in ``skimage.data.astronaut()`` (512×512)
ASTRONAUT_BOXES: dict[str, tuple[int, int, int, int]] = {
    "tight": (50, 200, 150, 300),
    "wide": (35, 215, 135, 315),
    "shifted": (55, 205, 165, 315),
}


def astronaut_faces(size: int = 64) -> tuple[torch.Tensor, list[str]]:
    """Six ``3×size×size`` views of the astronaut's face in ``[0, 1]`` and their names
    (``astronaut_<framing>`` and ``astronaut_<framing>_mirror``)."""
    import skimage.data

    photo = skimage.data.astronaut()
    images, names = [], []
    for name, (top, bottom, left, right) in ASTRONAUT_BOXES.items():
        crop = Image.fromarray(np.ascontiguousarray(photo[top:bottom, left:right])).resize(
            (size, size), Image.Resampling.BICUBIC, reducing_gap=None
        )
        face = torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255.0).permute(2, 0, 1)
        images += [face, face.flip(-1)]
        names += [f"astronaut_{name}", f"astronaut_{name}_mirror"]
    return torch.stack(images).clamp(0, 1), names
