"""Study options under their former names, accepted for one release with a note naming the new one.

The shared option groups (:mod:`.option_groups`) gave several options a new, nested name:
``--net`` is ``--network.name``, ``--crop_size`` is ``--images.crop_size``, ``presets:`` in a YAML
file is ``optimisation: {presets: …}``. A command line or config written for the flat names still
runs: each former name is rewritten to its new one and one note per name goes to stderr. The
networks study's ``--nets a b --weights w`` becomes ``--networks`` with one ``{name, weights}``
entry per network.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["RENAMED", "renamed_arguments", "renamed_config"]

_NETWORK = {"net": "network.name", "weights": "network.weights", "layers": "network.layers"}
_OPTIMISATION = {"presets": "optimisation.presets", "iterations_scale": "optimisation.iterations_scale", "budget": "optimisation.budget"}
_IMAGES = {
    "images": "images.files",
    "crop_size": "images.crop_size",
    "image_scan": "images.scan",
    "batch_size": "images.batch_size",
    "num_workers": "images.num_workers",
}
#: Per ``evaluate.py`` subcommand: former option name → its name now (dotted: inside a group).
RENAMED: dict[str, dict[str, str]] = {
    "inversion": {**_NETWORK, **_OPTIMISATION, **_IMAGES},
    "networks": {**_OPTIMISATION, **_IMAGES, "nets": "networks", "weights": "networks"},
    "calibrate": {**_NETWORK, "crop_size": "images.crop_size", "batch_size": "images.batch_size"}
    | {"tuning_images": "tuning_files", "report_images": "images.files"},
    "visualise": {"net": "network.name", "weights": "network.weights", "size": "canvas.size", "image_size": "canvas.size", **_OPTIMISATION},
    "denoise": {"images": "images.files", "crop_size": "images.crop_size"},
    "inverse-problems": {"images": "images.files", "image_size": "images.crop_size", "batch_size": "images.batch_size"},
    "lp": {"generator": "vae_generator", "generator_trials": "vae_generator_trials", "workers": "processes"},
    "sample": {"verifiers": "verifiers.names"},
}


def _note(old: str, new: str, where: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"note: {where}{old} is now {new}; the former name is accepted until the next release", file=sys.stderr)


def _set(values: dict[str, Any], dotted: str, value: Any) -> None:
    *groups, last = dotted.split(".")
    for group in groups:
        values = values.setdefault(group, {})
    values.setdefault(last, value)  # the new form wins over a former name


def _networks(names: Any, weights: Any) -> list[dict[str, Any]]:
    names = names if isinstance(names, list) else [names]
    return [{"name": str(n), **({"weights": weights} if weights is not None else {})} for n in names]


def renamed_config(study: str, values: dict[str, Any], where: str = "", *, quiet: bool = False) -> dict[str, Any]:
    """``values`` (a study's options as a mapping, e.g. a YAML file) with every former name of
    :data:`RENAMED` moved to its new place; one note per name on stderr (prefixed by ``where``;
    none if ``quiet``).
    A former name given as a mapping (a group already in the new form) is left alone.

    Raises:
        ValueError: the networks study's ``weights`` without ``nets`` (it belongs to each network).
    """
    renamed = RENAMED.get(study, {})
    out: dict[str, Any] = {}
    for key, value in values.items():
        if study == "networks" and key in ("nets", "weights"):
            continue
        if key in renamed and not isinstance(value, dict):
            _note(key, renamed[key], where, quiet)
            _set(out, renamed[key], value)
        elif isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}  # the new form wins over a former name
        else:
            out[key] = value
    if study == "networks" and ("nets" in values or "weights" in values):
        if "nets" not in values:
            raise ValueError(f"{where}weights is now given per network: --networks '[{{name: …, weights: {values['weights']}}}]'")
        for old in ("nets", "weights"):
            if old in values:
                _note(old, "networks (a list of {name, weights})", where, quiet)
        out["networks"] = _networks(values["nets"], values.get("weights"))
    return out


def _value(tokens: Sequence[str]) -> Any:
    """A former option's command-line values as one value: a list if several, else the string."""
    return list(tokens) if len(tokens) != 1 else tokens[0]


def renamed_arguments(study: str, argv: Sequence[str]) -> list[str]:
    """``argv`` (the options after the subcommand) with former names rewritten to the new ones
    (``--net x`` → ``--network.name x``; ``--nets a b --weights w`` → ``--networks [...]``); one
    note per name on stderr.

    Raises:
        ValueError: the networks study's ``--weights`` without ``--nets``.
    """
    renamed = RENAMED.get(study, {})
    out: list[str] = []
    networks: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, inline = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        whole_group = not eq and i + 1 < len(argv) and argv[i + 1].lstrip().startswith("{")
        if name not in renamed or whole_group:
            out.append(arg)
            i += 1
            continue
        i += 1
        tokens = [inline] if eq else []
        while not eq and i < len(argv) and not argv[i].startswith("--"):
            tokens.append(argv[i])
            i += 1
        if study == "networks" and name in ("nets", "weights"):
            networks[name] = tokens if name == "nets" else _value(tokens)
            continue
        _note(f"--{name}", f"--{renamed[name]}", "")
        out += [f"--{renamed[name]}", *tokens]
    if networks:
        converted = renamed_config(study, networks)
        out += ["--networks", json.dumps(converted["networks"])]
    return out
