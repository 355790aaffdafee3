"""Feature-map statistics (Harder 2017, MSc thesis "Deep Restoration", §4.1, figure 4).

The average spatial covariance of flattened feature maps over a set of images and its inverse,
how far they are from Toeplitz (spatial stationarity; border effects), Gram matrices and sparsity.
Command: ``python -m deeprestore.stats`` (see :mod:`deeprestore.stats.command`).
"""

from deeprestore.stats.collect import collect_statistics, feature_map_shapes
from deeprestore.stats.covariance import (
    StreamingCovariance,
    channel_samples,
    covariance,
    regularized_inverse,
    spatial_samples,
)
from deeprestore.stats.gram import StreamingGram, gram_matrices
from deeprestore.stats.images import (
    ImageSource,
    RandomCrops,
    batched,
    file_sources,
    sample_photo_sources,
)
from deeprestore.stats.layer_stats import (
    LayerResult,
    LayerStatistics,
    stationarity_summary,
)
from deeprestore.stats.sparsity import (
    SparsitySummary,
    StreamingSparsity,
    gaussian_hoyer,
    hoyer_sparsity,
)
from deeprestore.stats.stationarity import (
    displacement_index,
    interior_positions,
    toeplitz_deviation_map,
    toeplitz_distance,
    toeplitz_projection,
)

__all__ = [
    "ImageSource",
    "LayerResult",
    "LayerStatistics",
    "RandomCrops",
    "SparsitySummary",
    "StreamingCovariance",
    "StreamingGram",
    "StreamingSparsity",
    "batched",
    "channel_samples",
    "collect_statistics",
    "covariance",
    "displacement_index",
    "feature_map_shapes",
    "file_sources",
    "gaussian_hoyer",
    "gram_matrices",
    "hoyer_sparsity",
    "interior_positions",
    "regularized_inverse",
    "sample_photo_sources",
    "spatial_samples",
    "stationarity_summary",
    "toeplitz_deviation_map",
    "toeplitz_distance",
    "toeplitz_projection",
]
