"""Optimizers (优化器) as update rules, one parameter tensor at a time (notebook 06).

Each function takes a parameter, its gradient and a ``state`` dict it keeps between steps (start with ``{}``),
and returns the updated parameter; :mod:`torch.optim` gives the same numbers (tests/test_optimizers.py):

* :func:`sgd_update`: theta <- theta - lr * g, with optional momentum (buffer b <- mu * b + g, step along b)
  and L2 weight decay (g <- g + lambda * theta).
* :func:`adam_update`: Adam's first and second moment estimates with bias correction; ``weight_decay`` is
  L2 added to the gradient (``torch.optim.Adam``), or, with ``decoupled=True``, AdamW's decay of the weights
  themselves, theta <- theta - lr * lambda * theta, outside the adaptive scaling (``torch.optim.AdamW``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["adam_update", "sgd_update"]


def _check(param: Tensor, grad: Tensor, state: dict, lr: float, weight_decay: float) -> None:
    if not isinstance(param, Tensor) or not isinstance(grad, Tensor):
        raise TypeError("param and grad must be tensors")
    if grad.shape != param.shape:
        raise ValueError(f"grad has shape {tuple(grad.shape)} but param {tuple(param.shape)}")
    if not isinstance(state, dict):
        raise TypeError(
            f"state must be a dict kept between steps (start with {{}}), got {type(state).__name__}"
        )
    if not torch.isfinite(grad).all():
        raise ValueError(
            "grad holds NaN or inf: the loss diverged (lower the learning rate or clip gradients)"
        )
    for name, value in (("lr", lr), ("weight_decay", weight_decay)):
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < math.inf):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@torch.no_grad()
def sgd_update(
    param: Tensor, grad: Tensor, state: dict, *, lr: float, momentum: float = 0.0, weight_decay: float = 0.0
) -> Tensor:
    """One step of SGD (with momentum if ``momentum > 0``): the new value of ``param``."""
    _check(param, grad, state, lr, weight_decay)
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    g = grad + weight_decay * param  # L2 regularization: the gradient of lambda/2 * ||theta||^2
    if momentum:
        # the first step starts the buffer at g, as torch.optim.SGD does
        state["buffer"] = g.clone() if "buffer" not in state else momentum * state["buffer"] + g
        g = state["buffer"]
    return param - lr * g


@torch.no_grad()
def adam_update(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> Tensor:
    """One step of Adam (``decoupled=False``, weight decay as L2 in the gradient) or AdamW (``decoupled=True``)."""
    _check(param, grad, state, lr, weight_decay)
    b1, b2 = betas
    if not (0 <= b1 < 1 and 0 <= b2 < 1):
        raise ValueError(f"betas must be in [0, 1), got {betas!r}")
    if decoupled:
        param = param * (1 - lr * weight_decay)  # AdamW: shrink the weights directly
        g = grad
    else:
        g = grad + weight_decay * param  # Adam: L2, which the adaptive scaling then rescales
    t = state["step"] = state.get("step", 0) + 1
    m = state["m"] = b1 * state.get("m", torch.zeros_like(param)) + (1 - b1) * g  # first moment
    v = state["v"] = b2 * state.get("v", torch.zeros_like(param)) + (1 - b2) * g * g  # second moment
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)  # bias correction
    return param - lr * m_hat / (v_hat.sqrt() + eps)
