"""Perceptual distances, for users who have the backbones: LPIPS and DISTS.

* **LPIPS** (Zhang, Isola, Efros, Shechtman & Wang, "The Unreasonable Effectiveness of Deep
  Features as a Perceptual Metric", CVPR 2018): both images go through an ImageNet network
  (``lpips-alex``: AlexNet's relu1–relu5; ``lpips-vgg``: VGG16's relu1_2 … relu5_3), each tap is
  unit-normalised along its channels, and the squared differences are weighted per channel by the
  learned linear heads, averaged over space and summed over the taps. 0 = the same image.
* **DISTS** (Ding, Ma, Wang & Simoncelli, "Image Quality Assessment: Unifying Structure and
  Texture Similarity", IEEE TPAMI 2020): VGG16 with its max pools replaced by L2 pools; at the
  image and at each of its five stages, per channel, a texture term (the SSIM-like comparison of
  the spatial means) and a structure term (that of the variances and covariance), weighted by the
  learned α, β (summing to 1); distance = 1 − their weighted sum. 0 = the same image.

Both are distances: lower = more similar. :func:`perceptual_metric` returns a module mapping
``(x̂, x)``, two ``N×3×H×W`` float tensors in ``[0, 1]``, to the per-image distance, shape ``(N,)``,
float32, on the input's device (the module moves itself there). ``x̂`` is clamped to ``[0, 1]``
as the other metrics do (:mod:`~deeprestore.metrics.scores`), and a ``torch.autocast`` around it
is switched off.

Which files are read (never downloaded, never code: ``torch.load(..., weights_only=True)``):

==============  =====================================================  ============================================
metric          the user's backbone (``$TORCH_HOME/hub/checkpoints``)  shipped with torchmetrics ≥ 1.7
==============  =====================================================  ============================================
``lpips-alex``  torchvision's AlexNet, ``alexnet-owt-7be5be79.pth``    ``lpips_models/alex.pth`` (the linear heads)
``lpips-vgg``   torchvision's VGG16, ``vgg16-397923af.pth``            ``lpips_models/vgg.pth`` (the linear heads)
``dists``       torchvision's VGG16, ``vgg16-397923af.pth``            ``dists_models/weights.pt`` (α, β)
==============  =====================================================  ============================================

(the backbone file names are the basenames of torchvision's ``AlexNet_Weights.IMAGENET1K_V1`` and
``VGG16_Weights.IMAGENET1K_V1`` URLs: where torchvision itself caches them). Only the backbone's
convolutional ``features.*`` are used. :func:`missing_weights` lists what is absent;
``perceptual_metric(name)`` then raises one line naming the file and where to put it.

``weights="random"`` builds the backbone at PyTorch's default initialisation (seeded) with the
shipped heads / α, β: **for plumbing tests only** — its numbers mean nothing perceptually. The
implementation here is the papers' reference code re-expressed on torchvision's modules; the tests
check it against torchmetrics' own LPIPS and DISTS given the same (random) backbone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torchmetrics
from torch import Tensor, nn
from torch.nn.functional import conv2d
from torchvision import models

from deeprestore.metrics._checks import check_image_pair
from deeprestore.precision import full_precision

__all__ = [
    "PERCEPTUAL_METRICS",
    "PerceptualDistance",
    "backbone_file",
    "missing_weights",
    "perceptual_column",
    "perceptual_metric",
    "require_weights",
]

#: The metrics :func:`perceptual_metric` builds.
PERCEPTUAL_METRICS: tuple[str, ...] = ("lpips-alex", "lpips-vgg", "dists")

_SHIPPED = Path(torchmetrics.__file__).resolve().parent / "functional" / "image"


@dataclass(frozen=True)
class _Spec:
    backbone: Literal["alexnet", "vgg16"]
    label: str  # what the message calls the backbone
    url: str  # torchvision's URL: its basename is the file in the hub cache
    shipped: Path  # the learned heads (LPIPS) or α, β (DISTS), shipped with torchmetrics
    taps: tuple[int, ...]  # indices of torchvision's ``features`` after which a map is taken
    min_side: int  # the smallest image side the backbone maps to a non-empty last tap


_SPECS: dict[str, _Spec] = {
    "lpips-alex": _Spec(
        "alexnet", "AlexNet", models.AlexNet_Weights.IMAGENET1K_V1.url, _SHIPPED / "lpips_models" / "alex.pth", (1, 4, 7, 9, 11), 31
    ),
    "lpips-vgg": _Spec(
        "vgg16", "VGG16", models.VGG16_Weights.IMAGENET1K_V1.url, _SHIPPED / "lpips_models" / "vgg.pth", (3, 8, 15, 22, 29), 16
    ),
    "dists": _Spec(
        "vgg16", "VGG16", models.VGG16_Weights.IMAGENET1K_V1.url, _SHIPPED / "dists_models" / "weights.pt", (3, 8, 15, 22, 29), 1
    ),
}


def _spec(name: str) -> _Spec:
    if name not in _SPECS:
        raise ValueError(f"unknown perceptual metric {name!r}; choose from {', '.join(PERCEPTUAL_METRICS)}")
    return _SPECS[name]


def perceptual_column(name: str) -> str:
    """The metric's column name in a study's CSV: ``lpips-alex`` → ``lpips_alex``."""
    _spec(name)
    return name.replace("-", "_")


def backbone_file(name: str) -> Path:
    """Where the metric's backbone must be: ``torch.hub.get_dir()/checkpoints/<basename of
    torchvision's URL>`` (``$TORCH_HOME/hub/checkpoints/…``, where torchvision caches it)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(_spec(name).url).name


