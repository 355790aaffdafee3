"""The networks study: each network runs the inversion study's options with its own weights and layers."""

from __future__ import annotations

from pathlib import Path

import pytest

from deeprestore.studies.inversion.study import DEFAULT_LAYERS, InversionStudy
from deeprestore.studies.networks.study import NetworksStudy
from deeprestore.studies.option_groups import ImageOptions, NetworkOptions, OptimisationOptions
from deeprestore.studies.study_folder import StudyFolder, file_stem


def test_each_network_gets_the_shared_options_and_its_own_weights_and_layers(tmp_path):
    own = NetworkOptions("efficientnet_lite0", "random", ["stem", "block1", "block2", "block4"])
    study = NetworksStudy(
        report_root=str(tmp_path),
        experiment="nets",
        networks=[own, NetworkOptions("efficientnet_lite1")],
        positions=[0, 2],
        images=ImageOptions(crop_size=64, batch_size=3),
        optimisation=OptimisationOptions(presets=["gd-plain"], budget=10),
        seed_everything=3,
        trust_checkpoints=True,
    )
    assert study.matched_layers(own) == ["stem", "block2"]
    lite1 = DEFAULT_LAYERS["efficientnet_lite1"]
    assert study.matched_layers(study.networks[1]) == [lite1[0], lite1[2]]

    folder = StudyFolder("networks", study)
    inner = study.inversion_study(own, ["stem", "block2"], folder)
    assert isinstance(inner, InversionStudy)
    assert inner.network == NetworkOptions("efficientnet_lite0", "random", ["stem", "block2"])
    assert inner.images == study.images and inner.images is not study.images
    assert inner.optimisation == study.optimisation and inner.trainer == study.trainer
    assert (inner.seed_everything, inner.trust_checkpoints, inner.checkpoints) == (3, True, study.checkpoints)
    assert Path(inner.report_root) == folder.path and inner.experiment == file_stem("efficientnet_lite0")


def test_bad_networks_and_positions_are_refused_in_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"--positions \[9\] outside efficientnet_lite0's matched layers \(0–7"):
        NetworksStudy(positions=[9]).matched_layers(NetworkOptions("efficientnet_lite0"))
    with pytest.raises(ValueError, match="names a network twice"):
        NetworksStudy(report_root=str(tmp_path), networks=[NetworkOptions("efficientnet_lite0")] * 2).run()
    with pytest.raises(ValueError, match="--networks is empty"):
        NetworksStudy(report_root=str(tmp_path), networks=[]).run()
