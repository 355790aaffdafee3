"""The hybrid method: an optimisation started from an inverting network's reconstruction."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from deeprestore.cli_errors import run_command
from deeprestore.inversion import invert
from deeprestore.metrics import feature_error
from deeprestore.nets import load_network
from deeprestore.studies.cli import main
from deeprestore.studies.inversion.inverter_checkpoints import find_inverter_checkpoints
from deeprestore.studies.inversion.methods import HybridMethod
from deeprestore.studies.inversion.scoring import read_rows
from tests.study_runs import QUIET, as_list, out_args


@pytest.fixture(scope="module")
def lite0():
    return load_network("efficientnet_lite0")


@pytest.fixture(scope="module")
def inverter_method(checkpoints):
    (method,), notes = find_inverter_checkpoints(Path(checkpoints["inverter"]).parent, "efficientnet_lite0")
    assert not notes
    return method


def _reconstruct(method, net, images, scale: float = 1.0) -> torch.Tensor:
    return method.reconstructor(net, "block2", iterations_scale=scale, seed=0, progress=False)(images)[0]


def test_a_hybrid_at_zero_iterations_returns_the_inverters_reconstruction(lite0, inverter_method, photo_crops):
    images = photo_crops[:2, :, :48, :48]
    hybrid = HybridMethod("mv2016", inverter_method, fraction=0.0)
    assert hybrid.name == "hybrid-mv2016-from-joint" and hybrid.layers(["stem", "block2"], lite0) == ["block2"]
    torch.testing.assert_close(_reconstruct(hybrid, lite0, images), _reconstruct(inverter_method, lite0, images), rtol=0, atol=0)


def test_a_hybrid_runs_its_fraction_of_the_preset_from_the_clamped_reconstruction(lite0, inverter_method, photo_crops):
    images = photo_crops[:2, :, :48, :48]
    hybrid = HybridMethod("mv2016", inverter_method, fraction=0.5)
    got = _reconstruct(hybrid, lite0, images, scale=0.1)
    start = _reconstruct(inverter_method, lite0, images).clamp(0, 1)
    expected = invert(lite0, images, ["block2"], "mv2016", init=start, iterations_scale=0.05, progress=False).images
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    with torch.no_grad():
        target = lite0.features(images, ["block2"])["block2"]
        before, after = (feature_error(lite0.features(x.clamp(0, 1), ["block2"])["block2"], target) for x in (start, got))
    assert (after < 0.7 * before).all(), (before, after)  # the untrained inverter's start is far; 18 steps close in


def test_the_study_runs_a_hybrid_of_each_preset_with_each_inverter(photos, checkpoints, tmp_path, capsys, monkeypatch):
    torch.set_num_threads(1)
    out = tmp_path / "study"
    common = ["inversion", "--images.files", as_list(str(photos / "astronaut.png")), "--images.crop_size", "48",
              "--network.layers", as_list("block2"), "--optimisation.presets", "[]", "--optimisation.iterations_scale", "0.05",
              "--checkpoints", str(Path(checkpoints["inverter"]).parents[1]), *QUIET, *out_args(out)]  # fmt: skip
    result = main([*common, "--hybrid.presets", as_list("mv2016"), "--hybrid.fraction", "0.5"])
    methods = [m for m, _ in result.ran]
    assert "hybrid-mv2016-from-joint" in methods and "inverter-joint" in methods
    rows = {r["method"]: r for r in read_rows(out / "metrics.csv") if r["layer"] == "block2"}
    assert rows["hybrid-mv2016-from-joint"]["feature_error"] < rows["inverter-joint"]["feature_error"]
    (described,) = [m for m in yaml.safe_load((out / "config.yaml").read_text())["methods"] if m["kind"] == "hybrid"]
    assert described["fraction"] == 0.5 and described["inverter"]["name"] == "inverter-joint"
    monkeypatch.setattr("sys.argv", ["evaluate.py", *common[:-4], *out_args(tmp_path / "bad"), "--hybrid.fraction", "1.5"])
    assert run_command(main, "evaluate.py") == 2
    assert capsys.readouterr().err.strip().endswith("--hybrid.fraction must be in [0, 1] (a fraction of the preset's iterations), got 1.5")
