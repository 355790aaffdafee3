"""The tests are laid out as the code: every package has its folder under tests/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_has_its_test_folder():
    packages = [p.name for p in sorted((ROOT / "deeprestore").iterdir()) if (p / "__init__.py").is_file()] + ["datamodules"]
    missing = [name for name in packages if not list((ROOT / "tests" / name).glob("test_*.py"))]
    assert not missing, f"no tests/<package>/test_*.py for {missing}"
