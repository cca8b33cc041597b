"""Runtime set-up shared by every notebook: device, seeding and the run profile.

The profile decides how much work a notebook does:

* ``full`` (the default) trains real models, in minutes on a 2-core CPU;
* ``quick`` (set by ``make test`` and CI) runs every notebook in seconds.

Choose it with the environment variable ``COURSE_PROFILE=quick|full`` and pick
per-profile values with :func:`by_profile`, e.g. ``epochs = by_profile(quick=1, full=12)``.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

PROFILES = ("quick", "full")
PROFILE_ENV = "COURSE_PROFILE"
DEVICE_ENV = "COURSE_DEVICE"
AUTOCAST_ENV = "COURSE_AUTOCAST"
_AUTOCAST_CHOICES = ("auto", "bf16", "off")
_autocast_cache: dict[str, torch.dtype | None] = {}

T = TypeVar("T")


def get_profile() -> str:
    """Return the active profile, ``"quick"`` or ``"full"`` (default), from ``$COURSE_PROFILE``."""
    value = os.environ.get(PROFILE_ENV, "full").strip().lower() or "full"
    if value not in PROFILES:
        raise ValueError(
            f"{PROFILE_ENV}={value!r} is not a known profile; use one of {PROFILES}, "
            f"e.g. `{PROFILE_ENV}=quick make notebooks`."
        )
    return value


def by_profile(*, quick: T, full: T) -> T:
    """Pick the value for the active profile: ``by_profile(quick=1, full=12)``."""
    return quick if get_profile() == "quick" else full


def get_device() -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU.

    ``$COURSE_DEVICE`` (e.g. ``cpu``) overrides the choice.
    """
    forced = os.environ.get(DEVICE_ENV, "").strip()
    if forced:
        try:
            return torch.device(forced)
        except RuntimeError as err:
            raise ValueError(f"{DEVICE_ENV}={forced!r} is not a torch device (try 'cpu' or 'cuda').") from err
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _bf16_speedup_on_cpu() -> float:
    """How many times faster a bfloat16 matrix product is than a float32 one on this CPU.

    A small product first: where bfloat16 is emulated (no AMX or AVX512-BF16) it is tens of times
    slower, which a 128x256x256 product shows in milliseconds; only then a larger, steadier test
    (about 0.1 s where bfloat16 is fast). Each product is timed several times, the two dtypes in
    turn, and the fastest time of each counts: other programs on the machine only ever add time, so
    the minimum is what the hardware can do (a single timing under load can be off several times).
    """
    import time

    speedup = 0.0
    for (m, k, n), reps in (((128, 256, 256), 3), ((512, 1024, 1024), 5)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        operands = {dtype: (a.to(dtype), b.to(dtype)) for dtype in (torch.float32, torch.bfloat16)}
        best = dict.fromkeys(operands, float("inf"))
        for x, y in operands.values():
            x @ y  # warm-up
        for _ in range(reps):
            for dtype, (x, y) in operands.items():
                start = time.perf_counter()
                x @ y
                best[dtype] = min(best[dtype], time.perf_counter() - start)
        speedup = best[torch.float32] / max(best[torch.bfloat16], 1e-9)
        if speedup < 0.3:  # emulated: tens of times slower (a tiny product is not faster either way)
            break
    return speedup


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """``torch.bfloat16`` where it speeds up training on ``device``, else None (stay in float32).

    bfloat16 keeps float32's range with fewer mantissa bits, so ``torch.autocast`` can run matrix
    products in it without loss scaling. CUDA: when the GPU supports it. CPU: only when a short
    matrix-product test shows it at least 1.5x faster than float32 (CPUs with AMX or AVX512-BF16);
    elsewhere bfloat16 is emulated and slower. ``$COURSE_AUTOCAST=off`` (or ``bf16``) overrides.
    """
    device = torch.device(device)
    choice = os.environ.get(AUTOCAST_ENV, "auto").strip().lower() or "auto"
    if choice not in _AUTOCAST_CHOICES:
        raise ValueError(f"{AUTOCAST_ENV}={choice!r} is not known; use one of {_AUTOCAST_CHOICES}")
    if choice != "auto":
        return torch.bfloat16 if choice == "bf16" else None
    if device.type not in _autocast_cache:
        if device.type == "cuda":
            fast = torch.cuda.is_bf16_supported()
        elif device.type == "cpu":
            fast = _bf16_speedup_on_cpu() >= 1.5
        else:  # MPS and others: stay in float32
            fast = False
        _autocast_cache[device.type] = torch.bfloat16 if fast else None
    return _autocast_cache[device.type]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and CUDA) for repeatable runs."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def setup(seed: int = 0) -> tuple[torch.device, str]:
    """One call for a notebook's setup cell: seed everything, pick the device, read the profile.

    Prints one line such as ``profile: full | device: cpu | seed: 0`` and returns ``(device, profile)``.
    """
    seed_everything(seed)
    device, profile = get_device(), get_profile()
    print(f"profile: {profile} | device: {device.type} | seed: {seed} | torch {torch.__version__}")
    return device, profile


def time_by_operator(fn: Callable[[], T], top: int = 6) -> tuple[T, list[tuple[str, float]]]:
    """Run ``fn()`` once under the PyTorch profiler: ``(its result, [(operator, share of the time), ...])``.

    The ``top`` operators by self CPU time, largest first, each with its share of the total (0 to 1).
    The profiler's own log lines (written straight to the process's stderr) are dropped.
    """
    from torch.profiler import ProfilerActivity, profile

    if not callable(fn):
        raise TypeError(f"fn must be a function of no arguments, got {type(fn).__name__}")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be an int >= 1, got {top!r}")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                result = fn()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    if total <= 0:
        raise RuntimeError("the profiler recorded no operator time: did fn run any PyTorch operations?")
    ranked = sorted(events, key=lambda e: -e.self_cpu_time_total)[:top]
    return result, [(e.key, e.self_cpu_time_total / total) for e in ranked]
