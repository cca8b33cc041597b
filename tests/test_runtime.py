"""Tests for course_utils.runtime: profile, device, seeding, setup."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from course_utils import runtime


def test_profile_default_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(runtime.PROFILE_ENV, raising=False)
    assert runtime.get_profile() == "full"


@pytest.mark.parametrize(
    "value, expected", [("quick", "quick"), ("FULL", "full"), (" quick ", "quick"), ("", "full")]
)
def test_profile_from_env(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    monkeypatch.setenv(runtime.PROFILE_ENV, value)
    assert runtime.get_profile() == expected


def test_unknown_profile_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.PROFILE_ENV, "fast")
    with pytest.raises(ValueError, match="'fast' is not a known profile.*quick"):
        runtime.get_profile()


def test_by_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.PROFILE_ENV, "quick")
    assert runtime.by_profile(quick=1, full=12) == 1
    monkeypatch.setenv(runtime.PROFILE_ENV, "full")
    assert runtime.by_profile(quick=1, full=12) == 12
    with pytest.raises(TypeError):
        runtime.by_profile(1, 12)  # keyword-only, so the two values can't be swapped by mistake


def test_get_device_prefers_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(runtime.DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.get_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert runtime.get_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert runtime.get_device() == torch.device("cpu")


def test_get_device_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtime.DEVICE_ENV, "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.get_device() == torch.device("cpu")
    monkeypatch.setenv(runtime.DEVICE_ENV, "gpu0")
    with pytest.raises(ValueError, match="not a torch device"):
        runtime.get_device()


def test_seed_everything_repeats_all_generators() -> None:
    def draw() -> tuple[float, float, list[float]]:
        return random.random(), float(np.random.rand()), torch.rand(3).tolist()

    runtime.seed_everything(123)
    first = draw()
    runtime.seed_everything(123)
    assert draw() == first
    runtime.seed_everything(124)
    assert draw() != first


@pytest.mark.parametrize(
    "bad, error",
    [(-1, ValueError), (2**32, ValueError), (1.5, TypeError), ("1", TypeError), (True, TypeError)],
)
def test_seed_everything_bad_input(bad: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="seed"):
        runtime.seed_everything(bad)  # type: ignore[arg-type]


def test_setup_prints_and_returns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(runtime.PROFILE_ENV, "quick")
    monkeypatch.setenv(runtime.DEVICE_ENV, "cpu")
    device, profile = runtime.setup(seed=7)
    assert (device, profile) == (torch.device("cpu"), "quick")
    assert capsys.readouterr().out.startswith("profile: quick | device: cpu | seed: 7")
    a = torch.rand(2)
    runtime.setup(seed=7)
    torch.testing.assert_close(torch.rand(2), a)


def test_autocast_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils import runtime

    monkeypatch.setenv(runtime.AUTOCAST_ENV, "off")
    assert runtime.autocast_dtype("cpu") is None
    monkeypatch.setenv(runtime.AUTOCAST_ENV, "bf16")
    assert runtime.autocast_dtype("cpu") is torch.bfloat16
    monkeypatch.setenv(runtime.AUTOCAST_ENV, "fp8")
    with pytest.raises(ValueError, match="COURSE_AUTOCAST='fp8' is not known"):
        runtime.autocast_dtype("cpu")
    monkeypatch.delenv(runtime.AUTOCAST_ENV)
    monkeypatch.setattr(runtime, "_autocast_cache", {})
    # auto: bfloat16 exactly when the measured matrix-product speed-up is at least 1.5x
    monkeypatch.setattr(runtime, "_bf16_speedup_on_cpu", lambda: 2.5)
    assert runtime.autocast_dtype("cpu") is torch.bfloat16
    monkeypatch.setattr(runtime, "_autocast_cache", {})
    monkeypatch.setattr(runtime, "_bf16_speedup_on_cpu", lambda: 0.3)  # emulated bfloat16
    assert runtime.autocast_dtype(torch.device("cpu")) is None
    assert runtime.autocast_dtype("meta") is None


def test_bf16_speedup_is_measured() -> None:
    from course_utils import runtime

    assert runtime._bf16_speedup_on_cpu() > 0


def test_time_by_operator_ranks_operators_and_hides_profiler_log(capfd: pytest.CaptureFixture[str]) -> None:
    a = torch.randn(256, 256)

    def work() -> torch.Tensor:
        for _ in range(20):
            a @ a
        return a.sum()

    result, shares = runtime.time_by_operator(work, top=3)
    assert torch.equal(result, a.sum())
    assert 1 <= len(shares) <= 3
    assert [s for _, s in shares] == sorted((s for _, s in shares), reverse=True)
    assert all(0 < s <= 1 for _, s in shares)
    assert any("mm" in name for name, _ in shares)  # the matrix products dominate
    out = capfd.readouterr()
    assert "profiler_start" not in out.err and "USDT" not in out.err


@pytest.mark.parametrize(
    ("fn", "top", "error"), [(None, 3, TypeError), (lambda: 1, 0, ValueError), (lambda: 1, 2.0, ValueError)]
)
def test_time_by_operator_bad_input(fn: object, top: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        runtime.time_by_operator(fn, top=top)  # type: ignore[arg-type]


def test_time_by_operator_without_torch_work() -> None:
    with pytest.raises(RuntimeError, match="no operator time"):
        runtime.time_by_operator(lambda: None)
