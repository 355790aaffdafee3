"""The tests are laid out as the code: every package has its folder under tests/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_has_its_test_folder():
    """``deeprestore/a/b/`` is tested in ``tests/a/b/``, at every depth (``datamodules/`` in ``tests/datamodules/``)."""
    code = ROOT / "deeprestore"
    packages = [str(p.parent.relative_to(code)) for p in sorted(code.rglob("__init__.py")) if p.parent != code] + ["datamodules"]
    missing = [name for name in packages if not list((ROOT / "tests" / name).glob("test_*.py"))]
    assert not missing, f"no tests/<package>/test_*.py for {missing}"
    assert "studies/inversion" in packages and "inversion/presets" in packages
