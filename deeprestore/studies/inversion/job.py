"""One job of the inversion study — a method at a layer — as a Lightning predict loop.

``run_job(trainer, InversionJob(...), images, batch_size)`` reconstructs and scores every image;
the rows of all ranks are gathered by :class:`~deeprestore.studies.predict_job.GatheredJob`. Under
``--trainer.precision bf16-mixed`` only the optimisation's network pass runs in bf16 (as the
job's :class:`~deeprestore.inversion.Execution` says); the targets, priors, inverting networks and
scores are float32.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from deeprestore.inversion import Execution
from deeprestore.metrics import PerceptualDistance
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.studies.inversion.methods import Method, Reconstructor
from deeprestore.studies.inversion.scoring import score, score_perceptual, score_verifiers
from deeprestore.studies.predict_job import GatheredJob

__all__ = ["InversionJob"]


class InversionJob(GatheredJob):
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
        execution: how an optimisation's network pass runs (default: ``Execution()``), its
            precision resolved against the Trainer's (:meth:`~deeprestore.inversion.Execution.for_trainer_precision`).
        verifiers: networks that were not inverted, each with the layer of its feature error
            (moved to the Trainer's device with this module; :func:`~.scoring.score_verifiers`).
        perceptual: perceptual distances by name (LPIPS, DISTS; moved with this module;
            :func:`~.scoring.score_perceptual`).

    After ``Trainer.predict``: :attr:`rows` and :attr:`reconstructions` (index → ``3×H×W`` on the
    CPU, unclamped), the same on every rank. Batches are ``{"index": (B,), "image": B×3×H×W in [0, 1]}``.
    """

    def __init__(
        self,
        net: FeatureNetwork,
        method: Method,
        layer: str,
        names: Sequence[str],
        labels: Sequence[int | None],
        *,
        iterations_scale: float,
        seed: int,
        saved_reconstructions: int = -1,
        progress: bool = False,
        execution: Execution | None = None,
        verifiers: Mapping[str, tuple[FeatureNetwork, str]] | None = None,
        perceptual: Mapping[str, PerceptualDistance] | None = None,
    ) -> None:
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
        self.execution = execution
        verifiers = dict(verifiers or {})
        self.verifier_names = list(verifiers)
        self.verifier_layers = [layer for _, layer in verifiers.values()]
        self.verifier_nets = torch.nn.ModuleList(v for v, _ in verifiers.values())
        self.perceptual = torch.nn.ModuleDict(perceptual or {})
        self._reconstruct: Reconstructor | None = None
        self._provenance: dict[str, str | None] = {}

    @property
    def reconstructions(self) -> dict[int, Tensor]:
        return {i: t["reconstruction"] for i, t in self.kept.items()}

    def on_predict_start(self) -> None:
        super().on_predict_start()
        self._provenance = self.method.provenance()  # a folder listing: once per job, not per batch
        execution = (self.execution or Execution()).for_trainer_precision(self.trainer.precision)
        self._reconstruct = self.method.reconstructor(
            self.net,
            self.layer,
            iterations_scale=self.iterations_scale,
            seed=self.seed,
            progress=self.progress and self.trainer.is_global_zero,
            execution=execution,
        )

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> int:
        """Reconstruct and score a batch; returns its image count (the rows are kept on the module)."""
        assert self._reconstruct is not None
        indices = [int(i) for i in batch["index"]]
        images = batch["image"]
        started = time.perf_counter()
        with self.float32(), torch.enable_grad():
            recon, diverged_at = self._reconstruct(images)
        seconds = (time.perf_counter() - started) / len(indices)
        with self.float32():
            scores = score(self.net, self.layer, images, recon, [self.labels[i] for i in indices])
            verifiers = dict(zip(self.verifier_names, zip(self.verifier_nets, self.verifier_layers)))
            scores.update(score_verifiers(verifiers, images, recon))  # type: ignore[arg-type]
            scores.update(score_perceptual(dict(self.perceptual.items()), images, recon))  # type: ignore[arg-type]
        for k, index in enumerate(indices):
            row = {
                "method": self.method.name,
                "net": self.net.name,
                "layer": self.layer,
                "image": self.names[index],
                "label": self.labels[index],
                **{c: v[k] for c, v in scores.items()},
                "diverged": diverged_at[k] is not None,
                "seconds": seconds,
                **self._provenance,
            }
            keep = self.saved_reconstructions < 0 or index < self.saved_reconstructions
            self.add(index, row, {"reconstruction": recon[k]} if keep else None)
        return len(indices)

    def on_predict_epoch_end(self) -> None:
        super().on_predict_epoch_end()
        self._reconstruct = None
