"""Create .venv and install the course into it: the first step of `make lab` and `make test`.

1. ``.venv``, made with this Python's ``venv`` module. A half-made one (no working pip, e.g. after
   ``python3 -m venv`` failed for want of Debian's ``python3-venv``) is removed and made again.
2. ``torch==<the lock's version>``, the build that fits the machine (:func:`choose_torch`):
   no NVIDIA GPU on Linux -> the CPU build from PyTorch's CPU index (about 190 MB instead of about
   3 GB of CUDA packages); an NVIDIA GPU -> PyPI's CUDA build; macOS and Windows -> PyPI's wheel.
   ``make lab TORCH=cpu|cuda`` overrides the choice, ``TORCH_CPU_INDEX`` names a mirror of the CPU
   index. When that index cannot be reached, pip falls back at once to its default index (a
   5-second probe, not pip's long network time-out).
3. Everything else at the versions in ``requirements.lock``, and ``course_utils`` in editable mode.
4. JupyterLab's news and update-check plugin turned off, for this environment only (no pop-up asking
   a new learner whether to fetch news from the internet).

It prints what it chose and why, and pip shows its download progress. Standard library only: it
runs with the system's Python before .venv exists.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = os.environ.get("TORCH_CPU_INDEX", "https://download.pytorch.org/whl/cpu")  # or a mirror of it
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


def detect_nvidia_gpu(which=shutil.which) -> str | None:
    """The first NVIDIA GPU that ``nvidia-smi -L`` lists, or None (no nvidia-smi, or it fails)."""
    exe = which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip().startswith("GPU ")]
    if out.returncode != 0 or not lines:
        return None
    return re.sub(r"\s*\(UUID:.*\)$", "", lines[0])


def choose_torch(request: str, system: str, machine: str, gpu: str | None) -> TorchChoice:
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
                "torch 2.13 has no wheels for Intel macOS (x86_64); study the course on Colab or Binder "
                "(links in README.md), or on a Linux or Apple-silicon machine"
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
    if gpu:
        return TorchChoice("pypi", f"nvidia-smi found {gpu}: PyPI's Linux wheel, the CUDA build")
    return TorchChoice(
        "cpu", "no NVIDIA GPU (no working nvidia-smi): the CPU build, about 190 MB instead of about 3 GB"
    )


def index_reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """Whether ``url`` answers within ``timeout`` seconds; also a short reason when it does not."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True, "reachable"
    except urllib.error.HTTPError as err:  # the server answered: it is reachable
        return err.code < 500, f"HTTP {err.code}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        return False, str(reason) or type(err).__name__


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
            f"({why or 'no answer'}). On Linux x86_64, PyPI's torch is the CUDA build, about 3 GB; "
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
        print(f"{venv.name} is half-made (no working pip): removing it and making it again", flush=True)
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


def run(cmd: list[str]) -> None:
    print("$ " + " ".join(cmd), flush=True)
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        raise SystemExit("the command above failed; fix what it says, then run make again")


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
    version = lock_version(args.lock, "torch")
    forced = bool(args.torch.strip()) and args.torch.strip().lower() != "auto"

    current = installed_torch(python)
    if torch_is_current(current, version, choice, forced):
        print(f"torch {current} is already installed", flush=True)
    else:
        print(f"torch {version}: {choice.reason}", flush=True)
        reachable, why = index_reachable(f"{choice.index_url}/torch/") if choice.index_url else (None, "")
        cmd, note = torch_command(str(python), choice, version, args.lock, reachable, why)
        print(f"installing torch {note}", flush=True)
        run(cmd)
    print("installing the other packages at the versions in requirements.lock, and course_utils", flush=True)
    run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "on",
         "-c", str(args.lock), "-e", f".[{EXTRAS}]"]
    )  # fmt: skip
    run([str(python.parent / "jupyter"), "labextension", "disable", NEWS_PLUGIN, "--level=sys_prefix"])


if __name__ == "__main__":
    main()
