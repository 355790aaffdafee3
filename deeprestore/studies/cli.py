"""``evaluate.py``'s command line: one subcommand per study, each parser built from its options class.

``python evaluate.py <study> [--config file.yaml] [--option value …]`` runs one study:

=====================  ==========================================================  =========================
subcommand             study                                                       options class
=====================  ==========================================================  =========================
``inversion``          every method at every layer, scored (the embedded default)  :class:`InversionStudy`
``denoise``            MAP denoising with priors against scikit-image              :class:`DenoisingStudy`
``inverse-problems``   CSGM and ILO with a trained generator                       :class:`InverseProblemsStudy`
``lp``                 Lei et al.'s layer-wise linear programs                     :class:`LPStudy`
``calibrate``          tune mv2016 per layer on one split, report on another       :class:`CalibrationStudy`
``networks``           the inversion study over several networks, matched depths   :class:`NetworksStudy`
``visualise``          class visualisations under several presets, scored          :class:`VisualisationStudy`
=====================  ==========================================================  =========================

Each option is a field of its study's dataclass (the help text is the field's entry in the class
docstring), or of an option group several studies share (``--network.*``, ``--images.*``,
``--optimisation.*``, ``--trainer.*``, ``--execution.*``: :mod:`~deeprestore.studies.option_groups`);
jsonargparse builds the parser from them, so ``--help`` of a subcommand shows its own options only.
Without a subcommand the inversion study runs; without ``--config`` it reads
``configs/evaluate/default.yaml``, as ``python train.py`` reads ``configs/default.yaml``. List
options take their values one after the other (``--network.layers block1 block4``) or as a YAML
list (``--network.layers [block1,block4]``); ``--network.layers null`` gives an optional list its
null (the network's own default layers). Options under their former flat names (``--net``,
``--crop_size`` …) still run, with a note (:mod:`~deeprestore.studies.renamed_options`).
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Any, Union

import yaml
from jsonargparse import ActionConfigFile, ArgumentParser, Namespace

from deeprestore.studies.calibration.study import CalibrationStudy
from deeprestore.studies.denoising.study import DenoisingStudy
from deeprestore.studies.feature_vae.study import FeatureMapVAEStudy
from deeprestore.studies.inverse_problems.study import InverseProblemsStudy
from deeprestore.studies.inversion.study import InversionStudy
from deeprestore.studies.linear_inverse.study import LinearInverseStudy
from deeprestore.studies.lp.study import LPStudy
from deeprestore.studies.networks.study import NetworksStudy
from deeprestore.studies.predict_job import end_ranks
from deeprestore.studies.renamed_options import renamed_arguments, renamed_config
from deeprestore.studies.sampling.study import SamplingStudy
from deeprestore.studies.texture.study import TextureStudy
from deeprestore.studies.visualisation.study import VisualisationStudy

__all__ = ["DEFAULT_CONFIG", "STUDIES", "build_parser", "main", "make_study"]

ROOT = Path(__file__).resolve().parents[2]
#: the embedded default (``python evaluate.py``): the inversion study's config
DEFAULT_CONFIG = ROOT / "configs" / "evaluate" / "default.yaml"
#: subcommand → options class (each has ``run(command) -> result``)
STUDIES: dict[str, type] = {
    "inversion": InversionStudy,
    "denoise": DenoisingStudy,
    "inverse-problems": InverseProblemsStudy,
    "lp": LPStudy,
    "calibrate": CalibrationStudy,
    "networks": NetworksStudy,
    "visualise": VisualisationStudy,
    "linear-inverse": LinearInverseStudy,
    "sample": SamplingStudy,
    "feature-vae": FeatureMapVAEStudy,
    "texture": TextureStudy,
}
DEFAULT_STUDY = "inversion"


def _summary(cls: type) -> str:
    return (cls.__doc__ or "").strip().split("\n\n")[0]


def build_parser() -> ArgumentParser:
    """The parser: one subcommand per study of :data:`STUDIES`."""
    parser = ArgumentParser(
        prog="evaluate.py",
        description="Evaluate methods of inverting and restoring images; one subcommand per study. "
        "Without one, the inversion study runs on the embedded default (configs/evaluate/default.yaml). "
        "List options take their values one after the other (--network.layers block1 block4) or as a list ([block1,block4]).",
        exit_on_error=False,
        default_env=False,
    )
    subcommands = parser.add_subcommands(required=True, dest="study")
    for name, cls in STUDIES.items():
        sub = ArgumentParser(prog=f"evaluate.py {name}", description=_summary(cls), exit_on_error=False, default_env=False)
        sub.add_argument("--config", action=ActionConfigFile, help="a YAML file of these options (configs/evaluate/*.yaml)")
        sub.add_class_arguments(cls, as_group=False, fail_untyped=True)
        subcommands.add_subcommand(name, sub, help=_summary(cls))
    return parser


def with_default_study(argv: Sequence[str]) -> list[str]:
    """``argv`` with the inversion subcommand put in front when none is given (top-level help excepted),
    the embedded default config after it when no ``--config`` is given, former option names
    rewritten to their new ones in the arguments and in each ``--config`` file
    (:mod:`~deeprestore.studies.renamed_options`), and list options' values gathered
    (:func:`gather_list_values`)."""
    argv = list(argv)
    if argv and argv[0] in ("-h", "--help"):
        return argv
    if not argv or argv[0] not in STUDIES:
        argv = [DEFAULT_STUDY, *argv]
    study, options = argv[0], argv[1:]
    if study == DEFAULT_STUDY and not any(a == "--config" or a.startswith("--config=") for a in options):
        options = ["--config", str(DEFAULT_CONFIG), *options]
    options = [_renamed_config_file(study, a) if i and options[i - 1] == "--config" else a for i, a in enumerate(options)]
    return [study, *gather_list_values(renamed_arguments(study, options), list_options(STUDIES[study]))]


def _renamed_config_file(study: str, path: str) -> str:
    """``path``, or the YAML text of its options under their new names if it uses former ones
    (a file that cannot be read is left to the parser, which says why)."""
    try:
        values = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return path
    if not isinstance(values, dict):
        return path
    renamed = renamed_config(study, values, where=f"{path}: ")
    return path if renamed == values else yaml.safe_dump(renamed, sort_keys=False)


def list_options(cls: type, prefix: str = "--") -> dict[str, type | None]:
    """The ``--names`` of the options of ``cls`` whose type is a list (or an optional list), those
    of its nested option groups too (``--network.layers``), each with its items' type when that
    is an options class (``--networks``: :class:`NetworkOptions`), else ``None``."""
    found: dict[str, type | None] = {}
    for name, hint in typing.get_type_hints(cls).items():
        if dataclasses.is_dataclass(hint):
            found |= list_options(hint, f"{prefix}{name}.")  # type: ignore[arg-type]
            continue
        members = [h for h in typing.get_args(hint) if h is not type(None)] if typing.get_origin(hint) in (Union, UnionType) else [hint]
        lists = [h for h in members if typing.get_origin(h) is list]
        if lists and len(members) == 1:  # a list, or an optional list (not ``int | list[int]``: devices)
            item = typing.get_args(lists[0])[0] if typing.get_args(lists[0]) else None
            found[f"{prefix}{name}"] = item if dataclasses.is_dataclass(item) else None
    return found


def gather_list_values(argv: Sequence[str], names: Mapping[str, type | None]) -> list[str]:
    """``--network.layers a b c`` → ``--network.layers ["a", "b", "c"]`` (JSON, so commas inside a value are kept),
    for the options in ``names``; a value that is already a list (``[a,b]``) is left as it is, an
    option given no values is the empty list, and ``null`` alone is null (``--network.layers null``: the
    network's own default layers). A list of option groups takes names too:
    ``--networks efficientnet_lite0 efficientnet_lite1`` → ``[{"name": …}, {"name": …}]``."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg not in names or (i < len(argv) and argv[i].lstrip().startswith("[")):
            out.append(arg)
            continue
        values: list[Any] = []
        while i < len(argv) and not argv[i].startswith("--"):
            values.append(argv[i])
            i += 1
        if names[arg] is not None:
            values = [{"name": v} for v in values]
        out += [arg, "null" if values == ["null"] else json.dumps(values)]
    return out


def _build(cls: type, values: Any) -> Any:
    """An options dataclass from parsed values: nested option groups and lists of them too."""
    if not dataclasses.is_dataclass(cls) or not isinstance(values, dict):
        return values
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        hint = hints.get(name)
        if name not in {f.name for f in dataclasses.fields(cls)}:
            continue
        if typing.get_origin(hint) is list and isinstance(value, list):
            (item,) = typing.get_args(hint)
            value = [_build(item, v) for v in value]
        elif isinstance(hint, type):
            value = _build(hint, value)
        elif isinstance(value, dict):  # an optional group (``Group | None``)
            value = next((_build(a, value) for a in typing.get_args(hint) if dataclasses.is_dataclass(a)), value)
        kwargs[name] = value
    return cls(**kwargs)


def make_study(cfg: Namespace) -> Any:
    """The study object of a parsed command line."""
    name = cfg.study
    values = cfg[name].as_dict()
    values.pop("config", None)
    return _build(STUDIES[name], values)


def main(args: Sequence[str] | None = None) -> Any:
    """Parse ``args`` (default ``sys.argv[1:]``) and run the study; returns its result.

    Errors in the options raise (``ValueError``, jsonargparse's ``ArgumentError``); ``evaluate.py``
    turns them into one line and exit status 2.
    """
    typed = list(sys.argv[1:] if args is None else args)
    cfg = build_parser().parse_args(with_default_study(typed))
    result = make_study(cfg).run(command=shlex.join(["python", "evaluate.py", *typed]))
    end_ranks()
    return result
