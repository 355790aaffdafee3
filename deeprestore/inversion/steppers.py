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


class NAdamStepper:
    """NAdam — Adam with Nesterov momentum (Dozat 2016, "Incorporating Nesterov Momentum into Adam";
    MACO's optimiser) — on the image variable, with ``torch.optim.NAdam``'s arithmetic (momentum
    decay ψ = 0.004, no weight decay)::

        μ_t = β₁ (1 − ½ · 0.96^(t ψ)),   Π_t = μ_1 ⋯ μ_t
        m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,   d = √(v / (1 − β₂ᵗ)) + ε
        x ← x − lr (1 − μ_t) / (1 − Π_t) · g / d − lr μ_{t+1} / (1 − Π_t μ_{t+1}) · m / d

    The schedule ``μ``, its product and the bias correction are Python numbers, so a step reads
    nothing back from the device (torch's keeps them in tensors it reads every step).
    """

    def __init__(self, variable: Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.variable = variable
        self.lr = float(lr)
        self.beta1, self.beta2, self.eps = float(betas[0]), float(betas[1]), float(eps)
        self.momentum_decay = 4e-3
        self.steps, self.mu_product = 0, 1.0
        self.exp_avg = torch.zeros_like(variable)
        self.exp_avg_sq = torch.zeros_like(variable)

    def set_lr(self, lr: float) -> None:
        self.lr = float(lr)

    def _mu(self, t: int) -> float:
        return self.beta1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def step(self, energy: Energy) -> Tensor:
        x = self.variable
        value = _energy_with_gradient(x, energy)
        with torch.no_grad():
            g = x.grad
            self.steps += 1
            mu, mu_next = self._mu(self.steps), self._mu(self.steps + 1)
            self.mu_product *= mu
            self.exp_avg.lerp_(g, 1 - self.beta1)
            self.exp_avg_sq.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            denom = self.exp_avg_sq.div(1 - self.beta2**self.steps).sqrt_().add_(self.eps)
            x.addcdiv_(g, denom, value=-self.lr * (1 - mu) / (1 - self.mu_product))
            x.addcdiv_(self.exp_avg, denom, value=-self.lr * mu_next / (1 - self.mu_product * mu_next))
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
