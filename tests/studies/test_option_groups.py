"""The option groups the studies share: declared once, with the same meaning in every study."""

from __future__ import annotations

import dataclasses
import typing
from collections import defaultdict
from pathlib import Path

import pytest

from deeprestore.inversion import get_preset
from deeprestore.studies.cli import STUDIES
from deeprestore.studies.inversion.methods import InverterMethod, PresetMethod
from deeprestore.studies.option_groups import ImageOptions, OptimisationOptions
from deeprestore.studies.study_folder import StudyOptions


def _options_classes() -> set[type]:
    """Every study's options class, its bases and the option groups it nests (lists of groups too)."""
    found: set[type] = set()
    todo = list(STUDIES.values())
    while todo:
        cls = todo.pop()
        if cls in found or not dataclasses.is_dataclass(cls):
            continue
        found.add(cls)
        todo += [base for base in cls.__mro__[1:] if dataclasses.is_dataclass(base)]
        for hint in typing.get_type_hints(cls).values():
            todo += [h for h in (hint, *typing.get_args(hint)) if isinstance(h, type)]
    return found


def test_each_study_option_is_declared_in_exactly_one_class():
    """An option (a field that is not itself a group) has one declaration: a study's own field is
    declared by no other study class and by no group; a group's field belongs to its group
    (``--trainer.precision`` and ``--execution.precision`` are two options)."""
    studies: dict[str, list[str]] = defaultdict(list)
    in_groups: dict[str, list[str]] = defaultdict(list)
    for cls in _options_classes():
        hints = typing.get_type_hints(cls)
        for name in cls.__dict__.get("__annotations__", {}):
            if dataclasses.is_dataclass(hints[name]) or any(dataclasses.is_dataclass(a) for a in typing.get_args(hints[name])):
                continue
            (studies if issubclass(cls, StudyOptions) else in_groups)[name].append(cls.__name__)
    repeated = {name: classes + in_groups.get(name, []) for name, classes in studies.items() if len(classes + in_groups.get(name, [])) > 1}
    assert not repeated
    assert {"crop_size", "batch_size", "presets", "weights", "devices"} <= set(in_groups)
    assert {"seed_everything", "checkpoints", "positions"} <= set(studies)


def test_a_group_field_has_one_type_wherever_it_appears():
    groups: dict[str, set[str]] = defaultdict(set)
    for cls in _options_classes():
        for name, hint in typing.get_type_hints(cls).items():
            if dataclasses.is_dataclass(hint):
                groups[name].add(hint.__name__)
    assert {name: types for name, types in groups.items() if len(types) > 1} == {}
    assert groups["images"] == {"ImageOptions"} and groups["network"] == {"NetworkOptions"}


def test_a_budget_gives_every_preset_the_same_iterations():
    optimisation = OptimisationOptions(budget=350)
    for name in ("mv2016", "deepinversion", "lucent", "plugin", "mv2016-fourier"):
        phases = [p.scaled(optimisation.scale_for(PresetMethod(name).iterations)) for p in get_preset(name).phases(None)]
        assert abs(sum(p.iterations for p in phases) - 350) <= len(phases) // 2, name
    inverter = InverterMethod("inverter-joint", Path("run/last.ckpt"), "run", "joint", "block4", "pretrained")
    assert optimisation.scale_for(inverter.iterations) == 1.0
    assert OptimisationOptions(iterations_scale=2.0).scale_for(350) == 2.0
    assert OptimisationOptions(budget=700, iterations_scale=0.5).scale_for(350) == 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (OptimisationOptions(budget=0), "--optimisation.budget must be a positive number"),
        (OptimisationOptions(iterations_scale=0), "--optimisation.iterations_scale must be positive"),
        (OptimisationOptions(presets=["mv2099"]), "mv2099"),
        (ImageOptions(batch_size=0), "--images.batch_size must be positive"),
        (ImageOptions(crop_size=0), "--images.crop_size must be positive"),
        (ImageOptions(num_workers=-1), "--images.num_workers must be 0 or more"),
    ],
)
def test_a_group_rejects_values_that_cannot_run_naming_the_option(options, message):
    with pytest.raises(ValueError, match=message):
        options.check()
