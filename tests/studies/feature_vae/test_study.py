"""The feature-map VAE study through ``evaluate.py feature-vae`` on tiny (untrained) models: a row per
image, source and decoder, the inverter's decoding of the photos' maps is its reconstruction, resume,
a missing inverter skipped with a note, and an inverter of another layer refused in one line."""

from __future__ import annotations

import pytest
import torch

from datamodules.evaluation_images import sample_photo_crops
from deeprestore.checkpoint_files import load_module_checkpoint
from deeprestore.inverters import InvertingNetwork
from deeprestore.studies.cli import main
from tests.study_runs import QUIET, csv_rows, out_args

TINY = [
    "--samples",
    "2",
    "--canvas.size",
    "32",
    "--verifiers.names",
    "[efficientnet_lite1]",
    "--optimisation.iterations_scale",
    "0.02",
    *QUIET,
]


def test_the_study_decodes_every_source_both_ways_and_resumes(checkpoints, tmp_path):
    out = tmp_path / "f"
    args = ["feature-vae", "--vae", checkpoints["vae_block2"], "--inverter.checkpoint", checkpoints["inverter"], *TINY, *out_args(out)]
    rows = main(args)
    header, saved = csv_rows(out / "feature_vae.csv")
    assert header[:6] == ["source", "decoder", "image", "feature_error", "bn_distance", "verifiers_agree"]
    counts = {(s, d): sum(1 for r in rows if (r["source"], r["decoder"]) == (s, d)) for s, d in {(r["source"], r["decoder"]) for r in rows}}
    assert counts == {
        ("photo", "none"): 10,
        **{(s, d): n for d in ("inverter", "mv2016") for s, n in (("photo maps", 10), ("vae reconstruction", 10), ("vae sample", 2))},
    }
    assert len(saved) == len(rows) and all(r["feature_error"] is None for r in rows if r["source"] == "photo")

    photos = sample_photo_crops(32, 64, "five")[0]
    model = load_module_checkpoint(InvertingNetwork, checkpoints["inverter"], "test").eval()
    with torch.no_grad():
        expected = model(model.net.features(photos, "block2")["block2"], (32, 32)).clamp(0, 1)
    decoded = torch.load(out / "images" / "inverter.pt", weights_only=True)
    torch.testing.assert_close(decoded["photo maps"], expected)
    assert decoded["vae sample"].shape == (2, 3, 32, 32) and (out / "plots" / "decoded.png").is_file()
    assert "| vae sample | mv2016 | 2 |" in (out / "report.md").read_text()

    assert main(args) == rows  # resumed: every decoder kept
    missing = main(
        [
            "feature-vae",
            "--vae",
            checkpoints["vae_block2"],
            "--inverter.checkpoint",
            str(tmp_path / "none.ckpt"),
            *TINY,
            *out_args(tmp_path / "m"),
        ]
    )
    assert {r["decoder"] for r in missing} == {"none", "mv2016"}
    assert "decoder inverter skipped" in (tmp_path / "m" / "report.md").read_text()


def test_an_inverter_of_another_layer_is_refused(checkpoints, tmp_path):
    from tests.tiny_checkpoints import inverter

    other = inverter(tmp_path / "inv1" / "last.ckpt", "block1")
    with pytest.raises(ValueError, match="inverts efficientnet_lite0 block1; the VAE models efficientnet_lite0 block2"):
        main(["feature-vae", "--vae", checkpoints["vae_block2"], "--inverter.checkpoint", other, *TINY, *out_args(tmp_path / "bad")])
