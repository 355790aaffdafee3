"""The terms of a sampled density ``p(x) ∝ Π pᵢ(x)^{wᵢ}``: learned priors at the image or a feature map,
and a class's probability under a network (Nguyen et al. 2016, PPGN's conditional term).

A patch prior (ICA, Fields of Experts; ``train.py --config configs/priors/…``) has an energy: its
field energy summed over every patch position, ``E(x) = Σ_p Σ_i −αᵢ G(wᵢᵀ z_p)`` of the image (grey if it
was trained grey) or of ``Φ_layer(x)`` — the density itself at temperature 1, unlike the per-position
mean the inversion uses. A DAE prior has only a score, its residual, pulled back through the network
for a feature-map DAE. Images are ``N×3×H×W`` in ``[0, 1]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from deeprestore.checkpoint_files import read_checkpoint
from deeprestore.nets import FeatureNetwork
from deeprestore.priors import load_dae_prior, load_patch_prior
from deeprestore.priors.patches import to_grey
from deeprestore.sampling.scores import Score, dae_residual_score, energy_score, feature_map_score

__all__ = ["PriorTerm", "checkpoint_term", "class_term", "joint_energy", "joint_score", "prior_layer", "through_generator"]


@dataclass
class PriorTerm:
    """One factor of the sampled density.

    Attributes:
        name: its name in tables (``ica-image``, ``dae-block1``, ``class 207`` …).
        weight: ``wᵢ``, already inside ``score`` and ``energy``.
        score: ``x ↦ wᵢ ∇ₓ log pᵢ(x)``.
        energy: ``x ↦ −wᵢ log pᵢ(x) + const`` per chain, or ``None`` (a DAE).
        unweighted: ``x ↦ −log pᵢ(x) + const`` per chain for the traces (a DAE: ``None``).
    """

    name: str
    weight: float
    score: Score
    energy: Callable[[Tensor], Tensor] | None
    unweighted: Callable[[Tensor], Tensor] | None


def _maps(net: FeatureNetwork | None, layer: str | None) -> Callable[[Tensor], Tensor]:
    if layer is None:
        return lambda x: x
    if net is None:
        raise ValueError(f"a prior on {layer}'s feature maps needs the network")
    return lambda x: net.features(x, layer)[layer]


def prior_layer(path: str | Path, *, trusted: bool = False) -> str | None:
    """The layer whose maps a prior checkpoint models (``None``: the image)."""
    return read_checkpoint(path, "a prior of --configurations", trusted=trusted).get("hyper_parameters", {}).get("layer")


def checkpoint_term(
    path: str | Path,
    weight: float,
    net: FeatureNetwork | None,
    *,
    trusted: bool = False,
    maps: Callable[[Tensor], Tensor] | None = None,
) -> PriorTerm:
    """A prior term from a ``PatchPriorModule`` or ``DAEPriorModule`` checkpoint (read as data unless ``trusted``).

    Args:
        maps: what the prior reads from the sampled variable (default: the image itself, or ``net``'s
            maps at the prior's layer); e.g. a generator code's maps at that layer (PPGN's ``p(h)``).

    Raises:
        ValueError: another kind of checkpoint, or a feature-map prior of another network than ``net``.
    """
    hp = read_checkpoint(path, "a prior of --configurations", trusted=trusted).get("hyper_parameters", {})
    layer, prior_net = hp.get("layer"), hp.get("net")
    if prior_net is not None and (net is None or prior_net != net.name):
        raise ValueError(f"{path} models {prior_net}'s {layer} maps, the study samples through {net.name if net else 'no network'}")
    maps = maps or _maps(net, layer)
    where = layer or "image"
    if "sigma" in hp:  # a DAE: a score only
        module = load_dae_prior(str(path), "a prior of --configurations", trusted)
        own = dae_residual_score(module.dae, float(module.noise_scale))
        score = feature_map_score(maps, own)
        return PriorTerm(f"dae-{where}", weight, lambda x: weight * score(x), None, None)
    if "expert" not in hp:
        raise ValueError(f"{path} is not a PatchPriorModule or DAEPriorModule checkpoint (train one with configs/priors/…)")
    energy_model = load_patch_prior(str(path), "a prior of --configurations", trusted).energy.requires_grad_(False)
    grey = energy_model.channels == 1 and layer is None

    def unweighted(x: Tensor) -> Tensor:
        m = maps(x)
        return energy_model.field_energy((to_grey(m) if grey else m).float())

    def energy(x: Tensor) -> Tensor:
        return weight * unweighted(x)

    return PriorTerm(f"{hp.get('expert', 'patch')}-{where}", weight, energy_score(energy), energy, unweighted)


def class_term(net: FeatureNetwork, class_index: int, weight: float) -> PriorTerm:
    """``p(c | x)^w`` under ``net``: energy ``−w log softmax(net(x))_c``."""

    def unweighted(x: Tensor) -> Tensor:
        logits = net(x)
        return -F.log_softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=1)[:, class_index]

    def energy(x: Tensor) -> Tensor:
        return weight * unweighted(x)

    return PriorTerm(f"class {class_index}", weight, energy_score(energy), energy, unweighted)


def through_generator(term: PriorTerm, generator: Callable[[Tensor], Tensor]) -> PriorTerm:
    """``term`` (on images) as a term on a generator's code ``h``: energy ``E(G(h))`` and score
    ``J_G(h)ᵀ s(G(h))`` — PPGN's chain in a latent space, with the image-level terms (an image prior,
    a class) pulled back through the generator ``G`` (e.g. an inverting network from a layer's maps)."""
    energy = None if term.energy is None else (lambda h: term.energy(generator(h)))  # type: ignore[misc]
    unweighted = None if term.unweighted is None else (lambda h: term.unweighted(generator(h)))  # type: ignore[misc]
    return PriorTerm(term.name, term.weight, feature_map_score(generator, term.score), energy, unweighted)


def joint_score(terms: Sequence[PriorTerm]) -> Score:
    """``x ↦ Σ wᵢ ∇ log pᵢ(x)``."""
    if not terms:
        raise ValueError("the sampled density needs at least one term")
    return lambda x: torch.stack([t.score(x) for t in terms]).sum(0)


def joint_energy(terms: Sequence[PriorTerm]) -> Callable[[Tensor], Tensor] | None:
    """``x ↦ Σ wᵢ Eᵢ(x)``, or ``None`` when a term (a DAE) has no energy."""
    if not terms or any(t.energy is None for t in terms):
        return None
    return lambda x: torch.stack([t.energy(x) for t in terms]).sum(0)  # type: ignore[misc]
