"""The feature-map VAE study (``python evaluate.py feature-vae``; the MSc thesis §5.2): do samples of
a generative model of one layer's maps look like the maps of natural images?

A :class:`~deeprestore.generative.FeatureMapVAEModule` (``train.py --config
configs/generators/vae_block3.yaml``) models ``Φ_L`` of a network. Four sources of maps at ``L`` are
decoded to images the same ways and scored the same way:

* ``photo``: the held-out photos themselves (nothing decoded: the scale of a natural image's scores);
* ``photo maps``: the photos' own maps;
* ``vae reconstruction``: the VAE's reconstruction of those maps, ``D(μ(Φ_L(x)))``;
* ``vae sample``: maps decoded from ``z ~ N(0, I)``.

Decoders: ``inverter`` (the layer's inverting network, ``train.py``; Dosovitskiy & Brox 2016) and
each optimisation preset of ``--optimisation.presets`` (``mv2016``: Mahendran & Vedaldi 2016, an
image whose maps match the given ones; :func:`~deeprestore.inversion.invert_features`).
Scores per image (:mod:`.naturalness`): the BN statistics distance under the modelled network, the
verifiers' confidence and agreement, and the decoded image's feature error
``‖Φ_L(x̂) − m‖ / ‖m‖`` (can any image realise the maps?).

Writes ``feature_vae.csv`` (:data:`COLUMNS` and the verifiers', one row per image; rewritten after
every decoder; a rerun with the same ``--experiment`` keeps the decoders done), ``images/<decoder>.pt``
(its images of every source, tensors only), ``plots/decoded.png`` and ``report.md``. A missing
inverter is skipped with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from datamodules.evaluation_images import sample_photo_crops
from deeprestore.atomic_io import atomic_write
from deeprestore.generative import FeatureMapVAEModule, load_feature_map_vae
from deeprestore.inversion import get_preset, invert_features
from deeprestore.inverters import load_inverting_network
from deeprestore.metrics import image_rows_figure, markdown_table, mean_std, save_figure
from deeprestore.nets import FeatureNetwork, load_network
from deeprestore.studies.feature_vae.naturalness import naturalness_scores
from deeprestore.studies.option_groups import CanvasOptions, InverterOptions, OptimisationOptions, VerifierOptions
from deeprestore.studies.study_folder import StudyFolder, StudyOptions, figure_links, file_stem

__all__ = ["COLUMNS", "SOURCES", "FeatureMapVAEStudy"]

COLUMNS = ("source", "decoder", "image", "feature_error", "bn_distance", "verifiers_agree")
SOURCES = ("photo maps", "vae reconstruction", "vae sample")
PHOTO = "photo"
INVERTER = "inverter"


@dataclass
class FeatureMapVAEStudy(StudyOptions):
    """Samples of a VAE on one layer's feature maps, decoded by that layer's inverting network and by
    optimisation, scored against the decoded maps of real photos by how natural networks find them.

    Args:
        vae: a ``FeatureMapVAEModule`` checkpoint (``train.py --config configs/generators/vae_block3.yaml``);
            its network and layer are the study's.
        inverter: the inverting network of that network and layer (``python train.py``); none:
            decode by optimisation only.
        optimisation: the presets that decode maps by optimisation, and their iterations.
        samples: maps sampled from the VAE.
        canvas: the images' side (``--canvas.size``; 128: the crops the inverter and the VAE were
            trained on); the photos are the five crops of that side of the held-out photos shrunk
            to twice that side.
        verifiers: networks that score the images without having been inverted.
    """

    vae: str = "checkpoints/vae_block3/last.ckpt"
    inverter: InverterOptions = field(default_factory=lambda: InverterOptions("checkpoints/efficientnet_lite0_block3_joint/last.ckpt"))
    optimisation: OptimisationOptions = field(default_factory=OptimisationOptions)
    samples: int = 8
    canvas: CanvasOptions = field(default_factory=CanvasOptions)
    verifiers: VerifierOptions = field(default_factory=VerifierOptions)

    def check(self) -> None:
        """One line for settings that cannot run."""
        if self.samples < 1:
            raise ValueError(f"--samples must be positive, got {self.samples}")
        self.canvas.check(smallest=16)
        self.optimisation.check()
        if not Path(self.vae).is_file():
            raise ValueError(f"--vae {self.vae}: no such file; train one with python train.py --config configs/generators/vae_block3.yaml")

    def photos(self) -> Tensor:
        """The held-out photos' five crops ``N×3×size×size`` in [0, 1]."""
        return sample_photo_crops(self.canvas.size, 2 * self.canvas.size, "five")[0]

    def sources(self, vae: FeatureMapVAEModule, photos: Tensor) -> dict[str, Tensor]:
        """The maps of every source, ``N×C×h×w`` each."""
        maps = vae.maps(photos)
        vae.check_size(maps)
        generator = torch.Generator().manual_seed(self.seed_everything)
        with torch.no_grad():
            return {
                "photo maps": maps,
                "vae reconstruction": vae.reconstruct(maps),
                "vae sample": vae.sample(self.samples, (maps.shape[-2], maps.shape[-1]), generator),
            }

    def inverter_decoder(self, vae: FeatureMapVAEModule):
        """The inverting network as ``maps ↦ images``, checked to invert the VAE's network and layer."""
        path = str(self.inverter.checkpoint)
        model = load_inverting_network(path, "--inverter.checkpoint", trusted=self.trust_checkpoints)
        wanted = (vae.hparams.net, vae.hparams.layer)
        if (model.hparams.net, model.hparams.layer) != wanted:
            raise ValueError(
                f"--inverter.checkpoint {path} inverts {model.hparams.net} {model.hparams.layer}; the VAE models {wanted[0]} {wanted[1]}"
            )
        size = (self.canvas.size, self.canvas.size)

        @torch.no_grad()
        def decode(maps: Tensor) -> Tensor:
            return model(maps, size).clamp(0, 1)

        return decode

    def optimisation_decoder(self, net: FeatureNetwork, layer: str, preset: str):
        """``maps ↦ images`` by the preset (``invert_features``)."""
        scale = self.optimisation.scale_for(get_preset(preset).iterations)
        size = (self.canvas.size, self.canvas.size)

        def decode(maps: Tensor) -> Tensor:
            result = invert_features(
                net, {layer: maps}, size, preset, iterations_scale=scale, seed=self.seed_everything, progress=self.progress
            )
            return result.images.detach().clamp(0, 1)

        return decode

    def score(
        self, source: str, decoder: str, images: Tensor, maps: Tensor | None, net: FeatureNetwork, layer: str, verifiers: dict
    ) -> list[dict]:
        """The rows of one source decoded one way."""
        errors: list[float | None] = [None] * len(images)
        if maps is not None:
            with torch.no_grad():
                found = net.features(images, layer)[layer].float()
            errors = ((found - maps).flatten(1).norm(dim=1) / maps.flatten(1).norm(dim=1).clamp_min(1e-12)).tolist()
        return [
            {"source": source, "decoder": decoder, "image": i, "feature_error": errors[i], **scores}
            for i, scores in enumerate(naturalness_scores(images, net, verifiers))
        ]

    def run(self, command: str | None = None) -> list[dict]:
        self.check()
        vae = load_feature_map_vae(self.vae, "--vae", self.trust_checkpoints)
        net, layer = vae.net.eval(), str(vae.hparams.layer)
        verifiers = {name: load_network(name) for name in self.verifiers.names}
        keys = (
            "vae",
            "inverter.checkpoint",
            "samples",
            "canvas.size",
            "optimisation.iterations_scale",
            "optimisation.budget",
            "seed_everything",
        )
        folder = StudyFolder("feature-vae", self, {"network": vae.hparams.net, "layer": layer}, resume_keys=keys, command=command).open()
        plots = folder.path / "plots"
        plots.mkdir(exist_ok=True)
        photos = self.photos()
        sources = self.sources(vae, photos)
        checkpoint = self.inverter.checkpoint
        decoders = [INVERTER] if checkpoint is not None else []
        if checkpoint is not None and not Path(checkpoint).is_file():
            folder.warn(f"decoder inverter skipped: {checkpoint} not found (train it with python train.py)")
            decoders = []
        decoders += list(self.optimisation.presets)
        rows = folder.read_table("feature_vae")
        done = {r["decoder"] for r in rows}
        if not any(r["source"] == PHOTO for r in rows):
            rows += self.score(PHOTO, "none", photos, None, net, layer, verifiers)
        for decoder in tqdm(
            [d for d in decoders if d not in done], desc="feature-map VAE study", unit="decoder", disable=not self.progress
        ):
            decode = self.inverter_decoder(vae) if decoder == INVERTER else self.optimisation_decoder(net, layer, decoder)
            images = {source: decode(maps) for source, maps in sources.items()}
            atomic_write(folder.path / "images" / f"{file_stem(decoder)}.pt", lambda f, images=images: torch.save(images, f))
            for source, maps in sources.items():
                rows += self.score(source, decoder, images[source], maps, net, layer, verifiers)
            folder.write_table("feature_vae", _columns(rows), rows, json_too=True)
        decoded = {d: _read_images(folder.path / "images" / f"{file_stem(d)}.pt") for d in decoders}
        panels = {PHOTO: photos[: self.samples]}
        panels |= {
            f"{source}\n→ {d}": images[source][: self.samples] for d, images in decoded.items() if images is not None for source in SOURCES
        }
        figures = [save_figure(image_rows_figure(panels), plots / "decoded.png")]
        table = naturalness_table(rows, self.verifiers.names)
        notes = "\n".join(f"- {w}" for w in folder.warnings)
        intro = (
            f"A VAE on {vae.hparams.net}'s {layer} maps ({self.vae}); {len(photos)} held-out photo crops and {self.samples} samples at "
            f"{self.canvas.size}², decoded by {', '.join(decoders)}; verifiers {', '.join(self.verifiers.names) or 'none'}. "
            "BN distance: DeepInversion's R_feature per image under the modelled network (lower: more like its training images). "
            "Data: [feature_vae.csv](feature_vae.csv)."
        )
        folder.publish(
            "Feature-map VAE study",
            [notes, table, figure_links(figures)],
            ("feature_vae", _columns(rows), rows),
            figures=figures,
            intro=intro,
            summary=table,
        )
        return rows


