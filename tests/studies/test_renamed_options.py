"""Former flat option names still run for one release: rewritten to the new names, one note each."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from deeprestore.studies.cli import ROOT, build_parser, make_study, with_default_study
from deeprestore.studies.inversion.study import RESUME_KEYS, InversionStudy
from deeprestore.studies.renamed_options import renamed_arguments, renamed_config
from deeprestore.studies.study_folder import StudyFolder

FLAT_DEFAULT = {
    "experiment": None,
    "net": "efficientnet_lite0",
    "weights": "pretrained",
    "layers": ["block1", "block4", "block8"],
    "presets": ["mv2016", "gd-plain"],
    "iterations_scale": 1.0,
    "checkpoints": "checkpoints",
    "images": None,
    "crop_size": 128,
    "batch_size": 8,
    "wandb": "offline",
}


def _study(argv: list[str]):
    return make_study(build_parser().parse_args(with_default_study(argv)))


def test_a_config_in_the_former_flat_form_gives_the_same_study_as_the_default(tmp_path, capsys):
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump(FLAT_DEFAULT))
    assert _study(["inversion", "--config", str(old)]) == _study([])
    notes = capsys.readouterr().err.splitlines()
    assert len(notes) == 8 and all(line.startswith(f"note: {old}: ") for line in notes)
    assert f"note: {old}: crop_size is now images.crop_size; the former name is accepted until the next release" in notes


def test_former_command_line_names_are_rewritten_with_one_note_each(capsys):
    argv = ["--net", "efficientnet_lite1", "--layers", "stem", "block1", "--crop_size=64", "--grid_images", "2"]
    assert renamed_arguments("inversion", argv) == [
        "--network.name", "efficientnet_lite1", "--network.layers", "stem", "block1", "--images.crop_size", "64", "--grid_images", "2"
    ]  # fmt: skip
    assert capsys.readouterr().err.count("\n") == 3
    study = _study(["inversion", "--net", "efficientnet_lite1", "--layers", "stem", "block1", "--crop_size", "64"])
    assert (study.network.name, study.network.layers, study.images.crop_size) == ("efficientnet_lite1", ["stem", "block1"], 64)


def test_the_networks_study_turns_nets_and_weights_into_one_entry_per_network(capsys):
    argv = renamed_arguments("networks", ["--nets", "efficientnet_lite0", "efficientnet_lite1", "--weights", "random", "--positions", "1"])
    assert argv[:2] == ["--positions", "1"] and argv[2] == "--networks"
    assert json.loads(argv[3]) == [{"name": "efficientnet_lite0", "weights": "random"}, {"name": "efficientnet_lite1", "weights": "random"}]
    assert [n.weights for n in _study(["networks", "--nets", "efficientnet_lite0", "--weights", "random"]).networks] == ["random"]
    with pytest.raises(ValueError, match="weights is now given per network"):
        renamed_arguments("networks", ["--weights", "random"])
    capsys.readouterr()


def test_the_new_names_pass_unchanged_and_win_over_former_ones(capsys):
    new = ["--network.name", "efficientnet_lite2", "--images", '{"crop_size": 32}']
    assert renamed_arguments("inversion", new) == new
    merged = renamed_config("inversion", {"crop_size": 64, "images": {"crop_size": 32}})
    assert merged == {"images": {"crop_size": 32}}
    assert renamed_config("lp", {"workers": 2, "generator": None}) == {"processes": 2, "vae_generator": None}
    assert capsys.readouterr().err.count("note:") == 3


def test_every_shipped_config_uses_the_new_names():
    for path in sorted((ROOT / "configs" / "evaluate").glob("*.yaml")):
        text = path.read_text()
        found = re.search(r"evaluate\.py ([a-z-]+) --config", text)
        study = found.group(1) if found else "inversion"  # default.yaml: `python evaluate.py`
        values = yaml.safe_load(text)
        assert renamed_config(study, values, quiet=True) == values, path


def test_a_study_folder_written_under_the_former_names_resumes(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    study = InversionStudy(report_root=str(tmp_path), experiment="old")
    (folder / "config.yaml").write_text(yaml.safe_dump({"study": "inversion", **FLAT_DEFAULT, "seed_everything": 0}))
    renamed_keys = [key for key in RESUME_KEYS if "." in key]
    StudyFolder("inversion", study, resume_keys=renamed_keys).check_resumable()
    study.images.crop_size = 64
    with pytest.raises(ValueError, match=r"images\.crop_size: 128 before, 64 now"):
        StudyFolder("inversion", study, resume_keys=renamed_keys).check_resumable()
