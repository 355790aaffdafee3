"""The leaderboard page: means per layer and method, the best marked, written by the study."""

from __future__ import annotations

import math

import pytest
import torch

from deeprestore.studies.cli import main
from deeprestore.studies.inversion.leaderboard import leaderboard_markdown, leaderboard_rows
from tests.study_runs import QUIET, as_list, out_args


def _row(method: str, layer: str, image: str, ssim: float, fe: float, kept: bool) -> dict:
    return {"method": method, "layer": layer, "image": image, "ssim": ssim, "psnr": 10 * ssim, "feature_error": fe, "seconds": fe,
            "top1_kept": True, "lite1_top1_kept": kept, "lite1_confidence": 0.5, "lite1_feature_error": 0.1}  # fmt: skip


def test_means_order_and_the_best_of_each_column():
    rows = [
        _row("a", "block4", "x", 0.2, 0.5, True),
        _row("a", "block4", "y", 0.4, 0.7, False),
        _row("b", "block4", "x", 0.1, 0.2, False),
        _row("b", "block4", "y", 0.1, 0.2, False),
        _row("a", "block1", "x", 0.9, 0.1, True),
    ]
    board = leaderboard_rows(rows, ["block1", "block4"])
    assert [(e["layer"], e["method"]) for e in board] == [("block1", "a"), ("block4", "b"), ("block4", "a")]  # by feature error
    a4 = board[2]
    assert a4["ssim"] == pytest.approx(0.3) and a4["feature_error"] == pytest.approx(0.6) and a4["verifier_agreement"] == 0.5
    page = leaderboard_markdown(rows, ["block1", "block4"], title="T", command="python evaluate.py x", date="2026-12-07")
    assert "| b | 2 | 0.100 | 1.00 | **0.200** | 0.00 | **0.20** |" in page
    assert "| a | 2 | **0.300** | **3.00** | 0.600 | **0.50** | 0.60 |" in page
    assert "`python evaluate.py x` on 2026-12-07" in page and page.index("## block1") < page.index("## block4")
    without = [{k: v for k, v in r.items() if not k.startswith("lite1")} for r in rows]
    assert math.isnan(leaderboard_rows(without, ["block1", "block4"])[0]["verifier_agreement"])


def test_the_study_writes_the_page_it_is_asked_for(photos, tmp_path):
    torch.set_num_threads(1)
    page = tmp_path / "docs" / "leaderboard.md"
    main(["inversion", "--images.files", as_list(str(photos / "astronaut.png"), str(photos / "coffee.png")), "--images.crop_size", "48",
          "--network.layers", as_list("stem", "block1"), "--optimisation.presets", as_list("gd-plain", "mv2016"),
          "--optimisation.iterations_scale", "0.02", "--checkpoints", "", "--leaderboard", str(page), *QUIET, *out_args(tmp_path / "s")])  # fmt: skip
    text = page.read_text()
    assert text.count("| gd-plain | 2 |") == 2 and text.count("| mv2016 | 2 |") == 2 and "no verifiers" in text