def _columns(rows: list[dict]) -> tuple[str, ...]:
    """:data:`COLUMNS` and the verifiers' columns."""
    return COLUMNS + tuple(k for k in (rows[-1] if rows else {}) if k not in COLUMNS)


def _read_images(path: Path) -> dict[str, Tensor] | None:
    """A decoder's saved images (tensors only, loaded as data), or ``None``."""
    return torch.load(path, weights_only=True) if path.is_file() else None


def naturalness_table(rows: list[dict], verifiers: list[str]) -> str:
    """One line per (source, decoder): feature error, BN distance, verifier confidence, agreement."""
    body = []
    for source, decoder in dict.fromkeys((r["source"], r["decoder"]) for r in rows):
        sel = [r for r in rows if r["source"] == source and r["decoder"] == decoder]
        errors = [float(r["feature_error"]) for r in sel if r["feature_error"] not in (None, "")]
        bn = mean_std([float(r["bn_distance"]) for r in sel])
        body.append(
            [
                source,
                decoder,
                str(len(sel)),
                f"{mean_std(errors)[0]:.3f}" if errors else "–",
                f"{bn[0]:.1f} ± {bn[1]:.1f}",
                *(f"{mean_std([float(r[f'{v}_confidence']) for r in sel])[0]:.3f}" for v in verifiers),
                f"{sum(bool(r['verifiers_agree']) for r in sel)}/{len(sel)}",
            ]
        )
    header = ["source", "decoder", "images", "feature error", "BN distance", *(f"{v} confidence" for v in verifiers), "verifiers agree"]
    return markdown_table(header, body)
