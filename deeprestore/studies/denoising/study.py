"""The denoising study (``python evaluate.py denoise``): MAP denoising of grey images with learned
priors against scikit-image's classical denoisers.

Checks the priors against something nobody here trained: grey images with additive Gaussian noise
at σ ∈ {15, 25, 50} (0–255 scale, seeded per image and σ) are denoised by each method of
:mod:`~deeprestore.studies.denoising.denoisers`. Each method's one parameter is chosen from its
grid per σ to maximise the mean PSNR over the images — the same oracle rule for every method, so
the comparison is fair to all of them. Scores: PSNR and SSIM of :mod:`deeprestore.metrics` (the
Gaussian 11×11 SSIM of every study; data range 255) of the estimate clipped to [0, 255].
Output: ``denoise.csv`` (:data:`DENOISE_COLUMNS`, rewritten after every (method, σ)) and ``report.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from datamodules.evaluation_images import grey_test_photos, images_from_paths
from datamodules.skips import SkipTracker
from deeprestore.metrics import markdown_table, mean_std, psnr, ssim
from deeprestore.priors import load_patch_prior
from deeprestore.priors.patches import to_grey
from deeprestore.studies.denoising.denoisers import Denoiser, default_denoisers, noisy_copy
from deeprestore.studies.option_groups import ImageOptions
from deeprestore.studies.study_folder import StudyFolder, StudyOptions

__all__ = ["DENOISE_COLUMNS", "DenoisingStudy", "denoise_table", "run_denoising"]

DENOISE_COLUMNS = ("method", "sigma", "image", "psnr", "ssim", "param")
Image = np.ndarray  # H×W float64 in 0–255


def _scores(truth: Image, estimate: Image) -> dict[str, float]:
    x, y = (torch.from_numpy(np.ascontiguousarray(a))[None, None] for a in (estimate, truth))
    return {"psnr": float(psnr(x, y, data_range=255.0)[0]), "ssim": float(ssim(x, y, data_range=255.0)[0])}


def run_denoising(
    images: Sequence[Image],
    names: Sequence[str],
    sigmas: Sequence[float],
    denoisers: Sequence[Denoiser],
    folder: StudyFolder | None = None,
    *,
    seed: int = 0,
    progress: bool = True,
) -> list[dict]:
    """Denoise every image at every σ with every method; returns the rows (and rewrites
    ``denoise.csv`` in ``folder`` after each (method, σ)).

    Args:
        images: grey images, H×W float arrays in 0–255.
        names: one unique name per image.
        sigmas: noise levels (0–255 scale).
        denoisers: the methods.
        folder: the study folder (``None``: no file).
        seed: noise seed (image ``i`` at σ gets ``seed + 1000 i + σ``).
    """
    if len(images) == 0 or len(names) != len(images) or len(set(names)) != len(names):
        raise ValueError(f"need a non-empty list of images with unique names, got {list(names)}")
    if any(s <= 0 for s in sigmas):
        raise ValueError(f"noise levels must be positive, got {list(sigmas)}")
    noisy = {(i, s): noisy_copy(img, s, seed + 1000 * i + int(s)) for i, img in enumerate(images) for s in sigmas}
    rows: list[dict] = []
    jobs = [(d, s) for d in denoisers for s in sigmas]
    for denoiser, sigma in tqdm(jobs, desc="denoising study", unit="job", disable=not progress):
        best = None
        for param in denoiser.grid(sigma):
            scores = [
                {
                    "method": denoiser.name,
                    "sigma": sigma,
                    "image": name,
                    "param": param,
                    **_scores(img, np.clip(denoiser.denoise(noisy[i, sigma], sigma, param), 0, 255)),
                }
                for i, (img, name) in enumerate(zip(images, names))
            ]
            if best is None or np.mean([r["psnr"] for r in scores]) > np.mean([r["psnr"] for r in best]):
                best = scores
        rows += best or []
        if folder is not None:
            folder.write_table("denoise", DENOISE_COLUMNS, rows)
    return rows


def denoise_table(rows: Sequence[dict]) -> str:
    """Rows = methods, columns = σ, cells = mean PSNR / mean SSIM (and the parameter)."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    sigmas = sorted({float(r["sigma"]) for r in rows})
    body = []
    for m in methods:
        cells = []
        for s in sigmas:
            sel = [r for r in rows if r["method"] == m and float(r["sigma"]) == s]
            cells.append(
                f"{mean_std([float(r['psnr']) for r in sel])[0]:.2f} / {mean_std([float(r['ssim']) for r in sel])[0]:.3f} "
                f"({float(sel[0]['param']):g})"
                if sel
                else "–"
            )
        body.append([m, *cells])
    return markdown_table(["method", *(f"σ = {s:g}: PSNR / SSIM (param)" for s in sigmas)], body)


@dataclass
class DenoisingStudy(StudyOptions):
    """Denoise grey images with Roth's FoE, trained priors, TV and non-local means; score them.

    Args:
        sigmas: noise levels on the 0–255 scale.
        priors: grey PatchPriorModule checkpoints (``train.py --config configs/priors/foe_grey.yaml`` …),
            named by their run folder.
        images: the photos (``--images.files``; default: scikit-image's camera and the held-out
            photos chelsea and coffee, grey) and their crop (``--images.crop_size``); they are
            denoised one at a time, so the batch size and workers are not used.
    """

    sigmas: list[float] = field(default_factory=lambda: [15.0, 25.0, 50.0])
    priors: list[str] = field(default_factory=list)
    images: ImageOptions = field(default_factory=ImageOptions)

    def grey_images(self, skips: SkipTracker) -> tuple[list[Image], list[str]]:
        """Grey ``crop×crop`` images in 0–255 and their names."""
        if self.images.files:
            data = images_from_paths(self.images.files, self.images.crop_size, skips, self.images.scan)
            grey = to_grey(data.stack().double())
            return [255.0 * grey[i, 0].numpy() for i in range(len(grey))], data.names
        crops, names = grey_test_photos(self.images.crop_size)
        return [255.0 * c.numpy() for c in crops], names

    def run(self, command: str | None = None) -> list[dict]:
        self.images.check()
        priors = {}
        for path in self.priors:
            module = load_patch_prior(path, "--priors", trusted=self.trust_checkpoints)
            if module.energy.channels != 1:
                raise ValueError(
                    f"{path}: the denoising study needs a grey image prior, this one models {module.energy.channels}-channel patches"
                )
            priors[Path(path).parent.name] = module.energy
        skips = SkipTracker()
        images, names = self.grey_images(skips)
        folder = StudyFolder("denoise", self, {"image_names": names}, command=command).open()
        rows = run_denoising(
            images, names, self.sigmas, default_denoisers(priors), folder, seed=self.seed_everything, progress=self.progress
        )
        folder.write_table("denoise", DENOISE_COLUMNS, rows, json_too=True)
        table = denoise_table(rows)
        intro = (
            f"Images: {', '.join(names)} (grey, {self.images.crop_size}×{self.images.crop_size}). Mean over the images; each method's parameter "
            "picked from its grid per σ by mean PSNR. SSIM: the 11×11 Gaussian window of every study (data range 255). "
            "Data: [denoise.csv](denoise.csv)."
        )
        folder.publish("Denoising study", [table], ("denoise", DENOISE_COLUMNS, rows), intro=intro, summary=table)
        if self.images.files:
            print(skips.report())
        return rows