def missing_weights(name: str) -> list[Path]:
    """The files ``perceptual_metric(name)`` (pretrained) needs and does not find: the backbone in
    the torch hub cache, the heads (LPIPS) or α, β (DISTS) shipped with torchmetrics; ``[]``: all there."""
    return [path for path in (backbone_file(name), _spec(name).shipped) if not path.is_file()]


def require_weights(name: str, weights: str = "pretrained") -> None:
    """Raise if a file the metric needs is absent (only the shipped one for ``weights="random"``).

    Raises:
        ValueError: an unknown metric or ``weights``.
        FileNotFoundError: one line naming the first missing file and where it comes from.
    """
    spec = _spec(name)
    if weights not in ("pretrained", "random"):
        raise ValueError(f"perceptual metric weights must be 'pretrained' or 'random' (plumbing tests only), got {weights!r}")
    missing = [p for p in missing_weights(name) if weights == "pretrained" or p == spec.shipped]
    if not missing:
        return
    if missing[0] == spec.shipped:
        raise FileNotFoundError(f"{name} needs torchmetrics' learned weights at {spec.shipped} (not found: reinstall torchmetrics>=1.7)")
    raise FileNotFoundError(
        f"{name} needs torchvision's {spec.label} ImageNet weights at {missing[0]} (not found; nothing is downloaded: "
        f"copy {spec.url} there from a machine with internet access, or point TORCH_HOME at a cache that has it)"
    )


