"""Create .venv and install the course into it: the first step of `make lab` and `make test`.

1. ``.venv``, made with this Python's ``venv`` module. A half-made one (no working Python or pip, e.g.
   after ``python3 -m venv`` failed for want of Debian's ``python3-venv``) is removed and made again.
2. ``torch==<the lock's version>``, the build that fits the machine (:func:`choose_torch`):
   no NVIDIA GPU on Linux -> the CPU build from PyTorch's CPU index (about 190 MB instead of about
   3 GB of CUDA packages); an NVIDIA GPU whose driver runs CUDA 13.0 -> PyPI's CUDA build; macOS and
   Windows -> PyPI's wheel. ``make lab TORCH=cpu|cuda`` overrides the choice and swaps the build;
   ``TORCH_CPU_INDEX`` names a mirror of the CPU index. When that index cannot be reached, pip
   falls back at once to its default index (a 5-second probe, not pip's long network time-out).
3. Everything else at the versions in ``requirements.lock``, and ``course_utils`` in editable mode.
4. JupyterLab's news and update-check plugin turned off, for this environment only (no pop-up asking
   a new learner whether to fetch news from the internet).

It prints what it chose and why, and pip shows its download progress. Standard library only: it
runs with the system's Python before .venv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = os.environ.get("TORCH_CPU_INDEX") or "https://download.pytorch.org/whl/cpu"  # or a mirror of it
# PyPI's torch 2.13.0 for Linux is built with CUDA 13.0: it needs a driver for CUDA 13.0 or newer.
CUDA_NEEDED = (13, 0)
# torch's CUDA runtime packages (pip does not remove them with torch).
CUDA_ONLY = re.compile(r"^(nvidia-.*|cuda-.*|triton)$")
TORCH_REQUESTS = ("auto", "cpu", "cuda")
EXTRAS = "course,lab,test"
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class TorchChoice:
    """Which torch build to install: ``build`` is "cpu" (PyTorch's CPU index) or "pypi" (PyPI's wheel:
    CUDA on Linux, CPU/MPS on macOS, CPU on Windows); ``reason`` says why, for the log."""

    build: str
    reason: str

    @property
    def index_url(self) -> str | None:
        return CPU_INDEX if self.build == "cpu" else None


@dataclass(frozen=True)
class Gpu:
    """An NVIDIA GPU as ``nvidia-smi`` reports it; ``driver_cuda`` is the newest CUDA its driver runs."""

    name: str
    driver_cuda: tuple[int, int] | None


def detect_nvidia_gpu(which=shutil.which) -> Gpu | None:
    """The first GPU that ``nvidia-smi -L`` lists, with the driver's CUDA version from ``nvidia-smi``'s
    header; None when there is no nvidia-smi or it fails (a driver problem: CUDA would fail too)."""
    exe = which("nvidia-smi")
    if exe is None:
        return None
    try:
        listing = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20)
        header = subprocess.run([exe], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    gpus = [line.strip() for line in listing.stdout.splitlines() if line.strip().startswith("GPU ")]
    if listing.returncode != 0 or not gpus:
        return None
    cuda = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", header.stdout)
    return Gpu(
        name=re.sub(r"\s*\(UUID:.*\)$", "", gpus[0]),
        driver_cuda=(int(cuda.group(1)), int(cuda.group(2))) if cuda else None,
    )


def choose_torch(request: str, system: str, machine: str, gpu: Gpu | None) -> TorchChoice:
    """Choose the torch build for ``system`` (platform.system()) and ``machine`` (platform.machine()).

    ``request`` is ``$TORCH``: "auto" (or empty) decides from ``gpu`` (see :func:`detect_nvidia_gpu`);
    "cpu" or "cuda" force a build.
    """
    request = (request or "auto").strip().lower()
    if request not in TORCH_REQUESTS:
        raise ValueError(
            f"TORCH={request!r} is not known; use one of {', '.join(TORCH_REQUESTS)} (e.g. make lab TORCH=cpu)"
        )
    if system == "Darwin":
        if machine != "arm64":
            raise ValueError(
                "this Python runs as x86_64 (an Intel Mac, or Rosetta on Apple silicon), and torch 2.13 has "
                "no wheels for Intel macOS. On Apple silicon use an arm64 Python (e.g. Homebrew's "
                "/opt/homebrew/bin/python3.12: make lab PYTHON=/opt/homebrew/bin/python3.12); on an Intel Mac "
                "study the course on Colab or Binder (links in README.md)"
            )
        if request == "cuda":
            raise ValueError(
                "there is no CUDA build of torch for macOS; use TORCH=auto (the MPS-enabled wheel)"
            )
        return TorchChoice("pypi", "macOS on Apple silicon: PyPI's wheel (CPU, and the GPU through MPS)")
    if system == "Windows":
        if request == "cuda":
            raise ValueError(
                "on Windows, install a CUDA build of torch by hand (pytorch.org's install selector), then run make again"
            )
        return TorchChoice("pypi", "Windows: PyPI's wheel (the CPU build)")
    if system != "Linux":
        raise ValueError(
            f"no torch wheels for {system} {machine}; use Linux, macOS (Apple silicon), Windows or Colab"
        )
    if request == "cpu":
        return TorchChoice("cpu", "TORCH=cpu was asked for")
    if request == "cuda":
        return TorchChoice("pypi", "TORCH=cuda was asked for: PyPI's Linux wheel is the CUDA build")
    if gpu is None:
        return TorchChoice(
            "cpu", "no NVIDIA GPU (no working nvidia-smi): the CPU build, about 0.2 GB instead of about 3 GB"
        )
    if gpu.driver_cuda is not None and gpu.driver_cuda < CUDA_NEEDED:
        have, need = ".".join(map(str, gpu.driver_cuda)), ".".join(map(str, CUDA_NEEDED))
        return TorchChoice(
            "cpu",
            f"nvidia-smi found {gpu.name}, but its driver runs CUDA {have} and PyPI's torch needs CUDA {need}: "
            f"the CPU build (update the NVIDIA driver, then `make lab TORCH=cuda`)",
        )
    return TorchChoice("pypi", f"nvidia-smi found {gpu.name}: PyPI's Linux wheel, the CUDA build")


def index_reachable(
    url: str, timeout: float = PROBE_TIMEOUT_S, proxy: str | None = None, cafile: str | None = None
) -> tuple[bool, str]:
    """Whether ``url`` answers within ``timeout`` seconds in all (name lookup and every address tried
    included), through ``proxy`` and trusting ``cafile`` as pip would; also a short reason."""
    result: list[tuple[bool, str]] = []

    def probe() -> None:
        handlers: list[urllib.request.BaseHandler] = []
        if proxy:
            handlers.append(urllib.request.ProxyHandler({"http": proxy, "https": proxy}))
        if cafile:
            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cafile)))
        try:
            with urllib.request.build_opener(*handlers).open(
                urllib.request.Request(url, method="HEAD"), timeout=timeout
            ):
                result.append((True, "reachable"))
        except urllib.error.HTTPError as err:  # the server answered
            result.append((err.code < 500, f"HTTP {err.code}"))
        except (urllib.error.URLError, OSError, ValueError) as err:
            result.append((False, str(getattr(err, "reason", err)) or type(err).__name__))

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0] if result else (False, f"no answer within {timeout:g} s")


def pip_setting(python: Path, name: str) -> str | None:
    """pip's own setting ``name`` (e.g. "proxy", "cert"): ``$PIP_<NAME>`` or pip's configuration files."""
    value = os.environ.get(f"PIP_{name.upper()}")
    if value:
        return value
    out = subprocess.run(
        [str(python), "-m", "pip", "config", "get", f"global.{name}"], capture_output=True, text=True
    )
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def lock_version(lock: Path, name: str) -> str:
    """The version that ``lock`` pins for ``name`` (markers ignored)."""
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = re.match(rf"^{re.escape(name)}==([^\s;]+)", line.strip(), re.I)
        if match:
            return match.group(1)
    raise SystemExit(f"{lock.name} does not pin {name}; run `make lock`")


def torch_command(
    python: str, choice: TorchChoice, version: str, lock: Path, reachable: bool | None, why: str = ""
) -> tuple[list[str], str]:
    """The pip command that installs torch for ``choice``, and a note for the log.

    From PyTorch's CPU index torch comes alone (``--no-deps``): its few pure-Python dependencies
    are installed in the next step at the lock's versions. Otherwise pip uses its default index.
    """
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "on"]
    if choice.index_url and reachable:
        return pip + [
            "--no-deps",
            "--index-url",
            choice.index_url,
            f"torch=={version}",
        ], f"from {choice.index_url}"
    note = "from pip's default index"
    if choice.index_url:
        note = (
            f"from pip's default index, because {choice.index_url} cannot be reached "
            f"({why or 'no answer'}). On Linux, PyPI's torch is the CUDA build (about 3 GB on x86_64); "
            "to avoid it, set TORCH_CPU_INDEX to a mirror of PyTorch's CPU index"
        )
    return pip + ["-c", str(lock), f"torch=={version}"], note


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_is_usable(venv: Path) -> bool:
    """True when ``venv`` has a Python that can run pip."""
    python = venv_python(venv)
    if not python.exists():
        return False
    try:
        return (
            subprocess.run(
                [str(python), "-m", "pip", "--version"], capture_output=True, timeout=60
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def ensure_venv(venv: Path, python: list[str]) -> Path:
    """Make ``venv`` with ``python -m venv`` unless a usable one is there; repair a half-made one."""
    if venv_is_usable(venv):
        return venv_python(venv)
    if venv.exists():
        print(
            f"{venv.name} is half-made (no working Python or pip): removing it and making it again",
            flush=True,
        )
        shutil.rmtree(venv)
    print(f"creating {venv.name} with {' '.join(python)}", flush=True)
    made = subprocess.run([*python, "-m", "venv", str(venv)])
    if made.returncode != 0 or not venv_is_usable(venv):
        shutil.rmtree(venv, ignore_errors=True)
        version = subprocess.run(
            [*python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        raise SystemExit(
            f"\n`{' '.join(python)} -m venv` could not make a virtual environment (see above).\n"
            f"On Debian or Ubuntu, install the venv module first:  sudo apt install python3-venv"
            + (f"  (or python{version}-venv)" if version else "")
            + "\nthen run make again. With conda instead: see 'conda' in README.md."
        )
    return venv_python(venv)


def installed_torch(python: Path) -> str | None:
    """The torch version installed for ``python`` (e.g. "2.13.0+cpu"), or None."""
    code = (
        "import importlib.metadata as m\ntry: print(m.version('torch'))\nexcept m.PackageNotFoundError: pass"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return out.stdout.strip() or None


def torch_is_current(installed: str | None, version: str, choice: TorchChoice, forced: bool) -> bool:
    """Whether the installed torch already is the wanted version and, when TORCH was given, build."""
    if installed is None or installed.split("+")[0] != version:
        return False
    if not forced:
        return True
    is_cpu_build = installed.endswith("+cpu")
    return is_cpu_build if choice.build == "cpu" else not is_cpu_build


def run(cmd: list[str], check: bool = True) -> bool:
    """Run ``cmd`` from the repository root, showing it; stop with a message if it fails and ``check``."""
    print("$ " + " ".join(cmd), flush=True)
    ok = subprocess.run(cmd, cwd=ROOT).returncode == 0
    if not ok and check:
        raise SystemExit("the command above failed; fix what it says, then run make again")
    return ok


def installed_cuda_packages(python: Path) -> list[str]:
    """The CUDA runtime packages (nvidia-*, cuda-*, triton) installed for ``python``."""
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return sorted(d["name"] for d in json.loads(out.stdout) if CUDA_ONLY.match(d["name"].lower()))


def install_torch(python: Path, choice: TorchChoice, version: str, lock: Path, forced: bool) -> str:
    """Make ``python``'s torch the build ``choice`` asks for; return what is installed afterwards.

    pip counts any 2.13.0 build as satisfying ``torch==2.13.0``, so switching builds (TORCH=...)
    first removes the installed torch, and, going to the CPU build, its CUDA packages (about 4 GB).
    """
    current = installed_torch(python)
    if torch_is_current(current, version, choice, forced):
        print(f"torch {current} is already installed", flush=True)
        return current
    print(f"torch {version}: {choice.reason}", flush=True)
    if current is not None:
        stale = ["torch"] + (installed_cuda_packages(python) if choice.build == "cpu" else [])
        print(f"removing torch {current} first, to install the {choice.build} build in its place", flush=True)
        run([str(python), "-m", "pip", "uninstall", "-y", "--disable-pip-version-check", *stale])
    reachable, why = None, ""
    if choice.index_url:
        reachable, why = index_reachable(
            f"{choice.index_url}/torch/",
            proxy=pip_setting(python, "proxy"),
            cafile=pip_setting(python, "cert"),
        )
    cmd, note = torch_command(str(python), choice, version, lock, reachable, why)
    print(f"installing torch {note}", flush=True)
    if not run(cmd, check=not reachable):  # the CPU index answered the probe but the install failed
        cmd, note = torch_command(str(python), choice, version, lock, False, "the install from it failed")
        print(f"installing torch {note}", flush=True)
        run(cmd)
    return installed_torch(python) or "none"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements.lock")
    parser.add_argument("--torch", default=os.environ.get("TORCH", ""), help="auto (default), cpu or cuda")
    args = parser.parse_args(argv)

    try:
        choice = choose_torch(args.torch, platform.system(), platform.machine(), detect_nvidia_gpu())
    except ValueError as err:
        raise SystemExit(str(err)) from None
    python = ensure_venv(args.venv, [sys.executable])
    forced = args.torch.strip().lower() not in ("", "auto")
    install_torch(python, choice, lock_version(args.lock, "torch"), args.lock, forced)
    print("installing the other packages at the versions in requirements.lock, and course_utils", flush=True)
    run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "on",
         "-c", str(args.lock), "-e", f".[{EXTRAS}]"]
    )  # fmt: skip
    run([str(python.parent / "jupyter"), "labextension", "disable", NEWS_PLUGIN, "--level=sys_prefix"])


if __name__ == "__main__":
    main()
