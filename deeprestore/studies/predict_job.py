"""A study job run as a Lightning predict loop: per-image rows and tensors, gathered over ranks.

A study job subclasses :class:`GatheredJob` and, in ``predict_step``, calls :meth:`GatheredJob.add`
with a row and, for the images it keeps, tensors (reconstructions, observations); the study runs it
with :func:`run_job`. Under DDP each rank takes its share of the images (:class:`ShareOfRanks`:
images ``rank, rank + W, …`` of ``W`` ranks; uneven shares, no padding, and a rank may get none
when there are more ranks than images). After the predict loop every rank — one with no images
too, whose loop Lightning skips — receives the rows and tensors of all ranks
(``torch.distributed.all_gather_object``), duplicates dropped by image index and sorted by it, so
rank 0 can write them and no image is counted twice.

Precision: the Trainer runs with ``inference_mode=False``
(:class:`~deeprestore.studies.trainer_options.TrainerOptions`), so optimisation-based methods can
turn gradients back on inside Lightning's ``no_grad`` loop; under ``bf16-mixed`` Lightning wraps
``predict_step`` in a bf16 autocast, and a job runs what must stay float32 (targets, priors,
objectives, scores) inside :meth:`GatheredJob.float32`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from contextlib import AbstractContextManager
from typing import Any

import lightning as L
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from deeprestore.precision import full_precision

__all__ = ["GatheredJob", "ShareOfRanks", "end_ranks", "run_job"]


def _rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class ShareOfRanks(Sampler[int]):
    """This process's share of ``count`` items: ``rank, rank + W, rank + 2W, …`` for ``W`` processes
    (all of them without ``torch.distributed``). Read when iterated, so a loader made before the
    Trainer starts its processes shares out correctly; empty on a rank beyond the items."""

    def __init__(self, data: Sized) -> None:
        self.count = len(data)

    def __iter__(self) -> Iterator[int]:
        rank, world = _rank_and_world()
        return iter(range(rank, self.count, world))

    def __len__(self) -> int:
        rank, world = _rank_and_world()
        return len(range(rank, self.count, world))


class GatheredJob(L.LightningModule):
    """Collects ``(index, row, tensors)`` per image and gathers them over ranks (:meth:`gather`).

    After :func:`run_job`: :attr:`rows` (one per image, by index, without the index) and
    :attr:`kept` (index → name → tensor on the CPU), the same on every rank.
    """

    def __init__(self) -> None:
        super().__init__()
        self.allow_zero_length_dataloader_with_multiple_devices = True  # a rank may have no images
        self.rows: list[dict[str, Any]] = []
        self.kept: dict[int, dict[str, Tensor]] = {}
        self._local: tuple[list[dict[str, Any]], dict[int, dict[str, Tensor]]] = ([], {})

    def add(self, index: int, row: dict[str, Any], tensors: dict[str, Tensor] | None = None) -> None:
        """Record image ``index``'s row and (if given) tensors, moved to the CPU as float32."""
        rows, kept = self._local
        rows.append({"index": index, **row})
        if tensors:
            kept[index] = {k: v.detach().float().cpu() for k, v in tensors.items()}

    def float32(self) -> AbstractContextManager:
        """A region where Lightning's mixed-precision autocast is off: what it computes is float32
        (a network pass with ``Execution(precision="bf16")`` turns bf16 back on for itself)."""
        return full_precision(self.device)

    def gather(self) -> None:
        """Every rank's rows and tensors, on every rank (a collective: every rank calls it)."""
        parts: list[Any] = [self._local]
        rank, world = _rank_and_world()
        if world > 1:
            parts = [None] * world
            dist.all_gather_object(parts, self._local)
        rows: dict[int, dict[str, Any]] = {}
        kept: dict[int, dict[str, Tensor]] = {}
        for part_rows, part_kept in parts:
            rows.update({row["index"]: row for row in part_rows})
            kept.update(part_kept)
        self.rows = [{k: v for k, v in rows[i].items() if k != "index"} for i in sorted(rows)]
        self.kept = dict(sorted(kept.items()))
        self._local = ([], {})


def run_job(trainer: L.Trainer, job: GatheredJob, data: Dataset, batch_size: int, num_workers: int = 0) -> GatheredJob:
    """``trainer.predict`` of ``job`` over this rank's share of ``data`` (:class:`ShareOfRanks`),
    then :meth:`GatheredJob.gather`; returns ``job`` (its rows, the same on every rank).

    The Trainer must leave the sampler alone (``use_distributed_sampler=False``, as
    :class:`~deeprestore.studies.trainer_options.TrainerOptions` makes it): Lightning's own
    sampler for predict refuses a rank without images.
    """
    loader = DataLoader(data, batch_size=batch_size, sampler=ShareOfRanks(data), num_workers=num_workers)  # type: ignore[arg-type]
    trainer.predict(job, dataloaders=loader, return_predictions=False)
    job.gather()
    return job


def end_ranks() -> None:
    """The end of a study under DDP: every rank waits for the others (rank 0 writes the folder after
    the last gather), then the process group is destroyed before the interpreter exits. A rank that
    left with its gloo process group alive could abort in the group's destructor ("terminate called
    without an active exception"), and Lightning then kills every rank. Nothing without
    ``torch.distributed``."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