def _load(path: Path) -> dict[str, Tensor]:
    """A state dict on the CPU, as data (``weights_only=True``).

    Raises:
        ValueError: the file is not a readable state dict (one line).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a foreign file raises anything: UnpicklingError, RuntimeError, EOFError …
        first = str(error).splitlines()[0] if str(error) else ""
        raise ValueError(f"{path} is not a readable state dict ({type(error).__name__}: {first})") from error
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return state


def _backbone(name: str, weights: str, seed: int) -> tuple[nn.Sequential, str]:
    """torchvision's ``features`` of the metric's network up to its last tap, frozen; and where its weights came from."""
    spec = _SPECS[name]
    with torch.device("meta"):  # the classifier's 100M+ parameters are never allocated
        features = getattr(models, spec.backbone)(weights=None).features[: spec.taps[-1] + 1]
    if weights == "random":
        features = features.to_empty(device="cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for module in features.modules():
                if isinstance(module, nn.Conv2d):
                    module.reset_parameters()
        source = f"random {spec.label} (seed {seed}; plumbing only)"
    else:
        path = backbone_file(name)
        own = features.state_dict()
        state = {k: v for k, v in _load(path).items() if k.removeprefix("features.") in own and k.startswith("features.")}
        state = {k.removeprefix("features."): v for k, v in state.items()}
        wrong = [k for k in own if k not in state or tuple(state[k].shape) != tuple(own[k].shape)]
        if wrong:
            raise ValueError(f"{path} does not hold torchvision's {spec.label} weights (features.{wrong[0]} missing or of another shape)")
        features.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
        source = str(path)
    for module in features.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False  # the tapped maps must survive the next layer
    features.requires_grad_(False)
    return features.eval(), source


class PerceptualDistance(nn.Module):
    """A perceptual distance ``(x̂, x) → (N,)``; built by :func:`perceptual_metric`.

    Attributes:
        name: the metric (one of :data:`PERCEPTUAL_METRICS`).
        source: where the backbone's weights came from (a file, or ``random … (plumbing only)``).
        features: torchvision's ``features`` of the backbone (its state-dict keys), up to the last tap.
    """

    def __init__(self, name: str, features: nn.Sequential, source: str) -> None:
        super().__init__()
        self.name = name
        self.source = source
        self.features = features
        self.taps = _SPECS[name].taps
        self.min_side = _SPECS[name].min_side

    def forward(self, reconstructions: Tensor, originals: Tensor) -> Tensor:
        """The distance of each reconstruction to its original.

        Args:
            reconstructions: ``x̂``, ``N×3×H×W`` floats (clamped to [0, 1] here).
            originals: ``x``, ``N×3×H×W`` floats in [0, 1], same shape and device.

        Returns:
            ``(N,)`` float32 on the inputs' device; lower = more similar, 0 for ``x̂ = x``.

        Raises:
            ValueError: images off the convention (:func:`~deeprestore.metrics._checks.check_image_pair`),
                not RGB, or smaller than the backbone's last map allows.
        """
        check_image_pair(reconstructions, originals, names=("reconstructions", "originals"))
        if originals.shape[1] != 3:
            raise ValueError(f"{self.name} needs RGB images (N×3×H×W), got {tuple(originals.shape)}")
        if min(originals.shape[-2:]) < self.min_side:
            raise ValueError(
                f"{self.name} needs images of at least {self.min_side}×{self.min_side} pixels, got {tuple(originals.shape[-2:])}"
            )
        if self.features[0].weight.device != originals.device:
            self.to(originals.device)
        with full_precision(originals.device):
            x_hat = reconstructions.float().clamp(0.0, 1.0)
            x = originals.float().clamp(0.0, 1.0)
            return self._distance(x_hat, x)

    def _maps(self, h: Tensor) -> list[Tensor]:
        """The maps after each tap of :attr:`features`."""
        maps = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in self.taps:
                maps.append(h)
        return maps

    def _distance(self, x_hat: Tensor, x: Tensor) -> Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"name={self.name!r}, source={self.source!r}"


class _LPIPS(PerceptualDistance):
    """LPIPS (Zhang et al. 2018), ``lin`` version: learned per-channel weights on normalised maps."""

    def __init__(self, name: str, features: nn.Sequential, source: str, heads: Sequence[Tensor]) -> None:
        super().__init__(name, features, source)
        # the reference code's ScalingLayer on images in [−1, 1]
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188])[None, :, None, None], persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450])[None, :, None, None], persistent=False)
        for k, head in enumerate(heads):
            self.register_buffer(f"head{k}", head.float())  # 1×C×1×1

    @staticmethod
    def _unit(maps: Tensor, eps: float = 1e-10) -> Tensor:
        """Each position's channel vector divided by its norm (the reference code's ``normalize_tensor``)."""
        return maps / (maps.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)

    def _distance(self, x_hat: Tensor, x: Tensor) -> Tensor:
        n = len(x)
        maps = self._maps((2 * torch.cat([x_hat, x]) - 1 - self.shift) / self.scale)
        total = x.new_zeros(n)
        for k, m in enumerate(maps):
            diff = (self._unit(m[:n]) - self._unit(m[n:])).pow(2)
            total = total + conv2d(diff, getattr(self, f"head{k}")).mean(dim=(1, 2, 3))
        return total


class _DISTS(PerceptualDistance):
    """DISTS (Ding et al. 2020): VGG16 with L2 pooling; texture and structure terms weighted by α, β."""

    #: indices of VGG16's max pools, replaced by L2 pools, and the channels they see
    POOLS = {4: 64, 9: 128, 16: 256, 23: 512}
    CHANNELS = (3, 64, 128, 256, 512, 512)

    def __init__(self, name: str, features: nn.Sequential, source: str, alpha: Tensor, beta: Tensor) -> None:
        super().__init__(name, features, source)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406])[None, :, None, None], persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225])[None, :, None, None], persistent=False)
        window = torch.hann_window(5, periodic=False, dtype=torch.float64)[1:-1]  # numpy.hanning(5)[1:-1]
        kernel = window[:, None] * window[None, :]
        self.register_buffer("l2_kernel", (kernel / kernel.sum()).float()[None, None], persistent=False)
        self.register_buffer("alpha", alpha.float().reshape(1, -1, 1, 1))
        self.register_buffer("beta", beta.float().reshape(1, -1, 1, 1))

    def _l2_pool(self, h: Tensor) -> Tensor:
        """The reference code's ``L2pooling``: √(Hann-weighted 3×3 mean of h², stride 2) + 1e-12 inside."""
        weight = self.l2_kernel.expand(h.shape[1], 1, 3, 3)
        return (conv2d(h.pow(2), weight, stride=2, padding=1, groups=h.shape[1]) + 1e-12).sqrt()

    def _maps(self, h: Tensor) -> list[Tensor]:
        maps = [h]
        h = (h - self.mean) / self.std
        for i, layer in enumerate(self.features):
            h = self._l2_pool(h) if i in self.POOLS else layer(h)
            if i in self.taps:
                maps.append(h)
        return maps

    def _distance(self, x_hat: Tensor, x: Tensor) -> Tensor:
        n = len(x)
        maps = self._maps(torch.cat([x_hat, x]))
        total = self.alpha.sum() + self.beta.sum()
        alphas = torch.split(self.alpha / total, self.CHANNELS, dim=1)
        betas = torch.split(self.beta / total, self.CHANNELS, dim=1)
        c1 = c2 = 1e-6
        similarity = x.new_zeros(n)
        for m, alpha, beta in zip(maps, alphas, betas):
            a, b = m[:n], m[n:]
            mean_a, mean_b = a.mean(dim=(2, 3), keepdim=True), b.mean(dim=(2, 3), keepdim=True)
            texture = (2 * mean_a * mean_b + c1) / (mean_a.pow(2) + mean_b.pow(2) + c1)
            da, db = a - mean_a, b - mean_b  # centred: no cancellation, and exactly 1 for a = b
            var_a, var_b = da.pow(2).mean(dim=(2, 3), keepdim=True), db.pow(2).mean(dim=(2, 3), keepdim=True)
            covariance = (da * db).mean(dim=(2, 3), keepdim=True)
            structure = (2 * covariance + c2) / (var_a + var_b + c2)
            similarity = similarity + (alpha * texture + beta * structure).sum(dim=(1, 2, 3))
        return 1 - similarity


