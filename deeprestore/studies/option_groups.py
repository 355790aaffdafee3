"""The option groups several studies share, each declared once (``--network.name``, ``--images.crop_size`` …).

Like ``trainer`` (:class:`~deeprestore.studies.trainer_options.TrainerOptions`) and ``execution``
(:class:`~deeprestore.inversion.Execution`), a study holds a group as one nested field, so an option
has one name, one type and one help text in every study that has it; a study gives the group its
own defaults (``field(default_factory=lambda: ImageOptions(batch_size=16))``). On the command line
a group's option is ``--<group>.<option>``; in YAML it is a nested mapping::

    network:
      name: efficientnet_lite0
      layers: [block1, block4]
    images:
      crop_size: 128
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from deeprestore.inversion import get_preset
from deeprestore.metrics import PERCEPTUAL_METRICS, require_weights

__all__ = [
    "CanvasOptions",
    "ImageOptions",
    "InverterOptions",
    "NetworkOptions",
    "OptimisationOptions",
    "PerceptualOptions",
    "VerifierOptions",
]


@dataclass
class NetworkOptions:
    """The network whose features are inverted (or visualised).

    Args:
        name: a network name of :func:`~deeprestore.nets.load_network` (``efficientnet_lite0``,
            ``torchvision/resnet50``, ``timm/…``, ``module:callable``).
        weights: ``pretrained``, a state-dict path, or ``random`` (plumbing only).
        layers: target layers (null: the study's default — for the inversion study the network's
            list in ``DEFAULT_LAYERS``, else eight spread from the first to the last; the networks
            study picks its matched positions from this list).
    """

    name: str = "efficientnet_lite0"
    weights: str = "pretrained"
    layers: list[str] | None = None


@dataclass
class ImageOptions:
    """The photos a study reconstructs, and how they are read.

    Args:
        files: image files or folders (null: the study's own held-out photos; ``[]``: none,
            where a study can run without them).
        crop_size: images are shrunk (shorter side; never enlarged: smaller files are skipped) and
            centre-cropped to this side (the inverse-problems study: the side of an inverting network
            used as the generator, whose own training crop it must be).
        scan: how files are checked before the study: ``decode`` (exact: a corrupt file is a
            counted skip) or ``header`` (faster on large sets).
        batch_size: images per batch and process (a resume key of the inversion study: kernels may
            round differently at another batch size).
        num_workers: DataLoader worker processes that decode the images.
    """

    files: list[str] | None = None
    crop_size: int = 128
    scan: Literal["decode", "header"] = "decode"
    batch_size: int = 8
    num_workers: int = 0

    def check(self) -> None:
        """Reject values that cannot run (one line each)."""
        if self.crop_size < 1:
            raise ValueError(f"--images.crop_size must be positive, got {self.crop_size}")
        if self.batch_size < 1:
            raise ValueError(f"--images.batch_size must be positive, got {self.batch_size}")
        if self.num_workers < 0:
            raise ValueError(f"--images.num_workers must be 0 or more, got {self.num_workers}")


@dataclass
class CanvasOptions:
    """The images a study makes from nothing (class visualisations, Langevin samples).

    Args:
        size: their side in pixels.
    """

    size: int = 128

    def check(self, smallest: int = 16) -> None:
        """One line for a side below ``smallest``."""
        if self.size < smallest:
            raise ValueError(f"--canvas.size must be at least {smallest}, got {self.size}")


@dataclass
class VerifierOptions:
    """Networks that score a study's images without having been inverted or sampled through
    (DeepInversion's judge: Yin et al. 2020).

    Args:
        names: network names of :func:`~deeprestore.nets.load_network` (``[]``: none).
    """

    names: list[str] = field(default_factory=lambda: ["efficientnet_lite1", "efficientnet_lite2"])

    def check(self) -> None:
        """One line for a network named twice (its columns would collide)."""
        if len(set(self.names)) < len(self.names):
            raise ValueError(f"--verifiers.names names a network twice: {self.names}")


@dataclass
class PerceptualOptions:
    """Perceptual distances scoring a study's images: LPIPS (Zhang et al. 2018) and DISTS (Ding et
    al. 2020), on the user's ImageNet backbones (:mod:`deeprestore.metrics.perceptual`).

    Args:
        names: metrics of :data:`~deeprestore.metrics.PERCEPTUAL_METRICS` (``lpips-alex``,
            ``lpips-vgg``, ``dists``; ``[]``: none).
        weights: ``pretrained`` (the backbones in ``$TORCH_HOME/hub/checkpoints``: a missing file
            is one line before anything runs) or ``random`` (plumbing tests only: meaningless values).
    """

    names: list[str] = field(default_factory=list)
    weights: Literal["pretrained", "random"] = "pretrained"

    def check(self) -> None:
        """Reject unknown or repeated names (one line), and name a missing weights file (one line)."""
        unknown = [n for n in self.names if n not in PERCEPTUAL_METRICS]
        if unknown:
            raise ValueError(f"--perceptual.names: unknown metric {unknown[0]!r}; choose from {', '.join(PERCEPTUAL_METRICS)}")
        if len(set(self.names)) < len(self.names):
            raise ValueError(f"--perceptual.names names a metric twice: {self.names}")
        for name in self.names:
            require_weights(name, self.weights)


@dataclass
class InverterOptions:
    """An inverting network trained by ``train.py`` (Dosovitskiy & Brox 2016; one module per operation
    of the network, from a layer's maps to the image).

    Args:
        checkpoint: its checkpoint (``checkpoints/<experiment>/last.ckpt``), or null: none.
    """

    checkpoint: str | None = None


@dataclass
class OptimisationOptions:
    """The optimisation presets a study runs, and their iterations.

    Args:
        presets: preset names (``python -c "from deeprestore.inversion import PRESETS;
            print(list(PRESETS))"``; ``[]``: none, trained methods only).
        iterations_scale: multiplies the presets' iterations (1: 350 for mv2016; 4 is M&V's full
            budget, see docs/optimisation_inversion.md).
        budget: every preset (and learned-prior method) runs this many iterations in all, its
            phases and schedules scaled in proportion, so methods compare at equal iterations
            (``iterations_scale`` then multiplies it); null: each preset's own budget.
    """

    presets: list[str] = field(default_factory=lambda: ["mv2016"])
    iterations_scale: float = 1.0
    budget: int | None = None

    def check(self) -> None:
        """Reject values that cannot run (one line each), unknown presets included."""
        if self.iterations_scale <= 0:
            raise ValueError(f"--optimisation.iterations_scale must be positive, got {self.iterations_scale}")
        if self.budget is not None and self.budget < 1:
            raise ValueError(f"--optimisation.budget must be a positive number of iterations (or null), got {self.budget}")
        for preset in self.presets:
            get_preset(preset)

    def scale_for(self, own_iterations: int | None) -> float:
        """The factor on a method's own iterations: ``budget / own_iterations`` (times
        ``iterations_scale``) with a budget, else ``iterations_scale``."""
        if self.budget is None or not own_iterations:
            return self.iterations_scale
        return self.iterations_scale * self.budget / own_iterations
