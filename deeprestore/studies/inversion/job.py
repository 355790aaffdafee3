"""One job of the inversion study — a method at a layer — as a Lightning predict loop.

``Trainer.predict(InversionJob(...), loader)`` reconstructs and scores every image of the loader.
Under DDP the Trainer gives each rank its share of the images (Lightning's unrepeated distributed
sampler for predict: uneven shares, no padding); at the end of the loop every rank receives the
rows of all ranks (``torch.distributed.all_gather_object``), duplicates dropped by image index and
sorted by it, so rank 0 can write them and no image is counted twice.

The Trainer runs with ``inference_mode=False``: the optimisation needs gradients, which
:meth:`InversionJob.predict_step` turns back on inside Lightning's ``no_grad`` evaluation loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from torch import Tensor

from deeprestore.nets.layered_network import LayeredNetwork
from deeprestore.studies.inversion.methods import Method, Reconstructor
from deeprestore.studies.inversion.scoring import Row, score

__all__ = ["InversionJob"]


class InversionJob(L.LightningModule):
    """Reconstruct and score a predict loop's batches with one method at one layer.

    Args:
        net: the frozen network (moved to the Trainer's device with this module).
        method: the method.
        layer: the target layer.
        names: the names of all the study's images, by dataset index.
        labels: their ImageNet labels (or ``None``), by dataset index.
        iterations_scale: multiplies the presets' iterations.
        seed: seed of the initial noise and the jitter (per image: see :mod:`deeprestore.inversion.seeds`).
        saved_reconstructions: reconstructions kept for the images of index below this (all: -1).
        progress: show the optimisation's progress bar (rank 0 only).

    After ``Trainer.predict``: :attr:`rows` (one per image, by index) and :attr:`reconstructions`
    (index → ``3×H×W`` on the CPU, unclamped), the same on every rank.
    Batches are ``{"index": (B,), "image": B×3×H×W in [0, 1]}``.
    """

    def __init__(self, net: LayeredNetwork, method: Method, layer: str, names: Sequence[str], labels: Sequence[int | None], *,
                 iterations_scale: float, seed: int, saved_reconstructions: int = -1, progress: bool = False) -> None:
        super().__init__()
        self.net = net
        self.method = method
        self.layer = layer
        self.names = list(names)
        self.labels = list(labels)
        self.iterations_scale = iterations_scale
        self.seed = seed
        self.saved_reconstructions = saved_reconstructions
        self.progress = progress
        self.rows: list[Row] = []
        self.reconstructions: dict[int, Tensor] = {}
        self._reconstruct: Reconstructor | None = None
        self._local: tuple[list[Row], dict[int, Tensor]] = ([], {})

    def on_predict_start(self) -> None:
        self._reconstruct = self.method.reconstructor(self.net, self.layer, iterations_scale=self.iterations_scale, seed=self.seed,
                                                      progress=self.progress and self.trainer.is_global_zero)
        self._local = ([], {})

    def _keep(self, index: int) -> bool:
        return self.saved_reconstructions < 0 or index < self.saved_reconstructions

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> int:
        """Reconstruct and score a batch; returns its image count (the rows are kept on the module)."""
        assert self._reconstruct is not None
        indices = [int(i) for i in batch["index"]]
        images = batch["image"]
        with torch.enable_grad():
            recon, diverged_at = self._reconstruct(images)
        scores = score(self.net, self.layer, images, recon, [self.labels[i] for i in indices])
        provenance = self.method.provenance()
        rows, kept = self._local
        for k, index in enumerate(indices):
            rows.append({"index": index, "method": self.method.name, "net": self.net.name, "layer": self.layer,
                         "image": self.names[index], "label": self.labels[index], **{c: v[k] for c, v in scores.items()},
                         "diverged": diverged_at[k] is not None, **provenance})
            if self._keep(index):
                kept[index] = recon[k].detach().float().cpu()
        return len(indices)

    def on_predict_epoch_end(self) -> None:
        parts: list[Any] = [self._local]
        if self.trainer.world_size > 1 and dist.is_available() and dist.is_initialized():
            parts = [None] * dist.get_world_size()
            dist.all_gather_object(parts, self._local)
        rows: dict[int, Row] = {}
        recons: dict[int, Tensor] = {}
        for part_rows, part_recons in parts:
            rows.update({row["index"]: row for row in part_rows})
            recons.update(part_recons)
        self.rows = [{k: v for k, v in rows[i].items() if k != "index"} for i in sorted(rows)]
        self.reconstructions = dict(sorted(recons.items()))
        self._local = ([], {})
        self._reconstruct = None
