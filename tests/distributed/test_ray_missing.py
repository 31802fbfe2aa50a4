"""Without the ``ray`` extra, ``--ray`` fails at once (exit 2, nothing written) naming the
install command. ``ray`` is hidden from import in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_HIDE_RAY = (
    "import sys; sys.modules['ray'] = None; "  # `import ray` now raises ImportError
    "from chatsim.cli import main; sys.argv = ['chatsim', *sys.argv[1:]]; main()"
)


def test_ray_without_the_extra_fails_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    args = ["run", "--model", "vllm:assistant", "--base-url", "http://127.0.0.1:9/v1"]
    args += ["--simulator", "scripted", "--limit", "2", "--out", str(out), "--ray", "local"]
    result = subprocess.run(
        [sys.executable, "-c", _HIDE_RAY, *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'chatsim[ray]'" in result.stderr
    assert not out.exists()


def test_workers_without_ray_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    args = ["run", "--model", "vllm:assistant", "--simulator", "scripted", "--workers", "2"]
    result = subprocess.run(
        [sys.executable, "-m", "chatsim", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "add --ray" in result.stderr
    assert not out.exists()
