"""The installer behind `make` (.ci/install.py) and the lock writer (.ci/lock.py).

The choice of torch build is tested with a fake ``nvidia-smi`` on PATH and with an index that
cannot be reached; the venv repair with a fake Python whose ``-m venv`` fails the way Debian's does
without ``python3-venv``; the lock's markers on made-up pins.
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"ci_{name}", ROOT / ".ci" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


install = _load("install")
lock = _load("lock")
H200 = install.Gpu("GPU 0: NVIDIA H200", (13, 2))
OLD_DRIVER = install.Gpu("GPU 0: NVIDIA GeForce RTX 3060", (12, 4))  # e.g. Ubuntu 22.04's driver 550


def _fake_command(folder: Path, name: str, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


# --------------------------------------------------------------------------- which torch


@pytest.mark.parametrize(
    ("request_", "system", "machine", "gpu", "build"),
    [
        ("", "Linux", "x86_64", None, "cpu"),
        ("auto", "Linux", "aarch64", None, "cpu"),
        ("", "Linux", "x86_64", H200, "pypi"),
        ("", "Linux", "x86_64", OLD_DRIVER, "cpu"),
        ("cuda", "Linux", "x86_64", OLD_DRIVER, "pypi"),
        ("", "Linux", "x86_64", install.Gpu("GPU 0: X", None), "pypi"),
        ("cpu", "Linux", "x86_64", H200, "cpu"),
        ("cuda", "Linux", "x86_64", None, "pypi"),
        ("CPU", "Linux", "x86_64", None, "cpu"),
        ("", "Darwin", "arm64", None, "pypi"),
        ("cpu", "Darwin", "arm64", None, "pypi"),
        ("", "Windows", "AMD64", H200, "pypi"),
    ],
)
def test_choose_torch(request_: str, system: str, machine: str, gpu: install.Gpu | None, build: str) -> None:
    choice = install.choose_torch(request_, system, machine, gpu)
    assert choice.build == build
    assert (choice.index_url == install.CPU_INDEX) == (build == "cpu")
    assert choice.reason


def test_choose_torch_says_why() -> None:
    assert "NVIDIA H200" in install.choose_torch("", "Linux", "x86_64", H200).reason
    assert "no NVIDIA GPU" in install.choose_torch("", "Linux", "x86_64", None).reason
    reason = install.choose_torch("", "Linux", "x86_64", OLD_DRIVER).reason
    assert "runs CUDA 12.4" in reason and "needs CUDA 13.0" in reason and "TORCH=cuda" in reason


@pytest.mark.parametrize(
    ("request_", "system", "machine", "message"),
    [
        ("gpu", "Linux", "x86_64", "TORCH='gpu' is not known; use one of auto, cpu, cuda"),
        ("", "Darwin", "x86_64", "no wheels for Intel macOS.*arm64 Python"),
        ("cuda", "Darwin", "arm64", "no CUDA build of torch for macOS"),
        ("cuda", "Windows", "AMD64", "install a CUDA build of torch by hand"),
        ("", "FreeBSD", "amd64", "no torch wheels for FreeBSD"),
    ],
)
def test_choose_torch_rejects(request_: str, system: str, machine: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        install.choose_torch(request_, system, machine, None)


NVIDIA_SMI = (
    'if [ "$1" = "-L" ]; then echo "GPU 0: NVIDIA H200 (UUID: GPU-1234)"; exit 0; fi\n'
    'echo "| NVIDIA-SMI 580.82.07    Driver Version: 580.82.07    CUDA Version: 13.0 |"\n'
)


def test_detect_nvidia_gpu_with_a_fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_command(tmp_path / "bin", "nvidia-smi", NVIDIA_SMI)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    gpu = install.detect_nvidia_gpu()
    assert gpu == install.Gpu("GPU 0: NVIDIA H200", (13, 0))
    choice = install.choose_torch("", "Linux", "x86_64", gpu)
    assert choice.build == "pypi" and "NVIDIA H200" in choice.reason
    # the same GPU with an older driver: the CUDA build would not run, so the CPU build
    _fake_command(tmp_path / "bin", "nvidia-smi", NVIDIA_SMI.replace("13.0", "12.2"))
    assert install.choose_torch("", "Linux", "x86_64", install.detect_nvidia_gpu()).build == "cpu"


def test_detect_nvidia_gpu_when_nvidia_smi_fails_or_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a driver/library mismatch: nvidia-smi is there but fails, so CUDA would not work either
    _fake_command(
        tmp_path / "bin",
        "nvidia-smi",
        'echo "Failed to initialize NVML: Driver/library version mismatch"\nexit 18\n',
    )
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert install.detect_nvidia_gpu() is None
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert install.detect_nvidia_gpu() is None


def test_index_reachable_answers_at_once_when_it_is_not(tmp_path: Path) -> None:
    start = time.perf_counter()
    for url in ("https://no-such-host.invalid/whl/cpu/torch/", "http://127.0.0.1:9/whl/cpu/torch/"):
        ok, why = install.index_reachable(url, timeout=3)
        assert not ok and why
    assert time.perf_counter() - start < 7


def test_index_reachable_gives_up_on_a_silent_server_within_its_time_out() -> None:
    """A firewall that drops packets, or a server that accepts but never answers: one deadline in all."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections complete in the backlog, nothing is ever sent back
    try:
        start = time.perf_counter()
        ok, why = install.index_reachable(f"http://127.0.0.1:{silent.getsockname()[1]}/torch/", timeout=1)
        # the thread's deadline or the socket's own time-out, whichever fires first on a busy machine
        assert not ok and ("within 1 s" in why or "timed out" in why)
        assert time.perf_counter() - start < 3
    finally:
        silent.close()


