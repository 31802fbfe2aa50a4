"""Without the ``ray`` extra, ``--ray`` fails at once (exit 2, nothing written) naming the
install command. ``ray`` is hidden from import (``sys.modules["ray"] = None`` makes
``import ray`` raise ``ImportError``, whether or not another test imported it before); the CLI
runs in-process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatsim.cli import app


def test_ray_without_the_extra_fails_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    out = tmp_path / "runs"
    args = ["run", "--model", "vllm:assistant", "--base-url", "http://127.0.0.1:9/v1"]
    args += ["--simulator", "scripted", "--limit", "2", "--out", str(out), "--ray", "local"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "pip install 'chatsim[ray]'" in result.output
    assert not out.exists()


def test_workers_without_ray_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    args = ["run", "--model", "vllm:assistant", "--simulator", "scripted", "--workers", "2"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "add --ray" in result.output
    assert not out.exists()
