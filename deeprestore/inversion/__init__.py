"""Optimisation-based inversion (Mahendran & Vedaldi 2015, 2016; DeepInversion; Lucent; Plug-In
Inversion; MACO), texture synthesis (Gatys et al. 2015) and feature accentuation (Hamblin et al.
2024): data terms, parameterisations, starts, transforms, jitter, optimisers, presets and the
batched engine."""

from deeprestore.inversion.accentuation import SeedDistance, accentuate
from deeprestore.inversion.engine import InversionResult, Phase, minimise
from deeprestore.inversion.execution import Execution
from deeprestore.inversion.feature_loss import NormalisedFeatureLoss
from deeprestore.inversion.invert import invert, invert_features, layer_stride, run_preset
from deeprestore.inversion.objectives import gram_diversity
from deeprestore.inversion.optimizers import OPTIMIZERS, stepper_factory
from deeprestore.inversion.presets import PRESETS, Preset, get_preset
from deeprestore.inversion.seeds import image_seeds, index_seeds
from deeprestore.inversion.starts import mv_noise
from deeprestore.inversion.statistics_loss import STATISTICS, StatisticsLoss, map_statistics
from deeprestore.inversion.texture import synthesise_texture, transfer_style
from deeprestore.inversion.visualisations import (
    UNIT_KINDS,
    caricature,
    maximise_activation,
    maximise_units,
    unit_activation,
    unit_activations,
)

__all__ = [
    "SeedDistance",
    "UNIT_KINDS",
    "accentuate",
    "caricature",
    "gram_diversity",
    "maximise_activation",
    "maximise_units",
    "unit_activation",
    "unit_activations",
    "Execution",
    "InversionResult",
    "NormalisedFeatureLoss",
    "OPTIMIZERS",
    "PRESETS",
    "STATISTICS",
    "StatisticsLoss",
    "Phase",
    "Preset",
    "get_preset",
    "image_seeds",
    "index_seeds",
    "invert",
    "invert_features",
    "layer_stride",
    "map_statistics",
    "minimise",
    "mv_noise",
    "run_preset",
    "stepper_factory",
    "synthesise_texture",
    "transfer_style",
]