def test_index_reachable_with_a_local_index() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert install.index_reachable(f"http://127.0.0.1:{server.server_port}/", timeout=3) == (
            True,
            "reachable",
        )
    finally:
        server.shutdown()


def test_torch_command_for_each_case() -> None:
    lockfile = ROOT / "requirements.lock"
    cpu = install.choose_torch("", "Linux", "x86_64", None)
    cmd, note = install.torch_command("py", cpu, "2.13.0", lockfile, reachable=True)
    assert cmd[-4:] == ["--no-deps", "--index-url", install.CPU_INDEX, "torch==2.13.0"]
    assert "--quiet" not in cmd and "-q" not in cmd, "show pip's download progress"
    cmd, note = install.torch_command("py", cpu, "2.13.0", lockfile, reachable=False)
    assert "--index-url" not in cmd and cmd[-1] == "torch==2.13.0"
    assert "cannot be reached" in note and "CUDA build" in note
    gpu = install.choose_torch("", "Linux", "x86_64", H200)
    cmd, note = install.torch_command("py", gpu, "2.13.0", lockfile, reachable=None)
    assert "--index-url" not in cmd and "--no-deps" not in cmd and cmd[-1] == "torch==2.13.0"


def test_unreachable_cpu_index_falls_back_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyTorch's index unreachable: plain `pip install torch==...`, decided within the probe's time-out."""
    monkeypatch.setattr(install, "CPU_INDEX", "http://127.0.0.1:9/whl/cpu")
    choice = install.choose_torch("cpu", "Linux", "x86_64", None)
    start = time.perf_counter()
    reachable, _ = install.index_reachable(f"{choice.index_url}/torch/")
    cmd, _ = install.torch_command("py", choice, "2.13.0", ROOT / "requirements.lock", reachable)
    assert time.perf_counter() - start < install.PROBE_TIMEOUT_S + 1
    assert cmd[-1] == "torch==2.13.0" and "--index-url" not in cmd


def test_torch_is_current() -> None:
    cpu = install.TorchChoice("cpu", "")
    pypi = install.TorchChoice("pypi", "")
    assert install.torch_is_current("2.13.0+cpu", "2.13.0", cpu, forced=False)
    assert install.torch_is_current("2.13.0", "2.13.0", cpu, forced=False)  # auto: keep what is there
    assert not install.torch_is_current("2.13.0", "2.13.0", cpu, forced=True)  # TORCH=cpu over a CUDA build
    assert not install.torch_is_current("2.13.0+cpu", "2.13.0", pypi, forced=True)  # TORCH=cuda over CPU
    assert not install.torch_is_current("2.12.0+cpu", "2.13.0", cpu, forced=False)
    assert not install.torch_is_current(None, "2.13.0", cpu, forced=False)


def test_lock_version() -> None:
    assert install.lock_version(ROOT / "requirements.lock", "torch") == "2.13.0"
    with pytest.raises(SystemExit, match="does not pin no-such-package"):
        install.lock_version(ROOT / "requirements.lock", "no-such-package")


def _fake_wheel(index: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    """A tiny pure-Python wheel in a PEP 503 index folder that pip reads through a file:// URL."""
    folder = index / name
    folder.mkdir(parents=True, exist_ok=True)
    module, dist_info = name.replace("-", "_"), f"{name.replace('-', '_')}-{version}.dist-info"
    filename = f"{module}-{version}-py3-none-any.whl"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(folder / filename, "w") as whl:
        for path, text in files.items():
            whl.writestr(path, text)
        whl.writestr(
            f"{dist_info}/RECORD", "".join(f"{path},,\n" for path in [*files, f"{dist_info}/RECORD"])
        )
    links = "".join(f'<a href="{quote(f.name)}">{f.name}</a>\n' for f in sorted(folder.glob("*.whl")))
    (folder / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")


def test_switching_builds_swaps_torch_and_its_cuda_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TORCH=cuda then TORCH=cpu on one .venv, with fake torch wheels from two local indexes.

    pip counts 2.13.0+cpu as satisfying torch==2.13.0 (and the other way round), so a plain
    `pip install` would keep the old build; install_torch must really swap it, and drop the CUDA
    packages when going back to the CPU build.
    """
    pypi, cpu_index = tmp_path / "pypi", tmp_path / "cpu"
    _fake_wheel(pypi, "torch", "2.13.0", requires=("nvidia-fake-cublas",))
    _fake_wheel(pypi, "nvidia-fake-cublas", "13.1")
    _fake_wheel(cpu_index, "torch", "2.13.0+cpu")
    for var in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "PIP_NO_INDEX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # this machine's pip.conf points at its own mirrors
    monkeypatch.setenv("PIP_INDEX_URL", pypi.as_uri())
    monkeypatch.setattr(install, "CPU_INDEX", cpu_index.as_uri())
    monkeypatch.setattr(install, "index_reachable", lambda *args, **kwargs: (True, "reachable"))
    lockfile = tmp_path / "requirements.lock"
    lockfile.write_text("torch==2.13.0\n")
    python = install.ensure_venv(tmp_path / ".venv", [sys.executable])
    cpu, cuda = (
        install.choose_torch("", "Linux", "x86_64", None),
        install.choose_torch("cuda", "Linux", "x86_64", None),
    )

    assert install.install_torch(python, cpu, "2.13.0", lockfile, forced=False) == "2.13.0+cpu"
    assert install.install_torch(python, cuda, "2.13.0", lockfile, forced=True) == "2.13.0"
    assert install.installed_cuda_packages(python) == ["nvidia-fake-cublas"]
    assert install.install_torch(python, cpu, "2.13.0", lockfile, forced=True) == "2.13.0+cpu"
    assert install.installed_cuda_packages(python) == []
    monkeypatch.setattr(
        install, "run", lambda *a, **k: pytest.fail("a current torch must not be reinstalled")
    )
    assert install.install_torch(python, cpu, "2.13.0", lockfile, forced=False) == "2.13.0+cpu"


# --------------------------------------------------------------------------- the venv


DEBIAN_WITHOUT_VENV = (
    'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then\n'
    '  mkdir -p "$3/bin" && ln -s /bin/false "$3/bin/python"\n'
    '  echo "The virtual environment was not created successfully because ensurepip is not available." >&2\n'
    "  exit 1\n"
    "fi\n"
    'if [ "$1" = "-c" ]; then echo 3.10; exit 0; fi\n'
)


def test_a_failing_venv_module_gets_a_clear_message_and_leaves_nothing(tmp_path: Path) -> None:
    fake = _fake_command(tmp_path / "bin", "python3", DEBIAN_WITHOUT_VENV)
    venv = tmp_path / ".venv"
    with pytest.raises(SystemExit, match=r"sudo apt install python3-venv.*python3\.10-venv"):
        install.ensure_venv(venv, [str(fake)])
    assert not venv.exists(), "a half-made .venv would break every later make"


def test_a_half_made_venv_is_made_again(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/bin/false")  # what the failed `python3 -m venv` left
    assert not install.venv_is_usable(venv)
    python = install.ensure_venv(venv, [sys.executable])
    assert install.venv_is_usable(venv) and python == venv / "bin" / "python"
    assert install.ensure_venv(venv, [str(tmp_path / "never-called")]) == python  # a usable one is kept


# --------------------------------------------------------------------------- the lock


def test_marker_for() -> None:
    allv = ("3.10", "3.11", "3.12", "3.13")
    assert lock.marker_for(allv, allv) == ""
    assert lock.marker_for(["3.10"], allv) == 'python_version < "3.11"'
    assert lock.marker_for(["3.11", "3.12", "3.13"], allv) == 'python_version >= "3.11"'
    assert lock.marker_for(["3.11", "3.12"], allv) == 'python_version >= "3.11" and python_version < "3.13"'
    assert lock.marker_for(["3.10", "3.13"], allv) == 'python_version == "3.10" or python_version == "3.13"'


def test_merge_pins_and_read_lock_round_trip(tmp_path: Path) -> None:
    pins = {
        "3.10": {"numpy": "2.2.6", "torch": "2.13.0", "tomli": "2.3.0"},
        "3.11": {"numpy": "2.4.6", "torch": "2.13.0"},
        "3.12": {"numpy": "2.4.6", "torch": "2.13.0"},
        "3.13": {"numpy": "2.4.6", "torch": "2.13.0"},
    }
    lines = lock.merge_pins(pins)
    assert lines == [
        'numpy==2.2.6; python_version < "3.11"',
        'numpy==2.4.6; python_version >= "3.11"',
        'tomli==2.3.0; python_version < "3.11"',
        "torch==2.13.0",
    ]
    path = tmp_path / "requirements.lock"
    path.write_text(lock.HEADER + "\n".join(lines) + "\n")
    for version, table in pins.items():
        assert lock.read_lock(path, version) == table


def test_the_lock_covers_every_supported_python() -> None:
    """Each supported Python gets exactly one pin per package, and torch is the same everywhere."""
    path = ROOT / "requirements.lock"
    tables = {v: lock.read_lock(path, v) for v in lock.SUPPORTED}
    assert {t["torch"] for t in tables.values()} == {"2.13.0"}
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    for version in lock.SUPPORTED:
        applying = [ln for ln in lines if lock.read_lock_line_applies(ln, version)]
        assert len(applying) == len(tables[version]), f"two pins of one package apply to Python {version}"
    assert not lock.CUDA_ONLY.match("numpy") and lock.CUDA_ONLY.match("nvidia-cublas")
    cuda_lines = [ln for ln in lines if lock.CUDA_ONLY.match(ln.split("==")[0].lower())]
    assert not cuda_lines, (
        f"CUDA packages in the lock (conda on macOS/Windows and Binder would fail): {cuda_lines}"
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_makefile_help_lists_every_target() -> None:
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for target in ("lab", "test", "lock", "check-python", "notebooks", "clean"):
        assert f"{target}\t" in out


def test_jupyterlab_news_is_off_in_this_environment() -> None:
    """`make` (and the README's conda steps, and Binder's postBuild) disable the news plugin, env-wide."""
    from jupyterlab_server.config import get_page_config

    disabled = get_page_config([]).get("disabledExtensions", [])  # a list of names, or {name: bool}
    disabled = [name for name in disabled if not isinstance(disabled, dict) or disabled[name]]
    assert install.NEWS_PLUGIN in disabled, f"{install.NEWS_PLUGIN} is not disabled; run `make` again"
    for path in (ROOT / "README.md", ROOT / "postBuild", ROOT / "environment.yml"):
        assert f'jupyter labextension disable "{install.NEWS_PLUGIN}" --level=sys_prefix' in path.read_text()
