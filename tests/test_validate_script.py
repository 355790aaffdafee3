"""benchmarks/gpu/validate.sh, the GPU validation, runs its steps at tiny sizes on the CPU."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu" / "validate.sh"
STEPS = [
    "train-ddp-bf16",
    "inversion-bf16",
    "inversion-compiled",
    "presets",
    "faces-bf16",
    "visualise",
    "more-ranks",
    "memory",
    "throughput",
]


def _validate(out: Path, **env: str) -> tuple[int, dict[str, str]]:
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=ROOT,
        env={**os.environ, "VALIDATE_DEVICE": "cpu", "OUT": str(out), **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    rows = [line.strip("|").split("|") for line in (out / "validate_summary.md").read_text().splitlines()[2:]]
    return done.returncode, {name.strip(): status.strip() for name, status, _ in rows}


@pytest.mark.slow
def test_every_step_passes_on_the_cpu(tmp_path):
    code, steps = _validate(tmp_path)
    assert steps == dict.fromkeys(STEPS, "0") and code == 0
    assert "| `efficientnet_lite0` (pretrained) | 8 |" in (tmp_path / "validate.log").read_text()  # the memory table
    assert (tmp_path / "reports" / "faces" / "inverse_problems.csv").is_file()


def test_a_failing_step_fails_the_script(tmp_path):
    code, steps = _validate(tmp_path, VALIDATE_STEPS="visualise", VALIDATE_NET="no_such_network")
    assert steps == {"visualise": "2"} and code == 1  # the study's one-line error, exit status 2
