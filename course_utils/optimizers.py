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


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_fraction(value: float, name: str, example: str) -> None:
    """A hyperparameter in [0, 1), such as momentum or a beta."""
    if not (_is_number(value) and 0 <= value < 1):
        raise ValueError(f"{name} must be a number in [0, 1) (e.g. {example}), got {value!r}")


def _check(param: Tensor, grad: Tensor, state: dict, lr: float, weight_decay: float) -> None:
    if not isinstance(param, Tensor) or not isinstance(grad, Tensor):
        raise TypeError(
            f"param and grad must be tensors, got {type(param).__name__} and {type(grad).__name__}"
        )
    if not param.is_floating_point():
        raise TypeError(
            f"param must be a real floating-point tensor (only those have gradients), got dtype {param.dtype}; "
            f"use param.float()"
        )
    if grad.dtype != param.dtype:
        raise TypeError(
            f"grad has dtype {grad.dtype} but param {param.dtype}; pass the gradient in the parameter's dtype "
            f"(param.grad always is)"
        )
    if grad.shape != param.shape:
        raise ValueError(f"grad has shape {tuple(grad.shape)} but param {tuple(param.shape)}")
    if not isinstance(state, dict):
        raise TypeError(
            f"state must be a dict kept between steps (start with {{}}), got {type(state).__name__}"
        )
    for key, value in state.items():
        if isinstance(value, Tensor) and value.shape != param.shape:
            raise ValueError(
                f"state[{key!r}] has shape {tuple(value.shape)} but param {tuple(param.shape)}: this state "
                f"belongs to another parameter; keep one state dict per parameter"
            )
    if not torch.isfinite(grad).all():
        raise ValueError(
            "grad holds NaN or inf: the loss diverged (lower the learning rate or clip gradients)"
        )
    if not torch.isfinite(param).all():
        raise ValueError(
            "param holds NaN or inf: an earlier step diverged; restart from finite weights with a lower "
            "learning rate"
        )
    for name, value in (("lr", lr), ("weight_decay", weight_decay)):
        if not (_is_number(value) and 0 <= value < math.inf):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@torch.no_grad()
def sgd_update(
    param: Tensor, grad: Tensor, state: dict, *, lr: float, momentum: float = 0.0, weight_decay: float = 0.0
) -> Tensor:
    """One step of SGD (with momentum if ``momentum > 0``): the new value of ``param``."""
    _check(param, grad, state, lr, weight_decay)
    _check_fraction(momentum, "momentum", "0.9")
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
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(
            f"betas must be a pair (beta1, beta2) of numbers in [0, 1), e.g. (0.9, 0.999), got {betas!r}"
        )
    b1, b2 = betas
    _check_fraction(b1, "betas[0]", "0.9")
    _check_fraction(b2, "betas[1]", "0.999")
    if not (_is_number(eps) and 0 < eps < math.inf):
        raise ValueError(
            f"eps must be a finite number > 0 (it keeps the step finite where v is 0), got {eps!r}"
        )
    if not isinstance(decoupled, bool):
        raise TypeError(f"decoupled must be True (AdamW) or False (Adam), got {decoupled!r}")
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
