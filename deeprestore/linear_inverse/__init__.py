"""Linear inverses of convolution layers as explicit matrices (the thesis's §1.1.1, its eq. 2): the
matrix ``W`` of a layer, the MAP inverse under a Gaussian prior, the pseudo-inverse, the best inverse a
strided transposed convolution can compute, and how far each is from a convolution."""

from deeprestore.linear_inverse.convolution_structure import (
    ConvolutionGrid,
    convolution_distance,
    convolution_key,
    convolution_projection,
    convolution_window,
    interior_grid,
)
from deeprestore.linear_inverse.convolutional_inverse import convolutional_inverse
from deeprestore.linear_inverse.layer_matrix import layer_matrix
from deeprestore.linear_inverse.optimal_inverse import gaussian_moments, linear_mmse_inverse, map_inverse, pseudo_inverse

__all__ = [
    "ConvolutionGrid",
    "convolution_distance",
    "convolution_key",
    "convolution_projection",
    "convolution_window",
    "convolutional_inverse",
    "gaussian_moments",
    "interior_grid",
    "layer_matrix",
    "linear_mmse_inverse",
    "map_inverse",
    "pseudo_inverse",
]
