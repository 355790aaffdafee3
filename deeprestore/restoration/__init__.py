"""Image restoration with priors: MAP denoising (and, later, other forward operators)."""

from deeprestore.restoration.map_denoise import map_denoise

__all__ = ["map_denoise"]
