"""Inverting generative networks and solving inverse problems with them.

Generators split into stages (:class:`StagedGenerator`), forward operators, layer-wise linear
programs for ReLU networks (Lei et al. 2019), Intermediate Layer Optimisation with l1-ball
projections (Daras et al. 2021) and the latent-only baseline CSGM (Bora et al. 2017); VAEs of images
and of one layer's feature maps.
"""

from deeprestore.generative.conv_generator import conv_generator, fc_image_generator
from deeprestore.generative.fc_generator import fully_connected_generator
from deeprestore.generative.feature_map_vae import FeatureMapVAEModule, load_feature_map_vae
from deeprestore.generative.gradient_inversion import invert_by_gradient_descent
from deeprestore.generative.ilo import InversionResult, csgm, ilo
from deeprestore.generative.l1_ball import project_l1_ball, project_l1_ball_around
from deeprestore.generative.lp_inversion import invert_layerwise, invert_relu_layer
from deeprestore.generative.stage_matrix import stage_affine
from deeprestore.generative.staged_generator import ACTIVATIONS, GeneratorStage, StagedGenerator
from deeprestore.generative.vae_module import VAEGeneratorModule, load_generator

__all__ = [
    "ACTIVATIONS",
    "FeatureMapVAEModule",
    "GeneratorStage",
    "InversionResult",
    "StagedGenerator",
    "VAEGeneratorModule",
    "conv_generator",
    "csgm",
    "fc_image_generator",
    "fully_connected_generator",
    "ilo",
    "invert_by_gradient_descent",
    "invert_layerwise",
    "invert_relu_layer",
    "load_feature_map_vae",
    "load_generator",
    "project_l1_ball",
    "project_l1_ball_around",
    "stage_affine",
]
