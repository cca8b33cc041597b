"""requirements.lock for every supported Python: `make lock` writes it, `make check-python` checks it.

The lock pins what .venv holds (the base Python, 3.11 on the authors' machine). Some releases in it
need a newer Python than 3.10 (numpy 2.4, matplotlib 3.11, ipython 9, ...), so for each other
supported Python found on this machine (3.10 to 3.13: ``python3.X`` on PATH or under pyenv) pip
resolves the same requirements with every version capped at the base pin, and the two sets are
merged: a package pinned alike everywhere gets one plain line, one that differs gets one line per
version with a marker such as ``; python_version < "3.11"``.

``check`` runs ``pip install --dry-run`` with the lock as constraints on each of those Pythons:
one resolution of what `make` installs in two steps (torch==<lock>, then course_utils with its
extras), with PyPI's torch metadata. It fails when pip cannot resolve or picks a version the lock
does not pin. torch's CUDA packages (nvidia-*, triton,
cuda-*) are left out of the lock: torch pins them itself, and the CPU build does not need them.

    python .ci/lock.py write            # after changing pyproject.toml (make lock)
    python .ci/lock.py check            # make check-python
    LOCK_PYTHONS="/usr/bin/python3.10 /opt/py313/bin/python3" python .ci/lock.py check
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
EXTRAS = "course,lab,test"
# torch's CUDA runtime: pinned by torch itself and absent from the CPU build.
CUDA_ONLY = re.compile(r"^(nvidia-.*|cuda-.*|triton)$")
HEADER = (
    "# Exact versions for `make` (constraints) and environment.yml. Written by `make lock` (.ci/lock.py);\n"
    "# lines with a marker apply to some Pythons only. `make check-python` checks it on 3.10 to 3.13.\n"
)


def find_pythons(versions: Iterable[str] = SUPPORTED) -> dict[str, str]:
    """Interpreters for each version in ``versions`` found here: ``$LOCK_PYTHONS`` or PATH or pyenv."""
    listed = os.environ.get("LOCK_PYTHONS", "").split()
    found: dict[str, str] = {}
    candidates = listed or [
        p
        for v in versions
        for p in [
            shutil.which(f"python{v}"),
            *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{v}.*/bin/python3"))),
        ]
        if p
    ]
    for exe in candidates:
        out = subprocess.run(
            [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        )
        version = out.stdout.strip()
        if out.returncode == 0 and version in versions:
            found[version] = exe  # pyenv's are sorted, so the newest patch release wins
    return dict(sorted(found.items(), key=lambda kv: tuple(map(int, kv[0].split(".")))))


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def marker_for(versions: Iterable[str], supported: Iterable[str] = SUPPORTED) -> str:
    """The shortest ``python_version`` marker true for exactly ``versions`` among ``supported``.

    Versions newer than the newest supported one count as that one, older as the oldest.
    """
    chosen = sorted(set(versions), key=_version_key)
    allv = sorted(set(supported), key=_version_key)
    if chosen == allv:
        return ""
    idx = [allv.index(v) for v in chosen]
    if idx == list(range(idx[0], idx[-1] + 1)):  # contiguous
        lo, hi = idx[0], idx[-1]
        if lo == 0:
            return f'python_version < "{allv[hi + 1]}"'
        if hi == len(allv) - 1:
            return f'python_version >= "{allv[lo]}"'
        return f'python_version >= "{allv[lo]}" and python_version < "{allv[hi + 1]}"'
    return " or ".join(f'python_version == "{v}"' for v in chosen)


def merge_pins(pins: Mapping[str, Mapping[str, str]], supported: Iterable[str] = SUPPORTED) -> list[str]:
    """Lock lines from ``{python version: {package: version}}``, markers where the pins differ.

    ``pins`` must cover every version of ``supported`` it is meant to describe; a version with no
    entry for a package gets no line for it.
    """
    supported = [v for v in supported if v in pins]
    names: dict[str, str] = {}
    for table in pins.values():
        for name in table:
            names.setdefault(canonicalize_name(name), name)
    lines = []
    for key in sorted(names):
        by_version: dict[str, list[str]] = {}
        for py in supported:
            table = {canonicalize_name(n): v for n, v in pins[py].items()}
            if key in table:
                by_version.setdefault(table[key], []).append(py)
        for version, pys in sorted(
            by_version.items(), key=lambda kv: _version_key(min(kv[1], key=_version_key))
        ):
            marker = marker_for(pys, supported)
            lines.append(f"{names[key]}=={version}" + (f"; {marker}" if marker else ""))
    return lines


def read_lock_line_applies(line: str, python_version: str) -> bool:
    """Whether the lock line ``line`` (``name==version[; marker]``) applies to ``python_version``."""
    req = Requirement(line.split("#", 1)[0].strip())
    return req.marker is None or req.marker.evaluate({"python_version": python_version})


def read_lock(path: Path, python_version: str) -> dict[str, str]:
    """``{canonical name: version}`` of the lines of ``path`` that apply to ``python_version``."""
    pins = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and read_lock_line_applies(line, python_version):
            (spec,) = Requirement(line).specifier
            pins[canonicalize_name(Requirement(line).name)] = spec.version
    return pins


def _freeze(python: str) -> dict[str, str]:
    out = subprocess.run(
        [python, "-m", "pip", "freeze", "--all", "--exclude-editable", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    pins = {}
    for line in out.stdout.splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            if canonicalize_name(name) in ("pip", "wheel"):  # the venv's tools (setuptools: torch needs it)
                continue
            if CUDA_ONLY.match(canonicalize_name(name)):  # a .venv with the CUDA build
                continue
            pins[name] = version.split("+")[0]  # torch 2.13.0+cpu -> 2.13.0, any build satisfies it
    return pins


def resolve(python: str, constraints: list[str], torch_version: str) -> tuple[dict[str, str], list[str]]:
    """What `make` would install with ``python``: ``({name: version}, [packages built from source])``.

    A throw-away venv runs ``pip install --dry-run --report``; torch's metadata is read with HTTP range
    requests (pip's fast-deps) instead of downloading the wheel.
    """
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        cfile, report = Path(tmp) / "constraints.txt", Path(tmp) / "report.json"
        cfile.write_text("\n".join(constraints) + "\n")
        cmd = [
            str(venv / "bin" / "python"), "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
            "--disable-pip-version-check", "--use-feature=fast-deps", "--report", str(report),
            "-c", str(cfile), f"torch=={torch_version}", "-e", f"{ROOT}[{EXTRAS}]",
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            errors = [ln for ln in done.stderr.splitlines() if "is ignored: it is neither" not in ln]
            raise RuntimeError("\n".join(errors[-25:]))
        items = json.loads(report.read_text())["install"]
    pins, sdists = {}, []
    for item in items:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        if canonicalize_name(name) == "course-utils" or CUDA_ONLY.match(canonicalize_name(name)):
            continue
        pins[name] = version.split("+")[0]
        url = item.get("download_info", {}).get("url", "")
        if url.endswith((".tar.gz", ".zip")):
            sdists.append(f"{name}=={version}")
    return pins, sdists


def write(pythons: dict[str, str]) -> None:
    base_version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    base = _freeze(sys.executable)
    pins = {base_version: base}
    caps = [f"{n}<={v}" for n, v in base.items() if canonicalize_name(n) != "torch"]
    for version, exe in pythons.items():
        if version == base_version:
            continue
        print(f"resolving for Python {version} ({exe}) ...", flush=True)
        pins[version], _ = resolve(exe, caps, base["torch"])
    missing = [v for v in SUPPORTED if v not in pins]
    if missing:
        print(
            f"note: no interpreter for Python {', '.join(missing)}: the lock cannot say what they need",
            flush=True,
        )
    LOCK.write_text(HEADER + "\n".join(merge_pins(pins)) + "\n", encoding="utf-8")
    marked = sum(";" in line for line in LOCK.read_text().splitlines())
    print(
        f"wrote {LOCK.name}: Pythons {', '.join(sorted(pins, key=_version_key))}, {marked} lines with a marker"
    )


def check(pythons: dict[str, str]) -> int:
    failures = 0
    for version, exe in pythons.items():
        start = time.perf_counter()
        locked = read_lock(LOCK, version)
        constraints = [ln for ln in LOCK.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        try:
            got, sdists = resolve(exe, constraints, locked["torch"])
        except RuntimeError as err:
            print(f"Python {version} ({exe}): FAILED, pip cannot resolve the lock:\n{err}\n", flush=True)
            failures += 1
            continue
        unpinned = sorted(f"{n}=={v}" for n, v in got.items() if canonicalize_name(n) not in locked)
        status = "OK" if not unpinned else "FAILED, not in the lock: " + ", ".join(unpinned)
        failures += bool(unpinned)
        extra = f"; built from source: {', '.join(sdists)}" if sdists else ""
        print(
            f"Python {version} ({exe}): {len(got)} packages, {status} ({time.perf_counter() - start:.0f} s){extra}",
            flush=True,
        )
    absent = [v for v in SUPPORTED if v not in pythons]
    if absent:
        print(f"not checked (no interpreter found): Python {', '.join(absent)}")
    return failures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("write", "check"))
    args = parser.parse_args(argv)
    pythons = find_pythons()
    if args.action == "write":
        write(pythons)
    else:
        sys.exit(1 if check(pythons) else 0)


if __name__ == "__main__":
    main()
