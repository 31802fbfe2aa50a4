"""The public surfaces are what we mean, and importing them stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import chatsim.baseline
import chatsim.judge
import chatsim.metrics
import chatsim.recording
import chatsim.report


@pytest.mark.parametrize(
    "module", [chatsim.metrics, chatsim.report, chatsim.baseline, chatsim.judge, chatsim.recording]
)
def test_all_names_exist_and_are_public(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in names:
        assert not name.startswith("_")
        assert getattr(module, name) is not None


def test_importing_reports_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, chatsim.metrics, chatsim.report, chatsim.baseline, chatsim.judge;"
        "print(sorted(m for m in ('pandas', 'plotly', 'pyarrow', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
