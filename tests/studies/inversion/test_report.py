"""The inversion study's report: the evidence table and the file names of methods and layers."""

from __future__ import annotations


def test_the_evidence_table_counts_images_against_the_thresholds_and_gd_plain():
    from deeprestore.studies.inversion.report import evidence_table

    def row(method, image, fe, ssim):
        return {"method": method, "layer": "stem", "image": image, "feature_error": fe, "ssim": ssim}

    rows = [
        row("mv2016", "a", 0.10, 0.9),
        row("mv2016", "b", 0.20, 0.5),
        row("mv2016", "c", 0.30, 0.7),
        row("gd-plain", "a", 0.40, 0.8),
        row("gd-plain", "b", 0.15, 0.6),
        row("gd-plain", "c", 0.50, 0.1),
    ]
    table = evidence_table(rows, "stem", ["mv2016", "gd-plain"]).splitlines()
    assert (
        table[0]
        == "| method | worst feature error (image) | worst SSIM (image) | feature error ≤ 0.15 | feature error ≤ 0.25 | SSIM > gd-plain's |"
    )
    assert table[2] == "| mv2016 | 0.300 (c) | 0.500 (b) | 33% (1/3) | 67% (2/3) | 67% (2/3) |"
    assert table[3] == "| gd-plain | 0.500 (c) | 0.100 (c) | 33% (1/3) | 33% (1/3) | – |"
