"""The sampling study (``python evaluate.py sample``): Langevin samples from the learned priors, alone
and jointly at several feature maps, with or without a class (Harder 2017, §5.2; Nguyen et al. 2016).

Each configuration is a density ``p(x) ∝ Π pᵢ(x)^{wᵢ}`` over ``[0, 1]`` images: learned priors
(``train.py --config configs/priors/…`` checkpoints at the image or a feature map of ``--network``)
and optionally a class's probability under that network. ``--chains`` chains start from grey plus
noise and run ``--steps`` annealed Langevin steps (:func:`~deeprestore.sampling.langevin`; step sizes
falling geometrically, ``--step_sizes`` or a configuration's own), Metropolis-adjusted where the
configuration asks and every term has an energy; unadjusted chains are kept in ``[0, 1]``. A
configuration with ``annealed_daes`` (DAEs at several ``σ``) anneals the noise instead (Song & Ermon
2019): each DAE's score in turn, largest ``σ`` first (:func:`~deeprestore.sampling.annealed_langevin`).

A configuration with an ``inverter`` (an inverting-network checkpoint at layer ``L``) samples
PPGN-style (Nguyen et al. 2016): the chain moves in the standardised maps ``z`` at ``L``
(:mod:`.inverter_code`), starting from the start images' own; a prior at ``L`` (a feature-map DAE,
PPGN's ``p(h)``) reads them directly, and every other term — image and feature-map priors, the class —
is applied to the generator's image clamped to ``[0, 1]`` (:func:`~deeprestore.sampling.through_generator`;
unclamped, a class term finds its evidence outside the range), which is also the image scored and shown.

Writes ``samples.csv`` (:data:`SAMPLE_COLUMNS`, one row per chain, rewritten after every
configuration; a rerun with the same ``--experiment`` keeps the configurations done),
``trace_<configuration>.csv`` (every term's energy along every chain), ``samples/<configuration>.pt``
(the final images and the first chain's snapshots, tensors only), ``plots/samples.png``,
``plots/chains.png``, ``plots/<configuration>_energy.png`` and ``report.md``. A configuration whose
checkpoint is missing is skipped with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from deeprestore.atomic_io import atomic_write
from deeprestore.checkpoint_files import read_checkpoint
from deeprestore.metrics import image_rows_figure, markdown_table, mean_std, save_figure
from deeprestore.nets import FeatureNetwork, load_network
from deeprestore.priors import load_dae_prior
from deeprestore.sampling import (
    PriorTerm,
    annealed_langevin,
    checkpoint_term,
    class_term,
    geometric_steps,
    joint_energy,
    joint_score,
    langevin,
    prior_layer,
    through_generator,
)
from deeprestore.stats.images import RandomCrops, sample_photo_sources
from deeprestore.studies.option_groups import CanvasOptions, InverterOptions, NetworkOptions, VerifierOptions
from deeprestore.studies.sampling.figures import energy_figure
from deeprestore.studies.sampling.inverter_code import InverterCode, inverter_code
from deeprestore.studies.sampling.scoring import chain_scores, diversity
from deeprestore.studies.study_folder import StudyFolder, StudyOptions, figure_links, file_stem

__all__ = ["SAMPLE_COLUMNS", "PriorOptions", "SamplingConfiguration", "SamplingStudy", "StepSizes"]

SAMPLE_COLUMNS = ("configuration", "chain", "metropolis", "acceptance", "top1", "probability", "energy", "diversity")
TRACE_COLUMNS = ("configuration", "step", "chain", "term", "energy")
SNAPSHOT = "first chain"


@dataclass
class PriorOptions:
    """One prior of a configuration.

    Args:
        checkpoint: a ``PatchPriorModule`` (ICA, FoE) or ``DAEPriorModule`` checkpoint, at the image or
            a feature map of ``--network.name``.
        weight: its exponent ``w`` in the product.
    """

    checkpoint: str
    weight: float = 1.0


@dataclass
class StepSizes:
    """Langevin step sizes ``ε``, falling geometrically from the first to the last (annealing).

    Args:
        first: the first step size.
        last: the last step size.
    """

    first: float = 1e-6
    last: float = 1e-8


@dataclass
class SamplingConfiguration:
    """One sampled density.

    Args:
        name: its name in the tables and figures.
        priors: its learned priors.
        class_index: an ImageNet class whose probability under ``--network`` is a factor (PPGN-style), or null.
        class_weight: that factor's exponent.
        metropolis: Metropolis-adjust the chains (every term needs an energy: not with a DAE).
        step_sizes: this configuration's own step sizes (null: the study's ``--step_sizes``); densities
            differ by orders of magnitude in sharpness (an ICA field prior's score is ~10⁴ per pixel on
            [0, 1] images, a DAE's ~10).
        inverter: an inverting network of ``--network`` at layer ``L`` as the generator: the chain
            moves in ``L``'s standardised maps and is decoded by it (PPGN); none: the chain moves in
            the image.
        annealed_daes: DAE checkpoints of one kind at several noise levels ``σ``: the chain anneals the
            noise (Song & Ermon 2019, Algorithm 1), ``--steps / len(annealed_daes)`` steps with each
            DAE in turn (with the other terms), largest ``σ`` first, at step size ``ε σᵢ²/σ_L²`` with
            ``ε`` the step sizes' ``last`` (their ``first`` is not used).
    """

    name: str
    priors: list[PriorOptions] = field(default_factory=list)
    class_index: int | None = None
    class_weight: float = 1.0
    metropolis: bool = False
    step_sizes: StepSizes | None = None
    inverter: InverterOptions = field(default_factory=InverterOptions)
    annealed_daes: list[str] = field(default_factory=list)


def _default_configurations() -> list[SamplingConfiguration]:
    ica_image = PriorOptions("checkpoints/prior_ica_image/last.ckpt")
    ica_block1 = PriorOptions("checkpoints/prior_ica_block1/last.ckpt")
    dae_image = PriorOptions("checkpoints/prior_dae_image/last.ckpt")
    dae_block3 = PriorOptions("checkpoints/prior_dae_block3/last.ckpt")
    annealed = [f"checkpoints/prior_dae_image{suffix}/last.ckpt" for suffix in ("_sigma0.3", "", "_sigma0.03")]
    block3 = InverterOptions("checkpoints/efficientnet_lite0_block3_joint/last.ckpt")
    code_steps = StepSizes(1e-2, 1e-4)  # the code is standardised: unit scale per channel
    return [
        SamplingConfiguration("ica image", [ica_image]),
        SamplingConfiguration("ica image MALA", [ica_image], metropolis=True),
        SamplingConfiguration("dae image", [dae_image], step_sizes=StepSizes(1e-3, 1e-5)),
        SamplingConfiguration("dae image annealed", annealed_daes=annealed, step_sizes=StepSizes(1.8e-4, 1.8e-4)),
        SamplingConfiguration("ica image + block1", [ica_image, ica_block1]),
        SamplingConfiguration("ica image + class 207", [ica_image], class_index=207, class_weight=1e4),
        SamplingConfiguration("ppgn dae block3", [dae_block3], inverter=block3, step_sizes=code_steps),
        SamplingConfiguration("ppgn dae block3 + class 207", [dae_block3], 207, 100.0, inverter=block3, step_sizes=code_steps),
    ]


@dataclass
class SamplingStudy(StudyOptions):
    """Langevin samples from learned priors at the image and at feature maps, with or without a class,
    scored by networks that were not sampled through.

    Args:
        configurations: the densities (default: the ICA image prior with and without Metropolis; the
            image DAE alone and annealed over three noise levels; ICA at the image and block1
            jointly; the ICA image prior with class 207; PPGN through the block3 inverter with the
            block3 DAE, without and with class 207).
        network: the network of the feature-map priors and the class term (its ``layers`` are not used).
        verifiers: networks that score the samples without having been sampled through.
        chains: chains per configuration.
        steps: Langevin steps per chain.
        step_sizes: the step sizes of a configuration that sets none.
        canvas: the sampled images' side (``--canvas.size``).
        record_every: steps between two records of the energies (and the last step).
    """

    configurations: list[SamplingConfiguration] = field(default_factory=_default_configurations)
    network: NetworkOptions = field(default_factory=NetworkOptions)
    verifiers: VerifierOptions = field(default_factory=VerifierOptions)
    chains: int = 4
    steps: int = 300
    step_sizes: StepSizes = field(default_factory=StepSizes)
    canvas: CanvasOptions = field(default_factory=lambda: CanvasOptions(size=64))
    record_every: int = 25

    def check(self) -> None:
        """One line for settings that cannot run."""
        if not self.configurations:
            raise ValueError("--configurations is empty: give at least one density to sample")
        names = [c.name for c in self.configurations]
        if len(set(names)) != len(names):
            raise ValueError(f"two configurations have the same name: {names}")
        for c in self.configurations:
            if not c.priors and c.class_index is None and not c.annealed_daes:
                raise ValueError(f"configuration {c.name!r} has neither priors nor a class: nothing to sample from")
            if c.class_index is not None and not 0 <= c.class_index < 1000:
                raise ValueError(f"configuration {c.name!r}: class_index must be an ImageNet class 0–999, got {c.class_index}")
        if self.network.layers:
            raise ValueError(f"--network.layers {self.network.layers}: the sampling study takes its layers from the priors; give none")
        if self.chains < 1 or self.steps < 1 or self.record_every < 0:
            raise ValueError(
                f"--chains and --steps must be positive and --record_every 0 or more, got {self.chains}, {self.steps}, {self.record_every}"
            )
        self.canvas.check(smallest=8)
        for c in self.configurations:
            if c.annealed_daes and self.steps < len(c.annealed_daes):
                raise ValueError(f"configuration {c.name!r}: --steps {self.steps} is fewer than its {len(c.annealed_daes)} noise levels")
        for c in self.configurations:
            self.schedule(c)

    def schedule(self, configuration: SamplingConfiguration) -> list[float]:
        """The configuration's step size at every step."""
        sizes = configuration.step_sizes or self.step_sizes
        return geometric_steps(sizes.first, sizes.last, self.steps)

    def terms(self, configuration: SamplingConfiguration, net: FeatureNetwork, code: InverterCode | None = None) -> list[PriorTerm]:
        """The configuration's terms, on the image or on a generator's ``code`` (one line if Metropolis
        is asked of a density without an energy)."""
        terms = [self.prior_term(p.checkpoint, p.weight, net, code) for p in configuration.priors]
        if configuration.class_index is not None:
            term = class_term(net, configuration.class_index, configuration.class_weight)
            terms.append(term if code is None else through_generator(term, code.image))
        if configuration.metropolis and (joint_energy(terms) is None or configuration.annealed_daes):
            raise ValueError(f"configuration {configuration.name!r}: Metropolis adjustment needs an energy, and a DAE prior has none")
        return terms

    def prior_term(self, checkpoint: str, weight: float, net: FeatureNetwork, code: InverterCode | None) -> PriorTerm:
        """A prior checkpoint's term on the image, or on the ``code`` (read directly at the code's layer,
        through the generator's image elsewhere)."""
        trusted = self.trust_checkpoints
        if code is not None and prior_layer(checkpoint, trusted=trusted) == code.layer:
            return checkpoint_term(checkpoint, weight, net, trusted=trusted, maps=code.maps)
        term = checkpoint_term(checkpoint, weight, net, trusted=trusted)
        return term if code is None else through_generator(term, code.image)

    def noise_levels(self, configuration: SamplingConfiguration) -> list[tuple[float, str]]:
        """The configuration's DAE checkpoints with their noise ``σ`` (in the units they model), largest first.

        Raises:
            ValueError: a checkpoint that is not a DAE, or two at the same ``σ``.
        """
        levels = []
        for path in configuration.annealed_daes:
            if "sigma" not in read_checkpoint(path, "--configurations annealed_daes", trusted=self.trust_checkpoints).get(
                "hyper_parameters", {}
            ):
                raise ValueError(f"configuration {configuration.name!r}: noise level {path} is not a DAEPriorModule checkpoint")
            levels.append((float(load_dae_prior(path, "--configurations annealed_daes", self.trust_checkpoints).noise_scale), path))
        levels.sort(reverse=True)
        if len({sigma for sigma, _ in levels}) != len(levels):
            raise ValueError(f"configuration {configuration.name!r}: two noise levels have the same σ: {levels}")
        return levels

    def start(self, generator: torch.Generator) -> torch.Tensor:
        """The chains' start: grey plus noise of standard deviation 0.1, in [0, 1]."""
        return (0.5 + 0.1 * torch.randn(self.chains, 3, self.canvas.size, self.canvas.size, generator=generator)).clamp(0, 1)

    def code(self, configuration: SamplingConfiguration, net: FeatureNetwork) -> InverterCode | None:
        """The configuration's generator code, standardised on 32 crops of the training photos, or ``None``."""
        if configuration.inverter.checkpoint is None:
            return None
        size = self.canvas.size
        photos = torch.stack(list(RandomCrops(sample_photo_sources(("train",)), 32, size, 2 * size, self.seed_everything)))
        return inverter_code(configuration.inverter.checkpoint, net, photos, trusted=self.trust_checkpoints)

    def sample(self, configuration: SamplingConfiguration, net: FeatureNetwork, index: int, bar: tqdm) -> tuple[torch.Tensor, object]:
        """The chains of one configuration: ``(final images, ChainResult)``."""
        code = self.code(configuration, net)
        terms = self.terms(configuration, net, code)
        generator = torch.Generator().manual_seed(self.seed_everything + 1000 * index)
        start = self.start(generator)
        image = (lambda x: x) if code is None else code.image
        if code is not None:
            with torch.no_grad():
                start = code.encode(start)
        record = {t.name: t.unweighted for t in terms if t.unweighted is not None}
        record[SNAPSHOT] = lambda x: image(x[:1]).clamp(0, 1)  # the first chain's image, for the figure of the chain
        chain = {
            "generator": generator,
            "record": record,
            "record_every": self.record_every,
            "project": None if configuration.metropolis or code is not None else (lambda x: x.clamp(0, 1)),
            "progress": lambda _: bar.update(1),
        }
        levels = self.noise_levels(configuration)
        if levels:  # Song & Ermon's annealing: each DAE in turn, largest σ first
            scores = [joint_score([*terms, self.prior_term(path, 1.0, net, code)]) for _, path in levels]
            step = (configuration.step_sizes or self.step_sizes).last
            result = annealed_langevin(scores, [sigma for sigma, _ in levels], start, self.steps // len(levels), step, **chain)
        else:
            energy = joint_energy(terms) if configuration.metropolis else None
            result = langevin(joint_score(terms), start, self.schedule(configuration), energy=energy, **chain)
        with torch.no_grad():
            return image(result.samples).clamp(0, 1), result

    def sample_and_score(
        self,
        configuration: SamplingConfiguration,
        index: int,
        net: FeatureNetwork,
        verifiers: dict[str, FeatureNetwork],
        folder: StudyFolder,
        bar: tqdm,
    ) -> list[dict]:
        """Sample one configuration, write its trace, energy figure and images (``samples/<name>.pt``:
        the final images and the first chain's snapshots, tensors only); returns its rows."""
        images, result = self.sample(configuration, net, index, bar)
        stem = file_stem(configuration.name)
        chain = torch.cat([t.pop(SNAPSHOT) for t in result.trace])
        atomic_write(folder.path / "samples" / f"{stem}.pt", lambda f: torch.save({"final": images, "chain": chain}, f))
        recorded = [k for k in (result.trace[0] if result.trace else {}) if k != "step"]
        if recorded:  # a DAE alone has no energy to follow
            save_figure(energy_figure(configuration.name, result.trace, recorded), folder.path / "plots" / f"{stem}_energy.png")
            trace = [
                {"configuration": configuration.name, "step": t["step"], "chain": i, "term": term, "energy": float(t[term][i])}
                for t in result.trace
                for term in recorded
                for i in range(len(images))
            ]
            folder.write_table(f"trace_{stem}", TRACE_COLUMNS, trace)
        final = result.trace[-1] if result.trace else {}
        spread = diversity(images)
        return [
            {
                "configuration": configuration.name,
                "chain": i,
                "metropolis": configuration.metropolis,
                "acceptance": None if result.acceptance is None else float(result.acceptance[i]),
                **scores,
                "energy": sum(float(final[k][i]) for k in recorded) if recorded else None,
                "diversity": spread,
            }
            for i, scores in enumerate(chain_scores(images, net, verifiers, configuration.class_index))
        ]

    def run(self, command: str | None = None) -> list[dict]:
        self.check()
        net = load_network(self.network.name, self.network.weights, self.seed_everything)
        verifiers = {name: load_network(name) for name in self.verifiers.names}
        keys = (
            "chains",
            "steps",
            "step_sizes.first",
            "step_sizes.last",
            "canvas.size",
            "network.name",
            "network.weights",
            "seed_everything",
        )
        folder = StudyFolder(
            "sample", self, {"configuration_names": [c.name for c in self.configurations]}, resume_keys=keys, command=command
        )
        folder.open()
        plots = folder.path / "plots"
        plots.mkdir(exist_ok=True)
        rows = folder.read_table("samples")
        rows = [r for r in rows if r["configuration"] in {c.name for c in self.configurations}]
        done = {r["configuration"] for r in rows}
        missing = {c.name: [f for f in _files(c) if not Path(f).is_file()] for c in self.configurations}
        todo = [c for c in self.configurations if c.name not in done and not missing[c.name]]
        for c in self.configurations:
            if missing[c.name]:
                folder.warn(
                    f"configuration {c.name!r} skipped: {', '.join(missing[c.name])} not found (train it with train.py: configs/priors/…)"
                )
        with tqdm(total=len(todo) * self.steps, desc="sampling study", unit="step", disable=not self.progress) as bar:
            for index, configuration in enumerate(self.configurations):
                if configuration in todo:
                    rows += self.sample_and_score(configuration, index, net, verifiers, folder, bar)
                    folder.write_table("samples", _columns(rows), rows, json_too=True)
        kept = {c.name: _read_images(folder.path / "samples" / f"{file_stem(c.name)}.pt") for c in self.configurations}
        kept = {name: images for name, images in kept.items() if images is not None}
        figures = []
        if kept:
            figures.append(save_figure(image_rows_figure({n: k["final"] for n, k in kept.items()}), plots / "samples.png"))
            figures.append(save_figure(image_rows_figure({n: k["chain"] for n, k in kept.items()}), plots / "chains.png"))
        figures += sorted(plots.glob("*_energy.png"))
        table = sampling_table(rows, self.verifiers.names)
        notes = "\n".join(f"- {w}" for w in folder.warnings)
        intro = (
            f"{self.chains} chains × {self.steps} steps per configuration at {self.canvas.size}², step sizes {self.step_sizes.first:g} → "
            f"{self.step_sizes.last:g} unless a configuration sets its own; sampling network {self.network.name}, verifiers {', '.join(self.verifiers.names) or 'none'}. "
            "Data: [samples.csv](samples.csv), traces in trace_<configuration>.csv."
        )
        folder.publish(
            "Sampling study",
            [notes, table, figure_links(figures)],
            ("samples", _columns(rows), rows),
            figures=figures,
            intro=intro,
            summary=table,
        )
        return rows


def _files(configuration: SamplingConfiguration) -> list[str]:
    """The checkpoints a configuration reads."""
    checkpoints = [p.checkpoint for p in configuration.priors] + list(configuration.annealed_daes)
    return checkpoints + [c for c in [configuration.inverter.checkpoint] if c is not None]


def _columns(rows: list[dict]) -> tuple[str, ...]:
    """:data:`SAMPLE_COLUMNS` and the verifiers' columns."""
    return SAMPLE_COLUMNS + tuple(k for k in (rows[-1] if rows else {}) if k not in SAMPLE_COLUMNS)


def _read_images(path: Path) -> dict[str, torch.Tensor] | None:
    """A configuration's saved images (tensors only, loaded as data), or ``None``."""
    return torch.load(path, weights_only=True) if path.is_file() else None


def sampling_table(rows: list[dict], verifiers: list[str]) -> str:
    """One line per configuration: acceptance, probability, verifier agreement, diversity, final energy."""
    body = []
    for name in dict.fromkeys(r["configuration"] for r in rows):
        sel = [r for r in rows if r["configuration"] == name]
        acceptance = [float(r["acceptance"]) for r in sel if r["acceptance"] not in (None, "")]
        energies = [float(r["energy"]) for r in sel if r["energy"] not in (None, "")]
        body.append(
            [
                name,
                f"{mean_std(acceptance)[0]:.2f}" if acceptance else "–",
                f"{mean_std([float(r['probability']) for r in sel])[0]:.3f}",
                *(f"{sum(bool(r[f'{v}_agrees']) for r in sel)}/{len(sel)}" for v in verifiers),
                f"{float(sel[0]['diversity']):.3f}",
                f"{mean_std(energies)[0]:.4g}" if energies else "–",
            ]
        )
    header = ["configuration", "acceptance", "probability", *(f"{v} agrees" for v in verifiers), "diversity", "energy"]
    return markdown_table(header, body)
