"""The LP study through ``evaluate.py lp``."""

from __future__ import annotations

from deeprestore.studies.cli import main as evaluate_main
from deeprestore.studies.lp.experiments import LP_COLUMNS
from tests.study_runs import QUIET


def test_evaluate_runs_the_lp_study(tmp_path):
    import csv as _csv

    out = tmp_path / "lp"
    rows = evaluate_main(
        [
            "lp",
            "--widths",
            "5",
            "25",
            "125",
            "--trials",
            "3",
            "--noise_levels",
            "0",
            "0.01",
            "--methods",
            "lp",
            "gd",
            "--latent_dims",
            "4",
            "--expansions",
            "3",
            "--dimension_trials",
            "2",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "lp",
            *QUIET,
        ]
    )
    with open(out / "lp_inversion.csv") as f:
        read = list(_csv.DictReader(f))
    assert tuple(read[0]) == LP_COLUMNS and len(read) == len(rows) == 2 * 2 * 3 + 2 * 2
    noiseless_lp = [r for r in read if r["method"] == "lp" and r["widths"] == "5-25-125" and float(r["noise"]) == 0]
    assert len(noiseless_lp) == 3 and all(float(r["latent_rel_error"]) < 1e-6 for r in noiseless_lp)
    assert "| lp |" in (out / "report.md").read_text() and list((out / "plots").glob("*.png"))
