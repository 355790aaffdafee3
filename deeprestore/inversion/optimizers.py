"""Optimisers of the engine by name, as ``(variable, lr, H·W) → stepper`` factories.

Learning rates are *per pixel*: with the priors normalised by ``1/(H W)`` (M&V 2016), gradients
per pixel shrink as the image grows, so every optimiser but Adam (which is scale-free) multiplies
the rate by ``H·W``, as M&V's own update does (``η' = H W η``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from deeprestore.inversion.engine import StepperFactory
from deeprestore.inversion.steppers import (
    AdamStepper,
    AdaptiveStepGD,
    LBFGSStepper,
    MomentumRMSprop,
    NAdamStepper,
    TorchStepper,
)

OPTIMIZERS = ("mv2016", "sgd", "adam", "nadam", "lbfgs", "adaptive_gd")


class _ScaledTorchStepper(TorchStepper):
    def __init__(self, optimizer: torch.optim.Optimizer, scale: float) -> None:
        super().__init__(optimizer)
        self.scale = scale

    def set_lr(self, lr: float) -> None:
        super().set_lr(lr * self.scale)


def stepper_factory(name: str, momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999)) -> StepperFactory:
    """The factory for optimiser ``name``.

    * ``mv2016`` — M&V 2016's momentum + RMSprop-like update (:class:`MomentumRMSprop`);
    * ``sgd`` — momentum SGD (M&V 2015), rate × H·W;
    * ``adam`` — Adam with ``betas``, rate as given;
    * ``nadam`` — Adam with Nesterov momentum (:class:`NAdamStepper`: ``torch.optim.NAdam``'s
      arithmetic; MACO's optimiser) with ``betas``, rate as given;
    * ``lbfgs`` — L-BFGS with strong-Wolfe line search, rate as given (1 is usual);
    * ``adaptive_gd`` — plain gradient descent with an adaptive step (:class:`AdaptiveStepGD`), initial step × H·W.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")

    def make(variable: Tensor, lr: float, num_pixels: int) -> object:
        if name == "mv2016":
            return MomentumRMSprop(variable, lr, num_pixels, momentum)
        if name == "sgd":
            stepper = _ScaledTorchStepper(torch.optim.SGD([variable], lr=lr * num_pixels, momentum=momentum), num_pixels)
            return stepper
        if name == "adam":
            return AdamStepper(variable, lr, betas=tuple(betas))
        if name == "nadam":
            return NAdamStepper(variable, lr, betas=tuple(betas))
        if name == "lbfgs":
            return LBFGSStepper(torch.optim.LBFGS([variable], lr=lr, max_iter=1, history_size=20, line_search_fn="strong_wolfe"))
        return AdaptiveStepGD(variable, lr * num_pixels)

    return make
