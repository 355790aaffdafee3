"""The denoising study's methods: the CSV and Roth's FoE denoising."""

from __future__ import annotations

import pytest


def test_denoising_study_writes_the_csv_and_roths_foe_denoises(tmp_path):
    import csv

    import numpy as np
    import skimage.data
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    from skimage.restoration import denoise_tv_chambolle

    from deeprestore.studies.denoising.denoisers import default_denoisers, noisy_copy
    from deeprestore.studies.denoising.study import denoise_table, run_denoising
    from deeprestore.studies.study_folder import StudyFolder, StudyOptions

    image = skimage.data.camera()[200:248, 200:248].astype(np.float64)
    denoisers = [d for d in default_denoisers() if d.name in ("foe-roth", "tv-chambolle")]
    folder = StudyFolder("denoise", StudyOptions(experiment=tmp_path.name, report_root=str(tmp_path.parent)), {}).open()
    rows = run_denoising([image], ["camera"], [25.0], denoisers, folder, progress=False)
    with (tmp_path / "denoise.csv").open() as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames[:5] == ["method", "sigma", "image", "psnr", "ssim"]
        saved = list(reader)
    assert [r["method"] for r in saved] == ["foe-roth", "tv-chambolle"]
    noisy = noisy_copy(image, 25.0, 0 + 25)
    noisy_psnr = peak_signal_noise_ratio(image, np.clip(noisy, 0, 255), data_range=255)
    foe, tv = rows
    assert foe["psnr"] > noisy_psnr + 4  # Roth's filters through our MAP denoiser remove noise
    direct = peak_signal_noise_ratio(image, np.clip(255 * denoise_tv_chambolle(noisy / 255, weight=tv["param"]), 0, 255), data_range=255)
    assert abs(tv["psnr"] - direct) < 1e-5  # the TV row is scikit-image's own estimate, scored by metrics.psnr
    tv_estimate = np.clip(255 * denoise_tv_chambolle(noisy / 255, weight=tv["param"]), 0, 255)
    gaussian_ssim = structural_similarity(image, tv_estimate, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert tv["ssim"] == pytest.approx(gaussian_ssim, abs=1e-4)  # the one SSIM of every study (11×11 Gaussian)
    assert "| foe-roth |" in denoise_table(rows)
