"""Which checkpoint of a train.py experiment the inversion study evaluates."""

from __future__ import annotations

import time

from deeprestore.studies.inversion.inverter_checkpoints import checkpoint_in


def test_checkpoint_choice_per_experiment(tmp_path):
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "last.ckpt").touch()
    assert checkpoint_in(folder).name == "last.ckpt"
    (folder / "stacked.ckpt").touch()
    assert checkpoint_in(folder).name == "stacked.ckpt"
    old, new = folder / "best-epoch009-step9.ckpt", folder / "best-epoch001-step1.ckpt"
    old.touch()
    new.touch()
    stamp = time.time()
    import os

    os.utime(old, (stamp - 100, stamp - 100))
    assert checkpoint_in(folder) == new
