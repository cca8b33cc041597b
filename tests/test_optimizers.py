"""The hand-written update rules give torch.optim's numbers, step after step."""

from __future__ import annotations

import pytest
import torch

from course_utils.optimizers import adam_update, sgd_update


def _run(reference_cls, update, steps=6, **kwargs):
    torch.manual_seed(0)
    w = torch.randn(4, 3, requires_grad=True)
    ours, state = w.detach().clone(), {}
    ref = reference_cls([w], **kwargs)
    for _ in range(steps):
        g = torch.randn(4, 3)
        w.grad = g.clone()
        ref.step()
        ours = update(ours, g, state, **kwargs)
        torch.testing.assert_close(ours, w.detach(), rtol=1e-6, atol=1e-7)
    return ours


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_sgd_matches_torch(momentum, weight_decay):
    _run(torch.optim.SGD, sgd_update, lr=0.1, momentum=momentum, weight_decay=weight_decay)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_matches_torch(weight_decay):
    _run(torch.optim.Adam, adam_update, lr=0.01, betas=(0.9, 0.98), weight_decay=weight_decay)


def test_adamw_matches_torch():
    def adamw(p, g, s, **kw):
        return adam_update(p, g, s, decoupled=True, **kw)

    _run(torch.optim.AdamW, adamw, lr=0.01, weight_decay=0.1)


def test_adam_l2_and_decoupled_decay_differ():
    # With a constant gradient, L2 decay inside Adam is rescaled by 1/sqrt(v); AdamW's is not.
    p, g = torch.tensor([2.0]), torch.tensor([0.001])
    l2 = adam_update(p, g, {}, lr=0.1, weight_decay=0.5)
    decoupled = adam_update(p, g, {}, lr=0.1, weight_decay=0.5, decoupled=True)
    assert l2.item() == pytest.approx(
        2.0 - 0.1, rel=1e-4
    )  # first Adam step moves lr * sign(g + lambda theta)
    assert decoupled.item() == pytest.approx(2.0 * (1 - 0.05) - 0.1, rel=1e-4)


def test_first_momentum_step_is_plain_sgd():
    p, g = torch.tensor([1.0]), torch.tensor([0.5])
    state = {}
    assert sgd_update(p, g, state, lr=0.1, momentum=0.9).item() == pytest.approx(0.95)
    assert state["buffer"].item() == 0.5


def test_bad_input():
    p = torch.zeros(3)
    with pytest.raises(ValueError, match="shape"):
        sgd_update(p, torch.zeros(2), {}, lr=0.1)
    with pytest.raises(ValueError, match="NaN"):
        adam_update(p, torch.tensor([0.0, float("nan"), 0.0]), {}, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        sgd_update(p, p, {}, lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        sgd_update(p, p, {}, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="betas"):
        adam_update(p, p, {}, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="state"):
        adam_update(p, p, None)
    with pytest.raises(TypeError, match="tensors"):
        sgd_update([0.0], p, {}, lr=0.1)


def test_bad_tensors():
    p = torch.zeros(3)
    with pytest.raises(TypeError, match="floating-point"):
        sgd_update(torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long), {}, lr=0.1)
    with pytest.raises(TypeError, match="floating-point"):
        adam_update(torch.zeros(3, dtype=torch.cfloat), torch.ones(3, dtype=torch.cfloat), {})
    with pytest.raises(TypeError, match="grad has dtype torch.float64"):
        sgd_update(p, torch.ones(3, dtype=torch.float64), {}, lr=0.1)
    with pytest.raises(ValueError, match="param holds NaN"):
        sgd_update(torch.tensor([0.0, float("inf"), 0.0]), p, {}, lr=0.1)
    with pytest.raises(ValueError, match="grad holds NaN or inf"):
        adam_update(p, torch.tensor([0.0, float("-inf"), 0.0]), {})


@pytest.mark.parametrize("update", [sgd_update, adam_update])
def test_state_of_another_parameter_is_refused(update):
    kwargs = {"lr": 0.1, "momentum": 0.9} if update is sgd_update else {}
    state = {}
    update(torch.zeros(3), torch.ones(3), state, **kwargs)
    with pytest.raises(ValueError, match="one state dict per parameter"):
        update(torch.zeros(4, 3), torch.ones(4, 3), state, **kwargs)  # would broadcast silently


@pytest.mark.parametrize("momentum", ["0.9", None, True, -0.1, float("nan")])
def test_bad_momentum(momentum):
    with pytest.raises(ValueError, match="momentum must be a number in"):
        sgd_update(torch.zeros(3), torch.ones(3), {}, lr=0.1, momentum=momentum)


@pytest.mark.parametrize("lr", [True, "0.1", float("nan"), float("inf"), -1.0])
def test_bad_lr_and_weight_decay(lr):
    with pytest.raises(ValueError, match="lr must be a finite number"):
        sgd_update(torch.zeros(3), torch.ones(3), {}, lr=lr)
    with pytest.raises(ValueError, match="weight_decay must be a finite number"):
        adam_update(torch.zeros(3), torch.ones(3), {}, weight_decay=lr)


@pytest.mark.parametrize("betas", [0.9, (0.9,), (0.9, 0.99, 0.9), "ab"])
def test_betas_must_be_a_pair(betas):
    with pytest.raises(ValueError, match=r"betas must be a pair"):
        adam_update(torch.zeros(3), torch.ones(3), {}, betas=betas)


@pytest.mark.parametrize("betas", [("a", 0.99), (0.9, None), (True, 0.99), (float("nan"), 0.99), (0.9, -0.1)])
def test_each_beta_is_checked(betas):
    with pytest.raises(ValueError, match=r"betas\[[01]\] must be a number in \[0, 1\)"):
        adam_update(torch.zeros(3), torch.ones(3), {}, betas=betas)


@pytest.mark.parametrize("eps", [0.0, -1e-8, float("nan"), float("inf"), "1e-8", True])
def test_bad_eps(eps):
    # eps = 0 with a zero gradient would divide 0 by 0 and return NaN weights
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        adam_update(torch.zeros(3), torch.zeros(3), {}, eps=eps)


def test_decoupled_must_be_a_bool():
    with pytest.raises(TypeError, match="decoupled must be True"):
        adam_update(torch.zeros(3), torch.ones(3), {}, decoupled="no")
