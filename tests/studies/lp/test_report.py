"""The LP study's figures."""

from __future__ import annotations

from deeprestore.studies.lp.experiments import dimension_study
from deeprestore.studies.lp.report import lp_figures


def test_lp_figures_write_pngs(tmp_path):
    rows = dimension_study(latent_dims=(3, 4), expansions=(3,), trials=1, methods=("lp",), progress=False)
    assert [r["widths"] for r in rows] == ["3-9-27", "4-12-36"]
    noisy = [
        dict(method=m, widths="20-100-500", noise=s, trial=0, latent_rel_error=s * f, seconds=0.1, success=True)
        for m, f in (("lp-linf", 0.7), ("gd", 0.5))
        for s in (1e-3, 1e-2)
    ]
    paths = lp_figures(rows + noisy, tmp_path / "fig")
    assert sorted(p.name for p in paths) == ["lp_error_vs_noise.png", "lp_success_vs_latent_dim.png", "lp_time_vs_latent_dim.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
