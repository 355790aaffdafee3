"""Linear inverses of convolution layers as explicit matrices (the thesis's §1.1.1, its eq. 2):
the matrix ``W`` of a layer, the MAP inverse under a Gaussian prior and the pseudo-inverse."""

from deeprestore.linear_inverse.layer_matrix import layer_matrix
from deeprestore.linear_inverse.optimal_inverse import map_inverse, pseudo_inverse

__all__ = ["layer_matrix", "map_inverse", "pseudo_inverse"]
