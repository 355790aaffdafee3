"""Mahendran & Vedaldi's presets (the defaults of the authors' public code), and plain
gradient descent.

``mv2016`` — Mahendran & Vedaldi 2016 (``nnpreimage``; see ``docs/mv_reference.md``): bounded
range N_6 with the hard bound ‖x_ij‖ ≤ B₊ = 160 and TV^2 with V = B/6.5, both normalised by
``1/(H W ·)``; the data term weighted by C per layer; their momentum + RMSprop-like update with
η = 0.05 B²/α ≈ 53.3 for 300 iterations with jitter ``T = max(round(stride/4), 1)``, then 50
without jitter at η/10.

``mv2015`` — Mahendran & Vedaldi 2015 (``deep-goggle``): the α-norm (α = 6) and TV^2 priors,
momentum 0.9 SGD with the step-wise schedule 1, 0.1, 0.01 of the rate for 100, 200 and 100
iterations, no jitter, no bound; base rate 10 per pixel (the 2015 value is ≈ 57 under the inferred
σ, which diverged on EfficientNet-Lite0's deeper blocks). The weights are the 2015 code's (λ_L = 8e-10, λ_TV = 1/10/100 by
depth) re-expressed in the 2016 normalisation with σ ≈ 2.7·10⁴ (the 2015 image-norm constant,
inferred, not read: see the reference notes).

``gd-plain`` — plain gradient descent as a newcomer sets it up (docs/local_minima.md): the normalised feature loss alone (C = 1), no priors, no jitter,
plain gradient descent whose step grows ×1.1 after a step that lowers the loss and halves (the
step undone) after one that does not; 350 iterations, the same budget as ``mv2016``.
"""

from __future__ import annotations

from deeprestore.inversion.calibration_table import calibrated_setting
from deeprestore.inversion.engine import Phase
from deeprestore.inversion.jitter import jitter_for_stride
from deeprestore.inversion.presets.preset import Preset
from deeprestore.nets.feature_network import FeatureNetwork
from deeprestore.priors import AlphaNorm, BoundedRange, TotalVariation
from deeprestore.priors.base import ImagePrior
from deeprestore.priors.units import B

MV2016_LR = 0.05 * B**2 / 6  # ≈ 53.3


#: C per stride calibrated for networks unlike AlexNet at 227², each value from M&V's set
#: {300, 100, 20, 1}. EfficientNet-Lite0 at 128² (held-out photos, ×4 iterations): C = 300 to
#: stride 16 brings the mean feature error at block4/6/8 from 0.16/0.20/0.20 (M&V's 100/20/20)
#: to 0.12/0.12/0.12; at stride 32, C = 20 gives 0.13/0.19 against 0.24/0.28 with C = 1.
#: See docs/optimisation_inversion.md.
#: Lite1 and Lite2 share Lite0's stages and strides, so they use its ladder too: a comparison of
#: the three networks at matched depths then differs in the network only (docs/networks.md).
_LITE_DATA_WEIGHTS = {2: 300.0, 4: 300.0, 8: 300.0, 16: 300.0, 32: 20.0}
MV2016_DATA_WEIGHTS_BY_NET: dict[str, dict[int, float]] = {
    "efficientnet_lite0": _LITE_DATA_WEIGHTS,
    "efficientnet_lite1": _LITE_DATA_WEIGHTS,
    "efficientnet_lite2": _LITE_DATA_WEIGHTS,
}


def mv2016_data_weight(stride: float | None, net: str | None = None) -> float:
    """C by depth. The authors' AlexNet/VGG choice, from their sweep {300, 100, 20, 1}:
    stride ≤ 4 → 300, 8 → 100, 16 → 20, deeper or fully connected → 1 (their AlexNet runs use
    C = 20 at relu3 and C = 1 at fc6–fc8); a network in :data:`MV2016_DATA_WEIGHTS_BY_NET` uses
    its calibrated table instead (vector layers keep C = 1)."""
    if stride is None:
        return 1.0
    table = MV2016_DATA_WEIGHTS_BY_NET.get(net or "")
    if table is not None:
        return next((c for s, c in sorted(table.items()) if stride <= s), 1.0)
    if stride > 16:
        return 1.0
    if stride <= 4:
        return 300.0
    return 100.0 if stride <= 8 else 20.0


def mv2015_tv_weight(stride: float | None) -> float:
    """λ_TV = 1, 10, 100 for AlexNet layers 1–6, 7–12, 13–20 (by stride: ≤ 8, 16, deeper),
    times 0.0053 to express it in the normalised TV's units."""
    group = 1.0 if stride is not None and stride <= 8 else 10.0 if stride is not None and stride <= 16 else 100.0
    return 0.0053 * group


def _mv2016_phases(stride: float | None) -> list[Phase]:
    return [Phase(300, MV2016_LR, jitter_for_stride(stride)), Phase(50, MV2016_LR / 10, 1)]


def _mv2015_phases(stride: float | None) -> list[Phase]:
    # 0.004·σ²/(H W) ≈ 57 per pixel with σ ≈ 2.7e4 at 227²; that diverged at EfficientNet-Lite0's
    # block5 and block8 (2 held-out photos, 128²), 10 did not and inverted better there (same at block1)
    lr = 10.0
    return [Phase(400, lambda it: lr * (1.0 if it < 100 else 0.1 if it < 300 else 0.01), 1)]


def mv2016_priors(stride: float | None, net: FeatureNetwork | None = None) -> list[tuple[ImagePrior, float]]:
    return [(BoundedRange(alpha=6.0), 1.0), (TotalVariation(beta=2.0), 1.0)]


MV_PRESETS: dict[str, Preset] = {
    "mv2016": Preset("mv2016", "mv2016", _mv2016_phases, mv2016_priors, mv2016_data_weight, visualisation_phases=1),
    "mv2016-calibrated": Preset(
        "mv2016-calibrated", "mv2016", _mv2016_phases, mv2016_priors, mv2016_data_weight, calibrated=True, visualisation_phases=1
    ),
    "mv2015": Preset(
        "mv2015",
        "sgd",
        _mv2015_phases,
        lambda stride, net: [(AlphaNorm(alpha=6.0), 7.4), (TotalVariation(beta=2.0), mv2015_tv_weight(stride))],
        lambda stride, net=None: 1.0,
        visualisation_phases=1,
    ),
    "gd-plain": Preset(
        "gd-plain",
        "adaptive_gd",
        lambda stride: [Phase(350, 1.0, 1)],
        lambda stride, net: [],
        lambda stride, net=None: 1.0,
        visualisation_phases=1,
    ),
}


def describe_data_weight(preset: Preset, net: str, layer: str, stride: float | None) -> str:
    """``preset``'s C at ``layer`` of ``net`` and where it comes from, in words (for reports)."""
    setting = calibrated_setting(net, layer) if preset.calibrated else None
    if setting is not None:
        return f"C = {setting.data_weight:g}, prior → {setting.prior_final:g}, ×{setting.iterations_scale:g} budget (calibrated: calibrations/{net}.yaml)"
    c = preset.data_weight(stride, net)
    if preset.data_weight is not mv2016_data_weight:
        return f"C = {c:g} (the preset's constant)"
    where = "vector layer" if stride is None else f"stride {stride:g}"
    if net in MV2016_DATA_WEIGHTS_BY_NET:
        return f"C = {c:g} ({where}; {net}'s table MV2016_DATA_WEIGHTS_BY_NET)"
    return f"C = {c:g} ({where}; M&V's AlexNet/VGG ladder by stride: no calibrated table for {net})"
