"""One run at a time in a study folder: a live holder refuses the second run in one line, a dead
holder's lock is taken over, and two concurrent runs on one folder never lose rows."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deeprestore.studies.folder_lock import FolderLock
from tests.study_runs import ROOT, inversion_command, study_env, write_photo_crops


def _lock_of(folder: Path, pid: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".lock").write_text(json.dumps({"host": socket.gethostname(), "pid": pid, "since": "then"}))


def test_a_live_holder_refuses_and_a_dead_one_is_taken_over(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _lock_of(tmp_path / "live", sleeper.pid)
        with pytest.raises(ValueError, match=f"is in use by the run of process {sleeper.pid} on this host since then; wait for it"):
            FolderLock(tmp_path / "live").acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
    _lock_of(tmp_path / "dead", sleeper.pid)  # that process is gone now
    lock = FolderLock(tmp_path / "dead")
    lock.acquire()
    assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    lock.acquire()  # the holder may take it again
    lock.release()
    assert not lock.path.exists()


def test_two_runs_on_one_folder_never_lose_rows(tmp_path):
    """While a long run holds the folder, a second run refuses in one line and writes nothing. The
    first is then killed (its lock left behind, stale); the second, run again, takes the folder
    over and adds its rows to those the first finished."""
    images = [str(path) for path in write_photo_crops(tmp_path)]
    env = study_env()

    def command(preset: str) -> list[str]:
        return inversion_command(tmp_path / "shared", "--images.files", *images, "--images.crop_size", "32", "--network.layers", "stem", "block2", "--optimisation.presets",
                                 preset, "--optimisation.iterations_scale", "10")  # fmt: skip

    first = subprocess.Popen(command("mv2016"), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock, table = tmp_path / "shared" / ".lock", tmp_path / "shared" / "metrics.csv"
    while not table.exists() and first.poll() is None:  # the first job's rows are written: the run is well under way
        time.sleep(0.05)
    second = subprocess.run(command("gd-plain"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert first.poll() is None, "the first run ended before the second one started"
    first.kill()
    first.wait()
    assert second.returncode == 2 and "Traceback" not in second.stderr
    errors = [line for line in second.stderr.splitlines() if line.startswith("evaluate.py: error:")]
    assert len(errors) == 1 and "is in use by the run of process" in errors[0]
    with table.open(newline="") as f:
        before = list(csv.DictReader(f))
    assert {r["method"] for r in before} == {"mv2016"}  # the second run wrote nothing
    again = subprocess.run(command("gd-plain"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "taking over" in again.stderr and not lock.exists()
    with table.open(newline="") as f:
        after = list(csv.DictReader(f))
    assert [r for r in after if r["method"] == "mv2016"] == before  # the first run's rows are kept
    assert {(r["layer"], r["image"]) for r in after if r["method"] == "gd-plain"} == {
        (layer, image) for layer in ("stem", "block2") for image in ("astronaut", "coffee")
    }
