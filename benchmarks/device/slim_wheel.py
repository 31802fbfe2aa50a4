"""Rewrite a wheel without the parts a run does not use, so that it fits the device tool's
64 MiB working tree: ray's wheel is 79 MB, 32 MB of it the jar of Ray's Java workers, 3 MB
its dashboard's web build (chatsim starts Ray with no dashboard, and no Java) and 4 MB the
libraries on top of Ray Core.

    python benchmarks/device/slim_wheel.py .whl/ray-2.60.0-*.whl

The wheel is rewritten in place: every other member keeps its bytes, its date and its Unix
mode (Ray's ``gcs_server`` and ``raylet`` must stay executable), and RECORD loses the lines of
the members dropped, so that the wheel stays self-consistent.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

DROPPED = (
    "ray/jars/",
    "ray/dashboard/client/build/",
    *(f"ray/{library}/" for library in ("rllib", "tune", "train", "serve", "llm")),
)
"""Prefixes of the members left out: Java, the dashboard's web build, and Ray's libraries
that Ray Core does not import (RLlib, Tune, Train, Serve, LLM)."""


def slim(path: Path, dropped: tuple[str, ...] = DROPPED) -> tuple[int, int]:
    """Rewrite ``path`` without the members under ``dropped``; (bytes before, bytes after)."""
    before = path.stat().st_size
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".whl", delete=False) as tmp:
        out = Path(tmp.name)
    try:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                if info.filename.startswith(dropped):
                    continue
                data = src.read(info)
                if info.filename.endswith(".dist-info/RECORD"):
                    lines = data.decode().splitlines(keepends=True)
                    data = "".join(x for x in lines if not x.startswith(dropped)).encode()
                # The original ZipInfo keeps the date, the Unix mode and the compression.
                dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        shutil.move(out, path)
    finally:
        out.unlink(missing_ok=True)
    return before, path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheels", type=Path, nargs="+")
    for path in parser.parse_args(argv).wheels:
        before, after = slim(path)
        print(f"{path.name}: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
