"""Helpers shared by the CLI tests (a uniquely named module: other test folders have their
own ``conftest``)."""

from __future__ import annotations

from pathlib import Path


def fake_run_args(out: Path, *, limit: int = 3, run_id: str = "r") -> list[str]:
    """``chatsim run`` options for a quiet, scripted run of ``fake:a`` on college_math."""
    return ["--model", "fake:a", "--simulator", "scripted", "--subset", "college_math",
            "--limit", str(limit), "--out", str(out), "--run-id", run_id, "--quiet"]  # fmt: skip
