"""A trained inverting network as a generator for CSGM and ILO.

A modular Dosovitskiy & Brox inverter (:class:`~deeprestore.inverters.InvertingNetwork` in the
``parallel``, ``stacked``, ``joint`` or ``end_to_end`` mode) maps the features at a layer ``L`` back
to the image through one module per network operation: a chain ``features_L → features_{L−1} → … →
image``, that is a generator with intermediate layers. :func:`inverter_generator` makes it a
:class:`~deeprestore.generative.StagedGenerator` whose "latent" is the feature map at ``L``, so
CSGM optimises the features and ILO moves on to the maps below them, one module at a time:

* layer 0: standardised features ``z``; stage 1 maps them to the features at ``L`` by the
  per-channel mean and standard deviation of the features of real photos (``μ_c + σ_c z``), so
  ILO's ``N(0, I)`` starts and Adam's steps have the features' own scale;
* layers 1 …: the features at ``L``, then each module's output down to the image in the network's
  normalised units;
* the last stage maps the image to ``[0, 1]`` (``x·std + mean``; not clamped).

The stages are not all ``σ(A h + b)`` (each module is a small convolutional network), so the LP
inversion does not apply; ILO and CSGM need only to run the chain from any layer.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from deeprestore.checkpoint_files import TRUST_CHECKPOINTS, read_checkpoint
from deeprestore.generative.staged_generator import GeneratorStage, StagedGenerator
from deeprestore.inverters import load_inverting_network

__all__ = ["inverter_generator", "is_inverter_checkpoint"]


def is_inverter_checkpoint(path: str | Path, trusted: bool = False) -> bool:
    """Whether ``path`` is an inverting-network checkpoint (its hyper-parameters name a net, layer
    and mode); read as data unless ``trusted``."""
    hp = read_checkpoint(path, "--generator", trusted=trusted, trust_option=TRUST_CHECKPOINTS).get("hyper_parameters", {})
    return {"net", "layer", "mode"} <= set(hp)


class _ChannelAffine(nn.Module):
    """``mean + std · z`` per channel: standardised features back to features, or the network's
    input units back to ``[0, 1]`` images."""

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, z: Tensor) -> Tensor:
        return self.mean + self.std * z


class _SizedModule(nn.Module):
    """One inverse module at the output size it was trained for."""

    def __init__(self, module: nn.Module, size: tuple[int, int] | None) -> None:
        super().__init__()
        self.module, self.size = module, size

    def forward(self, h: Tensor) -> Tensor:
        return self.module(h, self.size)


def inverter_generator(checkpoint: str | Path, photos: Tensor, trusted: bool = False) -> tuple[StagedGenerator, Tensor]:
    """The inverting network of ``checkpoint`` as a generator of images the size of ``photos``, and
    the photos' own latents (their standardised features: ``generator(latents)`` is the inverter's
    reconstruction of each photo, an image in its range).

    Args:
        checkpoint: a modular inverting-network checkpoint (``train.py``'s default model).
        photos: real images ``N×3×H×W`` in ``[0, 1]`` (at the size the inverter was trained at):
            their features at the inverted layer give the standardisation of layer 0.
        trusted: unpickle the checkpoint whatever it holds (else read as data).

    Raises:
        ValueError: a generic decoder (one module: no intermediate layers for ILO).
    """
    model = load_inverting_network(checkpoint, "--generator", trusted=trusted)
    chain = model.chain
    if not hasattr(chain, "ops"):
        raise ValueError(
            f"{checkpoint} is a generic decoder (one module); ILO needs an inverter with one module per operation "
            "(modes parallel, stacked, joint, end_to_end)"
        )
    levels, sizes = model.true_levels(photos.to(model.net.mean))
    features = levels[chain.target].float()
    dims = [0, 2, 3] if features.ndim == 4 else [0]
    shape = [1, -1, 1, 1] if features.ndim == 4 else [1, -1]
    mean, std = features.mean(dims).view(shape)[0], features.std(dims).clamp_min(1e-6).view(shape)[0]
    stages = [GeneratorStage(_ChannelAffine(mean, std), "identity")]
    stages += [GeneratorStage(_SizedModule(chain.inverse[op.name], sizes.get(op.input_layer)), "identity") for op in reversed(chain.ops)]
    stages.append(GeneratorStage(_ChannelAffine(model.net.mean[0], model.net.std[0]), "identity"))
    generator = StagedGenerator(stages, tuple(features.shape[1:])).eval()
    for p in generator.parameters():
        p.requires_grad_(False)
    return generator, (features - mean) / std
