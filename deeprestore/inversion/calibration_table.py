"""Per-layer settings of a preset, as calibrated by ``python evaluate.py calibrate``.

A table is the ``layers`` section of a calibration's ``calibration.yaml``, shipped as
``deeprestore/inversion/calibrations/<net>.yaml``: for each layer the data weight C, the priors'
final weight of :func:`~deeprestore.inversion.presets.with_fading_priors` and the budget (× the
preset's iterations), with the scores it reached on the tuning and report splits. The preset
``mv2016-calibrated`` reads it; see docs/calibration.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

__all__ = ["CALIBRATIONS", "LayerSetting", "calibrated_setting"]

#: the folder of the shipped tables
CALIBRATIONS = Path(__file__).resolve().parent / "calibrations"


@dataclass(frozen=True)
class LayerSetting:
    """One layer's calibrated setting."""

    data_weight: float
    prior_final: float
    iterations_scale: float


@cache
def _table(net: str) -> dict[str, LayerSetting]:
    path = CALIBRATIONS / f"{net}.yaml"
    if not path.is_file():
        return {}
    layers = (yaml.safe_load(path.read_text()) or {}).get("layers", {})
    return {
        layer: LayerSetting(float(s["data_weight"]), float(s["prior_final"]), float(s["iterations_scale"])) for layer, s in layers.items()
    }


def calibrated_setting(net: str | None, layer: str) -> LayerSetting | None:
    """The shipped setting of ``layer`` of ``net``, or ``None`` where none was calibrated."""
    return _table(net or "").get(layer)
