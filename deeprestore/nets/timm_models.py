"""Any timm model as a network of the zoo: ``timm/<model>`` (needs ``pip install -e ".[timm]"``).

    net = load_network("timm/convnext_tiny.fb_in1k")      # weights from the local cache
    net = load_network("timm/resnet50", "/data/weights/resnet50_a1.safetensors")

``weights`` is one of:

* ``"pretrained"``: the model's default pretrained weights, read from where timm keeps them on
  disk — the Hugging Face hub cache (``$HF_HOME/hub``, ``model.safetensors`` or
  ``pytorch_model.bin`` of the model's ``hf_hub_id``) or the torch hub cache (the file of its
  ``url``). Nothing is downloaded; a missing file is an error naming both places;
* a path to a weights file timm can read for the model (``.safetensors``, ``.pth``, ``.bin``);
* ``"random"``: seeded initialisation, for plumbing tests only.

The input normalisation is the model's ``pretrained_cfg`` (``mean``, ``std``); models with a
``fixed_input_size`` (timm's ViTs) take only their ``input_size``. Tracing uses timm's own leaf
modules and functions (``timm.layers.get_notrace_modules``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from deeprestore.nets.graph_network import GraphNetwork
from deeprestore.nets.weights import hub_checkpoint_dir

__all__ = ["TIMM_PREFIX", "timm_network"]

TIMM_PREFIX = "timm/"
_HUB_FILES = ("model.safetensors", "pytorch_model.bin")


def _timm():
    try:
        import timm
    except ImportError as error:
        raise ValueError('timm/<model> networks need timm: pip install -e ".[timm]" (or pip install timm)') from error
    return timm


def _cached_weights(cfg) -> Path | None:
    """The pretrained weights of a timm ``PretrainedCfg`` already on disk, or ``None``."""
    hub_id = cfg.hf_hub_id
    if hub_id:
        from huggingface_hub import try_to_load_from_cache

        for file_name in _HUB_FILES:
            found = try_to_load_from_cache(hub_id, file_name)
            if isinstance(found, str):
                return Path(found)
    url = cfg.url
    if url:
        path = hub_checkpoint_dir() / Path(url).name
        if path.is_file():
            return path
    return None


def timm_network(model: str, weights: str = "pretrained", seed: int = 0, **options) -> GraphNetwork:
    """``timm.create_model(model)`` as a :class:`GraphNetwork` named ``timm/<model>``.

    Args:
        model: a timm model name, optionally with its pretrained tag (``convnext_tiny.fb_in1k``).
        weights: see the module docstring.
        seed: initialisation seed for ``weights="random"``.
        options: passed to :class:`GraphNetwork` (``layers``, ``token_layout``).

    Raises:
        ValueError: timm is not installed, or it does not know ``model``.
        FileNotFoundError: the weights are not on disk (the message says where they are looked for).
    """
    timm = _timm()
    name = TIMM_PREFIX + model
    if not timm.is_model(model.split(".")[0]):
        raise ValueError(f"unknown timm model {model!r} (timm.list_models() lists them)")
    if weights == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = timm.create_model(model, pretrained=False)
        source = f"random (seed {seed})"
    else:
        cfg = timm.models.get_pretrained_cfg(model)
        path = _cached_weights(cfg) if weights == "pretrained" else Path(weights).expanduser()
        if path is None or not path.is_file():
            where = (
                f"the Hugging Face hub cache ({cfg.hf_hub_id}: {' or '.join(_HUB_FILES)}) and {hub_checkpoint_dir()}"
                if weights == "pretrained"
                else str(path)
            )
            raise FileNotFoundError(
                f"{name} weights not found in {where}. This project never downloads weights at run time: on a machine "
                f"with internet access run `python -c \"import timm; timm.create_model('{model}', pretrained=True)\"` "
                f"and copy the cache over, or pass weights=/path/to/file. Use weights=random only for plumbing tests."
            )
        net = timm.create_model(model, pretrained=True, pretrained_cfg_overlay={"file": str(path)})
        source = str(path)
    cfg = net.pretrained_cfg
    size = tuple(cfg["input_size"][1:]) if cfg.get("fixed_input_size") else None
    tracer = {"leaf_modules": timm.layers.get_notrace_modules(), "autowrap_functions": timm.layers.get_notrace_functions()}
    return GraphNetwork(name, net, cfg["mean"], cfg["std"], source, input_size=size, tracer_kwargs=tracer, **options)
