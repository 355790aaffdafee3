"""The base of a study job run as a Lightning predict loop: per-image rows and tensors, gathered.

A study job subclasses :class:`GatheredJob` and, in ``predict_step``, calls :meth:`GatheredJob.add`
with a row and, for the images it keeps, tensors (reconstructions, observations). Under DDP each
rank sees its share of the images (Lightning's unrepeated distributed sampler for predict: uneven
shares, no padding); at the end of the loop every rank receives the rows and tensors of all ranks
(``torch.distributed.all_gather_object``), duplicates dropped by image index and sorted by it, so
rank 0 can write them and no image is counted twice.

The Trainer runs with ``inference_mode=False`` (:class:`~deeprestore.studies.trainer_options.TrainerOptions`):
optimisation-based methods turn gradients back on inside Lightning's ``no_grad`` loop.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch.distributed as dist
from torch import Tensor

__all__ = ["GatheredJob"]


class GatheredJob(L.LightningModule):
    """Collects ``(index, row, tensors)`` per image and gathers them over ranks.

    After ``Trainer.predict``: :attr:`rows` (one per image, by index, without the index) and
    :attr:`kept` (index → name → tensor on the CPU), the same on every rank.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.kept: dict[int, dict[str, Tensor]] = {}
        self._local: tuple[list[dict[str, Any]], dict[int, dict[str, Tensor]]] = ([], {})

    def on_predict_start(self) -> None:
        self._local = ([], {})

    def add(self, index: int, row: dict[str, Any], tensors: dict[str, Tensor] | None = None) -> None:
        """Record image ``index``'s row and (if given) tensors, moved to the CPU."""
        rows, kept = self._local
        rows.append({"index": index, **row})
        if tensors:
            kept[index] = {k: v.detach().float().cpu() for k, v in tensors.items()}

    def on_predict_epoch_end(self) -> None:
        parts: list[Any] = [self._local]
        if self.trainer.world_size > 1 and dist.is_available() and dist.is_initialized():
            parts = [None] * dist.get_world_size()
            dist.all_gather_object(parts, self._local)
        rows: dict[int, dict[str, Any]] = {}
        kept: dict[int, dict[str, Tensor]] = {}
        for part_rows, part_kept in parts:
            rows.update({row["index"]: row for row in part_rows})
            kept.update(part_kept)
        self.rows = [{k: v for k, v in rows[i].items() if k != "index"} for i in sorted(rows)]
        self.kept = dict(sorted(kept.items()))
        self._local = ([], {})
