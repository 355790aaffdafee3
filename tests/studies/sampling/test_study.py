"""The sampling study through ``evaluate.py sample`` on tiny (untrained) priors: rows, traces, resume,
the skip of a missing checkpoint, and bad configurations in one line."""

from __future__ import annotations

import json

import pytest

from deeprestore.studies.cli import main
from deeprestore.studies.study_folder import file_stem
from tests.study_runs import QUIET, csv_rows, out_args

TINY = ["--steps", "4", "--record_every", "2", "--chains", "2", "--canvas.size", "16", "--verifiers", "[efficientnet_lite1]", *QUIET]


def test_the_study_samples_every_configuration_and_resumes(checkpoints, tmp_path):
    out = tmp_path / "s"
    mala = {"name": "ica block1 mala", "priors": [{"checkpoint": checkpoints["ica"]}], "metropolis": True}
    dae = {"name": "dae + class", "priors": [{"checkpoint": checkpoints["dae"]}], "class_index": 1, "class_weight": 0.5}
    rows = main(["sample", "--configurations", json.dumps([mala, dae]), *TINY, *out_args(out)])
    header, saved = csv_rows(out / "samples.csv")
    assert header[:8] == ["configuration", "chain", "metropolis", "acceptance", "top1", "probability", "energy", "diversity"]
    assert "efficientnet_lite1_agrees" in header and len(saved) == len(rows) == 4
    by = {(r["configuration"], r["chain"]): r for r in rows}
    assert 0 <= by["ica block1 mala", 0]["acceptance"] <= 1 and by["dae + class", 0]["acceptance"] is None
    _, trace = csv_rows(out / f"trace_{file_stem('ica block1 mala')}.csv")
    assert {(r["step"], r["term"]) for r in trace} == {(s, "ica-block1") for s in ("2", "4")}
    _, trace = csv_rows(out / f"trace_{file_stem('dae + class')}.csv")
    assert {r["term"] for r in trace} == {"class 1"}  # the DAE has no energy to trace
    assert (
        (out / "plots" / "samples.png").is_file()
        and (out / "plots" / "chains.png").is_file()
        and "| dae + class |" in (out / "report.md").read_text()
    )

    missing = {"name": "missing", "priors": [{"checkpoint": str(tmp_path / "none.ckpt")}]}
    again = main(["sample", "--configurations", json.dumps([mala, dae, missing]), *TINY, *out_args(out)])
    assert again == rows  # kept, not sampled again; the missing one skipped
    assert len(list((out / "samples").glob("*.pt"))) == 2  # the figures of a resumed run still show every configuration
    assert "configuration 'missing' skipped" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        ({"name": "x", "priors": [{"checkpoint": "DAE"}], "metropolis": True}, "Metropolis adjustment needs an energy"),
        ({"name": "x"}, "neither priors nor a class"),
        ({"name": "x", "class_index": 1000}, "ImageNet class 0–999"),
    ],
)
def test_bad_configurations_are_one_clear_error(configuration, message, checkpoints, tmp_path):
    if configuration.get("priors"):
        configuration["priors"][0]["checkpoint"] = checkpoints["dae"]
    with pytest.raises(ValueError, match=message):
        main(["sample", "--configurations", json.dumps([configuration]), *TINY, *out_args(tmp_path / "bad")])
