"""One optimisation step on a batch of independent images, for each optimiser the engine offers.

Every stepper takes ``energy()``, a closure returning the per-image energy ``(N,)`` at the current
variable (with this iteration's jitter fixed), and returns that energy. The images of a batch are
independent problems: their energies are summed for back-propagation, which gives each image its
own gradient (L-BFGS alone couples them, through its line search on the sum).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from deeprestore.plain_adam import PlainAdam

Energy = Callable[[], Tensor]


def _energy_with_gradient(x: Tensor, energy: Energy) -> Tensor:
    """``energy()`` (``(N,)``) at the current ``x``, with ``x.grad`` set to the gradient of its sum."""
    x.grad = None
    value = energy()
    value.sum().backward()
    return value


class TorchStepper:
    """A ``torch.optim`` optimiser (momentum SGD) on the image variable."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def step(self, energy: Energy) -> Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        value = energy()
        value.sum().backward()
        self.optimizer.step()
        return value.detach()


class AdamStepper:
    """Adam on the image variable, through :class:`~deeprestore.plain_adam.PlainAdam` (torch's
    Adam arithmetic without ``Optimizer.step``'s per-call bookkeeping)."""

    def __init__(self, variable: Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> None:
        self.adam = PlainAdam(variable, betas=betas)
        self.lr = float(lr)

    def set_lr(self, lr: float) -> None:
        self.lr = float(lr)

    def step(self, energy: Energy) -> Tensor:
        value = _energy_with_gradient(self.adam.variable, energy)
        self.adam.step(self.lr)
        return value.detach()


class LBFGSStepper(TorchStepper):
    """``torch.optim.LBFGS`` (strong-Wolfe line search); one engine iteration = one ``step``."""

    def step(self, energy: Energy) -> Tensor:
        last: list[Tensor] = []

        def closure() -> Tensor:
            self.optimizer.zero_grad(set_to_none=True)
            value = energy()
            if not last:
                last.append(value.detach())
            total = value.sum()
            total.backward()
            return total

        self.optimizer.step(closure)
        return last[0]


class AdaptiveStepGD:
    """Plain gradient descent with an adaptive step (the rule of docs/local_minima.md): steps ``x ← x − h·∇E`` with a step size per image that
    grows by ``grow`` after a step that lowered the energy and shrinks by ``shrink`` (the step
    being undone) after one that did not.

    Args:
        variable: the image variable ``N×…`` (a leaf tensor with ``requires_grad``).
        lr: the initial step size ``h``.
    """

    def __init__(self, variable: Tensor, lr: float, grow: float = 1.1, shrink: float = 0.5) -> None:
        self.variable = variable
        self.h = torch.full((variable.shape[0],), float(lr), device=variable.device)
        self.grow, self.shrink = grow, shrink

    def set_lr(self, lr: float) -> None:
        """The step size adapts by itself; a schedule does not apply."""

    def step(self, energy: Energy) -> Tensor:
        x = self.variable
        value = _energy_with_gradient(x, energy)
        shape = (-1,) + (1,) * (x.ndim - 1)
        with torch.no_grad():
            previous = x.detach().clone()
            x.sub_(self.h.view(shape) * x.grad)
            lower = energy() < value.detach()
            x.copy_(torch.where(lower.view(shape), x, previous))
            self.h = torch.where(lower, self.h * self.grow, self.h * self.shrink)
        return value.detach()


class MomentumRMSprop:
    """Mahendran & Vedaldi 2016's update (``nnpreimage``: momentum with an RMSprop-like scale)::

        G ← ρ G + g²                    (a decayed sum, no (1 − ρ))
        μ ← ρ μ − g / (1/η' + √G)
        x ← x + μ                       (then the engine projects onto the bounds)

    with ``η' = H·W·η`` (``H×W`` the output image size), which compensates the ``1/(HW)`` in the
    normalised priors; ``μ`` is reset whenever the learning rate changes.

    Args:
        variable: the image variable, in M&V units.
        lr: ``η`` (M&V use ``0.05 B² / α ≈ 53.3``).
        num_pixels: ``H·W`` of the output image.
        momentum: ``ρ`` (0.9).
    """

    def __init__(self, variable: Tensor, lr: float, num_pixels: int, momentum: float = 0.9) -> None:
        self.variable = variable
        self.lr = float(lr)
        self.num_pixels = num_pixels
        self.momentum = momentum
        self.squares = torch.zeros_like(variable)
        self.velocity = torch.zeros_like(variable)

    def set_lr(self, lr: float) -> None:
        if float(lr) != self.lr:
            self.velocity.zero_()
            self.lr = float(lr)

    def step(self, energy: Energy) -> Tensor:
        x = self.variable
        value = _energy_with_gradient(x, energy)
        with torch.no_grad():
            g = x.grad
            self.squares.mul_(self.momentum).add_(g * g)
            self.velocity.mul_(self.momentum).sub_(g / (1.0 / (self.num_pixels * self.lr) + self.squares.sqrt()))
            x.add_(self.velocity)
        return value.detach()
