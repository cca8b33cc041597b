"""Re-execute notebooks and save their outputs in place: `make notebooks [NB=04]`.

Runs in the profile given by $COURSE_PROFILE (the Makefile sets `full`), one notebook at a time,
and prints how long each took.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def main(prefix: str = "") -> None:
    paths = sorted(NOTEBOOKS.glob(f"{prefix}*.ipynb"))
    if not paths:
        sys.exit(f"no notebook in notebooks/ starts with {prefix!r}; try e.g. NB=00")
    for path in paths:
        start = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        nbformat.write(nb, path)
        print(f"{path.name}: {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
