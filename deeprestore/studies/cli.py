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
docstring); jsonargparse builds the parser from it, so ``--help`` of a subcommand shows its own
options only. Without a subcommand the inversion study runs; without ``--config`` it reads
``configs/evaluate/default.yaml``, as ``python train.py`` reads ``configs/default.yaml``. List
options take their values one after the other (``--layers block1 block4``) or as a YAML list
(``--layers [block1,block4]``); ``--layers null`` gives an optional list its null (the network's
own default layers).
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jsonargparse import ActionConfigFile, ArgumentParser, Namespace

from deeprestore.studies.calibration.study import CalibrationStudy
from deeprestore.studies.denoising.study import DenoisingStudy
from deeprestore.studies.inverse_problems.study import InverseProblemsStudy
from deeprestore.studies.inversion.study import InversionStudy
from deeprestore.studies.lp.study import LPStudy
from deeprestore.studies.networks.study import NetworksStudy
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
        "List options take their values one after the other (--layers block1 block4) or as a list ([block1,block4]).",
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
    the embedded default config after it when no ``--config`` is given, and list options'
    values gathered (:func:`gather_list_values`)."""
    argv = list(argv)
    if argv and argv[0] in ("-h", "--help"):
        return argv
    if not argv or argv[0] not in STUDIES:
        argv = [DEFAULT_STUDY, *argv]
    if argv[0] == DEFAULT_STUDY and not any(a == "--config" or a.startswith("--config=") for a in argv):
        argv = [argv[0], "--config", str(DEFAULT_CONFIG), *argv[1:]]
    return [argv[0], *gather_list_values(argv[1:], list_options(STUDIES[argv[0]]))]


def list_options(cls: type) -> set[str]:
    """The ``--names`` of the options of ``cls`` whose type is a list (or an optional list)."""
    hints = typing.get_type_hints(cls)
    return {
        f"--{name}"
        for name, hint in hints.items()
        if typing.get_origin(hint) is list or any(typing.get_origin(a) is list for a in typing.get_args(hint))
    }


def gather_list_values(argv: Sequence[str], names: set[str]) -> list[str]:
    """``--layers a b c`` → ``--layers ["a", "b", "c"]`` (JSON, so commas inside a value are kept),
    for the options in ``names``; a value that is already a list (``[a,b]``) is left as it is, an
    option given no values is the empty list, and ``null`` alone is null (``--layers null``: the
    network's own default layers)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg not in names or (i < len(argv) and argv[i].lstrip().startswith("[")):
            out.append(arg)
            continue
        values = []
        while i < len(argv) and not argv[i].startswith("--"):
            values.append(argv[i])
            i += 1
        out += [arg, "null" if values == ["null"] else json.dumps(values)]
    return out


def _build(cls: type, values: dict[str, Any]) -> Any:
    """An options dataclass from parsed values (nested dataclasses too)."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value = values[f.name]
        nested = f.default_factory if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        if isinstance(value, dict) and nested is not None and dataclasses.is_dataclass(nested):
            value = _build(nested, value)
        kwargs[f.name] = value
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
    return make_study(cfg).run(command=shlex.join(["python", "evaluate.py", *typed]))
