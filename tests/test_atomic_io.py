"""Result files are written whole or not at all: a full disk is one line, and what a killed run
left half-written is removed by the next run."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from deeprestore.atomic_io import atomic_write, remove_orphans
from tests.study_runs import ROOT, inversion_command, study_env, write_photo_crops


@pytest.fixture
def small_disk(tmp_path):
    """A 60 KiB tmpfs (needs the right to mount, as root in a container; skipped without it)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if (
        shutil.which("mount") is None
        or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=60k", "tmpfs", str(mount)], capture_output=True).returncode != 0
    ):
        pytest.skip("cannot mount a small tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_full_disk_is_one_oserror_and_leaves_nothing(small_disk):
    with pytest.raises(OSError, match=r"cannot write .*big.bin \(100,000 bytes\): no space left on the device"):
        atomic_write(small_disk / "big.bin", lambda f: f.write(b"x" * 100_000))
    assert list(small_disk.iterdir()) == []


def test_a_study_on_a_full_disk_is_one_line(small_disk, tmp_path):
    images = [str(path) for path in write_photo_crops(tmp_path, 40)]
    command = inversion_command(small_disk / "full", "--images.files", *images, "--images.crop_size", "40", "--network.layers", "stem", "--optimisation.presets", "mv2016",
                                "--optimisation.iterations_scale", "0.02")  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=study_env(), capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("evaluate.py: error: cannot write") and "no space left on the device" in lines[0]
    assert not [p for p in (small_disk / "full").rglob("*.tmp")]


def test_the_next_run_removes_what_a_killed_write_left(tmp_path):
    (tmp_path / "grids").mkdir()
    orphan = tmp_path / "grids" / f".mv2016_stem.png.{uuid.uuid4().hex}.tmp"
    orphan.write_bytes(b"half a png")
    keep = [tmp_path / "grids" / ".hidden.tmp", tmp_path / "notes.tmp", tmp_path / "grids" / "mv2016_stem.png"]
    for path in keep:
        path.write_bytes(b"not ours")
    assert remove_orphans(tmp_path) == [orphan]
    assert not orphan.exists() and all(path.exists() for path in keep)
