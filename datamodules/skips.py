"""Counting and logging skipped images, across DataLoader worker processes.

Design: a :class:`SkipTracker` knows the name of every image it may skip (registered in the
main process, during ``setup``) and keeps one flag byte per image in a **shared-memory torch
tensor** (``Tensor.share_memory_()``). A DataLoader worker that finds a bad image writes the
reason code into that byte; the tensor's storage is the same memory in the main process and
in every worker, whether workers are forked (the storage is inherited) or spawned (torch
pickles shared tensors by handle). So:

* ``count`` is exact everywhere: it counts *flagged images*, not events, so there is no
  lost increment to guard with a lock, and an image found bad twice counts once.
* the main process can list every skipped image (name and reason code), including those
  found inside workers, because it holds the names.
* each image is logged once (``logging.getLogger(__name__).warning`` with the name and the
  reason): the process that flips the flag from 0 logs. A bad image is never decoded again
  once flagged. The only way to get two log lines for one image is two workers decoding
  the same bad image at the same instant and both reading the flag before either writes it
  (a window of a few instructions); the count stays exact even then.

The detailed reason text is kept in the process that found the skip (the main process for
skips found during ``setup``); skips found inside workers are listed in the main process
with their reason code and with the detail from the worker's log line.
Log records written inside worker processes go to the handlers those processes have
(inherited when forked); with ``num_workers=0`` everything is logged in the main process.
"""

from __future__ import annotations

import bisect
import enum
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .image_files import FolderListing

__all__ = ["Skip", "SkipReason", "SkipTracker"]

logger = logging.getLogger(__name__)


class SkipReason(enum.IntEnum):
    """Why an image was skipped (stored as one byte, 0 meaning not skipped)."""

    UNREADABLE = 1
    """Not an image file, unsupported, corrupt or truncated (a ``BadImageError``)."""
    TOO_SMALL = 2
    """Smaller than the crop after the optional resize."""


@dataclass(frozen=True)
class Skip:
    """One skipped image: its name (a file path for files), reason, and detail text."""

    name: str
    reason: SkipReason
    detail: str


class SkipTracker:
    """Flags, counts and logs skipped images; shareable with DataLoader workers.

    Images are registered in groups with :meth:`register` (in the main process, before the
    DataLoaders that use them are created) and then referred to by integer id.
    """

    def __init__(self) -> None:
        self._names: list[str] = []
        self._starts: list[int] = []
        self._flags: list[torch.Tensor] = []  # one shared uint8 tensor per group
        self._details: dict[int, str] = {}  # local to the process that found the skip
        self.unreadable_folders: dict[str, str] = {}  # folder -> reason (main process, at listing)
        self.other_files: set[str] = set()  # files left out for their extension

    def note_listing(self, listing: FolderListing) -> None:
        """Count what a folder listing left out: unreadable sub-folders, files of other extensions.

        Idempotent: a folder listed twice (val and test sharing it) counts once.
        """
        self.unreadable_folders.update(dict(listing.unreadable_folders))
        self.other_files.update(str(p) for p in listing.other_files)

    def register(self, names: Sequence[str]) -> range:
        """Add images by name (e.g. file paths); returns their ids."""
        start = len(self._names)
        self._names.extend(str(n) for n in names)
        self._starts.append(start)
        self._flags.append(torch.zeros(len(names), dtype=torch.uint8).share_memory_())
        return range(start, len(self._names))

    def __len__(self) -> int:
        """Number of registered images."""
        return len(self._names)

    def name(self, image_id: int) -> str:
        """The name an image was registered with."""
        return self._names[image_id]

    def _slot(self, image_id: int) -> tuple[torch.Tensor, int]:
        if not 0 <= image_id < len(self._names):
            raise IndexError(f"image id {image_id} not registered ({len(self._names)} are)")
        group = bisect.bisect_right(self._starts, image_id) - 1
        return self._flags[group], image_id - self._starts[group]

    def is_skipped(self, image_id: int) -> bool:
        """Whether the image has been skipped, in this or any other process."""
        flags, offset = self._slot(image_id)
        return bool(flags[offset])

    def record(self, image_id: int, reason: SkipReason, detail: str) -> bool:
        """Flag an image as skipped; log it if it was not flagged before.

        Returns:
            ``True`` if this call flagged (and logged) it, ``False`` if it already was.
        """
        flags, offset = self._slot(image_id)
        if flags[offset]:
            return False
        flags[offset] = int(reason)
        self._details[image_id] = detail
        logger.warning("skipped image %s (%s): %s", self._names[image_id], reason.name.lower(), detail)
        return True

    @property
    def count(self) -> int:
        """Number of distinct images skipped so far, in all processes."""
        return int(sum(int(torch.count_nonzero(f)) for f in self._flags))

    def skipped(self) -> list[Skip]:
        """Every skipped image, in id order (detail text is ``"see log"`` if found elsewhere)."""
        result = []
        for start, flags in zip(self._starts, self._flags, strict=True):
            for offset in torch.nonzero(flags).flatten().tolist():
                image_id = start + offset
                result.append(
                    Skip(
                        name=self._names[image_id],
                        reason=SkipReason(int(flags[offset])),
                        detail=self._details.get(image_id, "found in a worker process; see log"),
                    )
                )
        return result

    def report(self) -> str:
        """The one-line total a run ends with, e.g. ``images: skipped 3 of 31 files (2 unreadable,
        1 too small); 1 unreadable folder; 4 other files ignored (.txt ×3, .csv); see the warnings above``."""
        skipped = self.skipped()
        by_reason = Counter(s.reason.name.lower().replace("_", " ") for s in skipped)
        if skipped:
            reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(by_reason.items()))
            parts = [f"skipped {len(skipped)} of {len(self)} image files ({reasons})"]
        else:
            parts = [f"used all {len(self)} image files, none skipped"]
        if self.unreadable_folders:
            count = len(self.unreadable_folders)
            parts.append(f"{count} unreadable folder{'s' if count > 1 else ''} skipped")
        if self.other_files:
            extensions = Counter(Path(p).suffix.lower() or "(no extension)" for p in self.other_files)
            listed = ", ".join(e if n == 1 else f"{e} ×{n}" for e, n in extensions.most_common())
            parts.append(f"{len(self.other_files)} other files ignored ({listed})")
        problems = skipped or self.unreadable_folders
        return "images: " + "; ".join(parts) + ("; see the warnings above" if problems else "")

    def summary(self) -> str:
        """One line per skipped image after a count, e.g. for a final log message."""
        skipped = self.skipped()
        lines = [f"{len(skipped)} of {len(self)} images skipped"]
        lines += [f"  {s.name} ({s.reason.name.lower()}): {s.detail}" for s in skipped]
        return "\n".join(lines)
