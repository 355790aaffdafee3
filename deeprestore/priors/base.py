"""Base class of every image prior of the optimisation: hand-crafted, learned or read from the network."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

from torch import Tensor, nn

__all__ = ["ImagePrior"]


class ImagePrior(nn.Module, metaclass=ABCMeta):
    """An image prior: a per-image energy plus an optional hard constraint.

    Interface used by an optimisation engine (pre-image / inversion by gradient descent):

    * ``prior(images) -> Tensor (N,)``: the energy of each image of an ``N×C×H×W`` batch in the
      library's units ([0, 1] images); differentiable w.r.t. ``images``. Sum or weight it as the
      objective requires; no reduction over the batch happens here, so images are independent.
    * ``prior.project(images) -> images``: the projection onto the prior's feasible set, to call
      after every optimisation step (identity unless the prior has a hard constraint).
    * ``prior.name``: a short human-readable identifier for logs.

    The hand-crafted priors hold no tensors of their own: their constants are Python floats, or
    :class:`~deeprestore.constant_tensors.ConstantTensor` s copied once to the input's device and
    dtype (fp16/bf16 inputs are computed in float32). The learned priors
    (:mod:`deeprestore.priors.learned_prior`, :mod:`deeprestore.priors.dae`) hold their trained
    modules, and the batch-norm statistics prior its network's running statistics.
    """

    @abstractmethod
    def forward(self, images: Tensor) -> Tensor:
        """Energy of each image: ``N×C×H×W`` → ``(N,)``."""

    def project(self, images: Tensor) -> Tensor:
        """Project ``N×C×H×W`` images onto the feasible set (identity by default)."""
        return images

    @property
    def name(self) -> str:
        """Short identifier, e.g. ``"tv(beta=2)"``; defaults to the class name."""
        return type(self).__name__
