"""The visualisation study: each class image scored by the network."""

from __future__ import annotations

from tests.study_runs import QUIET


def test_the_visualisation_study_scores_each_class_image(tmp_path):
    from deeprestore.studies.cli import main as evaluate

    rows = evaluate(
        [
            "visualise",
            "--classes",
            "1",
            "967",
            "--optimisation.presets",
            "mv2016",
            "lucent",
            "--optimisation.budget",
            "40",
            "--canvas.size",
            "64",
            "--verifiers.names",
            "efficientnet_lite1",
            "--report_root",
            str(tmp_path),
            "--experiment",
            "vis",
            *QUIET,
        ]
    )
    assert [(r["preset"], r["class_index"]) for r in rows] == [("mv2016", 1), ("mv2016", 967), ("lucent", 1), ("lucent", 967)]
    assert rows[1]["class_name"] == "espresso" and all(r["probability"] > 5 / 1000 for r in rows)  # above chance (1/1000)
    # DeepInversion's judge: a network that did not make the images; its columns in the CSV and its top-1 rate in the report
    assert all(isinstance(r["efficientnet_lite1_top1"], bool) and 0 <= r["efficientnet_lite1_probability"] <= 1 for r in rows)
    header = (tmp_path / "vis" / "visualisations.csv").read_text().splitlines()[0]
    assert header.endswith("seconds,efficientnet_lite1_top1,efficientnet_lite1_probability")
    report = (tmp_path / "vis" / "report.md").read_text()
    assert (tmp_path / "vis" / "classes.png").is_file() and "efficientnet_lite1 top-1 is the class" in report
    assert (
        tmp_path / "vis" / "attributions.png"
    ).is_file() and "![attributions](attributions.png)" in report  # MACO's map beside each image
