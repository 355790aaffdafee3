"""The texture study (``python evaluate.py texture``): what a feature map's statistics keep of a photo
(Gatys, Ecker & Bethge 2015; the MSc thesis §4.1).

For each photo, each measure (a statistic — Gram matrix or covariance — at one or several layers) and
each optimisation preset, :func:`~deeprestore.inversion.synthesise_texture` makes an image whose
statistics match the photo's. Each texture is scored by

* ``statistics_error``: the mean over the measure's layers of ``‖S(Φ_l(x̂)) − S(Φ_l(x))‖_F / ‖S(Φ_l(x))‖_F``
  (what was optimised);
* ``<verifier>_gram_error``: the same with the Gram matrices of a network that was not used, at its
  layers of the same names (none where it lacks one);
* ``distance``: the RMS pixel distance to the photo (a texture is a new image, not a copy).

Writes ``texture.csv`` (:data:`COLUMNS` and the verifiers', one row per photo, measure and preset;
rewritten after each; a rerun with the same ``--experiment`` keeps those done), ``images/<measure>
<preset>.pt`` (tensors only), ``plots/textures.png`` and ``report.md``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor
from tqdm.auto import tqdm

from datamodules.evaluation_images import images_from_paths, sample_photo_crops
from datamodules.skips import SkipTracker
from deeprestore.atomic_io import atomic_write
from deeprestore.inversion import StatisticsLoss, get_preset, synthesise_texture
from deeprestore.metrics import image_rows_figure, markdown_table, mean_std, save_figure
from deeprestore.nets import FeatureNetwork, load_network
from deeprestore.studies.option_groups import ImageOptions, NetworkOptions, OptimisationOptions, VerifierOptions
from deeprestore.studies.study_folder import StudyFolder, StudyOptions, figure_links, file_stem

__all__ = ["COLUMNS", "TextureMeasure", "TextureStudy"]

COLUMNS = ("image", "measure", "preset", "statistics_error", "distance", "seconds")


@dataclass
class TextureMeasure:
    """A representation a texture is synthesised from.

    Args:
        statistic: ``gram`` (Gatys et al.) or ``covariance`` (the channels' covariance over positions, §4.1).
        layers: the layers whose statistic is matched.
        label: its name in the tables (default: ``<statistic> <layer>+<layer>…``).
    """

    statistic: Literal["gram", "covariance"] = "gram"
    layers: list[str] = field(default_factory=lambda: ["stem", "block1", "block3", "block5"])
    label: str = ""

    def name(self) -> str:
        return self.label or f"{self.statistic} {'+'.join(self.layers)}"


def _default_measures() -> list[TextureMeasure]:
    return [TextureMeasure(), TextureMeasure(layers=["block3"]), TextureMeasure("covariance")]


@dataclass
class TextureStudy(StudyOptions):
    """Textures synthesised from the statistics of photos' feature maps, scored by the statistics'
    error and by the Gram matrices of networks that were not used.

    Args:
        measures: the statistics and their layers (default: Gram at stem, block1, block3, block5; Gram
            at block3 alone; the covariance at the four).
        network: the network whose statistics are matched (its ``layers`` are not used: each measure names its own).
        images: the photos (``--images.files``; default: the held-out sample photos chelsea and coffee)
            and their crop; the textures have the crop's size.
        optimisation: the presets that synthesise, and their iterations.
        verifiers: networks whose Gram matrices score the textures without having made them.
    """

    measures: list[TextureMeasure] = field(default_factory=_default_measures)
    network: NetworkOptions = field(default_factory=NetworkOptions)
    images: ImageOptions = field(default_factory=ImageOptions)
    optimisation: OptimisationOptions = field(default_factory=OptimisationOptions)
    verifiers: VerifierOptions = field(default_factory=VerifierOptions)

    def check(self) -> None:
        """One line for settings that cannot run."""
        if not self.measures or any(not m.layers for m in self.measures):
            raise ValueError("--measures must be non-empty, each with at least one layer")
        names = [m.name() for m in self.measures]
        if len(set(names)) != len(names):
            raise ValueError(f"two measures have the same name: {names}; give them a label")
        if self.network.layers:
            raise ValueError(f"--network.layers {self.network.layers}: the texture study takes its layers from --measures; give none")
        self.images.check()
        self.optimisation.check()

    def photos(self, skips: SkipTracker) -> tuple[Tensor, list[str]]:
        """The photos ``N×3×crop×crop`` in [0, 1] and their names."""
        if self.images.files:
            data = images_from_paths(self.images.files, self.images.crop_size, skips, self.images.scan)
            return data.stack(), data.names
        return sample_photo_crops(self.images.crop_size, 2 * self.images.crop_size)

    def score(
        self, textures: Tensor, photos: Tensor, measure: TextureMeasure, net: FeatureNetwork, verifiers: dict[str, FeatureNetwork]
    ) -> list[dict]:
        """Per texture: the statistics' error, each verifier's Gram error, the distance to its photo."""
        with torch.no_grad():
            own = StatisticsLoss.from_images(net, dict.fromkeys(measure.layers, 1.0), photos, measure.statistic).relative_errors(textures)
            rows = [
                {"statistics_error": float(torch.stack([own[layer][i] for layer in measure.layers]).mean())} for i in range(len(textures))
            ]
            for name, verifier in verifiers.items():
                layers = [layer for layer in measure.layers if layer in verifier.layer_names]
                errors = (
                    StatisticsLoss.from_images(verifier, dict.fromkeys(layers, 1.0), photos).relative_errors(textures) if layers else {}
                )
                for i, row in enumerate(rows):
                    row[f"{name}_gram_error"] = float(torch.stack([errors[layer][i] for layer in layers]).mean()) if layers else None
            distance = (textures - photos).flatten(1).pow(2).mean(1).sqrt()
        for row, d in zip(rows, distance.tolist()):
            row["distance"] = d
        return rows

    def run(self, command: str | None = None) -> list[dict]:
        self.check()
        net = load_network(self.network.name, self.network.weights, self.seed_everything)
        for measure in self.measures:
            for layer in measure.layers:
                net.check_layer(layer)
        verifiers = {name: load_network(name) for name in self.verifiers.names}
        skips = SkipTracker()
        photos, names = self.photos(skips)
        keys = (
            "network.name",
            "network.weights",
            "images.crop_size",
            "optimisation.iterations_scale",
            "optimisation.budget",
            "seed_everything",
        )
        folder = StudyFolder("texture", self, {"image_names": names}, resume_keys=keys, command=command).open()
        plots = folder.path / "plots"
        plots.mkdir(exist_ok=True)
        rows = [r for r in folder.read_table("texture") if r["measure"] in {m.name() for m in self.measures}]
        done = {(r["measure"], r["preset"]) for r in rows}
        jobs = [(m, p) for m in self.measures for p in self.optimisation.presets if (m.name(), p) not in done]
        for measure, preset in tqdm(jobs, desc="texture study", unit="synthesis", disable=not self.progress):
            scale = self.optimisation.scale_for(get_preset(preset).iterations)
            start = time.perf_counter()
            result = synthesise_texture(
                net,
                photos,
                measure.layers,
                measure.statistic,
                preset,
                iterations_scale=scale,
                seed=self.seed_everything,
                progress=self.progress,
            )
            seconds = (time.perf_counter() - start) / len(photos)
            textures = result.images.detach().clamp(0, 1)
            atomic_write(folder.path / "images" / f"{file_stem(f'{measure.name()} {preset}')}.pt", lambda f, t=textures: torch.save(t, f))
            for i, scores in enumerate(self.score(textures, photos, measure, net, verifiers)):
                rows.append({"image": names[i], "measure": measure.name(), "preset": preset, **scores, "seconds": seconds})
            folder.write_table("texture", _columns(rows), rows, json_too=True)
        panels = {"photo": photos}
        for measure in self.measures:
            for preset in self.optimisation.presets:
                path = folder.path / "images" / f"{file_stem(f'{measure.name()} {preset}')}.pt"
                if path.is_file():
                    panels[f"{measure.name()}\n{preset}"] = torch.load(path, weights_only=True)
        figures = [save_figure(image_rows_figure(panels), plots / "textures.png")]
        table = texture_table(rows, self.verifiers.names)
        intro = (
            f"{len(names)} photos ({', '.join(names)}) at {self.images.crop_size}², network {self.network.name}; statistics error: the mean "
            "relative Frobenius error of the measure's statistics over its layers; verifier columns: the same with the verifier's Gram "
            "matrices at its layers of the same names. Data: [texture.csv](texture.csv)."
        )
        folder.publish(
            "Texture study", [table, figure_links(figures)], ("texture", _columns(rows), rows), figures=figures, intro=intro, summary=table
        )
        if self.images.files:
            print(skips.report())
        return rows


def _columns(rows: list[dict]) -> tuple[str, ...]:
    """:data:`COLUMNS` and the verifiers' columns."""
    return COLUMNS + tuple(k for k in (rows[-1] if rows else {}) if k not in COLUMNS)


def texture_table(rows: list[dict], verifiers: list[str]) -> str:
    """One line per (measure, preset): the means over the photos."""
    body = []
    for measure, preset in dict.fromkeys((r["measure"], r["preset"]) for r in rows):
        sel = [r for r in rows if (r["measure"], r["preset"]) == (measure, preset)]

        def mean(key: str, sel: list[dict] = sel) -> str:
            values = [float(r[key]) for r in sel if r.get(key) not in (None, "")]
            return f"{mean_std(values)[0]:.3f}" if values else "–"

        body.append(
            [measure, preset, mean("statistics_error"), *(mean(f"{v}_gram_error") for v in verifiers), mean("distance"), mean("seconds")]
        )
    header = [
        "measure",
        "preset",
        "statistics error",
        *(f"{v} Gram error" for v in verifiers),
        "distance to the photo",
        "seconds per image",
    ]
    return markdown_table(header, body)