def perceptual_metric(name: str, weights: Literal["pretrained", "random"] = "pretrained", seed: int = 0) -> PerceptualDistance:
    """A perceptual distance module: ``metric(x̂, x)`` with ``N×3×H×W`` images in [0, 1] → ``(N,)``.

    Args:
        name: ``lpips-alex``, ``lpips-vgg`` (LPIPS, Zhang et al. 2018) or ``dists`` (DISTS, Ding
            et al. 2020); :data:`PERCEPTUAL_METRICS`.
        weights: ``pretrained``: the backbone from the user's torch hub cache (:func:`backbone_file`);
            ``random``: a randomly initialised backbone (seeded) with the shipped heads or α, β —
            **for plumbing tests only**, its values say nothing about perception.
        seed: the random backbone's seed.

    Raises:
        ValueError: an unknown metric or ``weights``, or a backbone file of another architecture.
        FileNotFoundError: a missing file, as one line naming it and where to put it (:func:`require_weights`).
    """
    require_weights(name, weights)
    spec = _SPECS[name]
    features, source = _backbone(name, weights, seed)
    shipped = _load(spec.shipped)
    if name == "dists":
        return _DISTS(name, features, source, shipped["alpha"], shipped["beta"])
    return _LPIPS(name, features, source, [shipped[f"lin{k}.model.1.weight"] for k in range(len(spec.taps))])
