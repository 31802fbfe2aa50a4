"""The public surface is what we mean it to be, and stays light to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import chatsim

EXPECTED = {
    "AttemptTimeoutError",
    "AuthenticationError",
    "ChatsimError",
    "ConfigError",
    "DataError",
    "EpisodeRecord",
    "EvaluationResult",
    "MissingCredentialError",
    "MissingDependencyError",
    "PermanentError",
    "QuotaExceededError",
    "Question",
    "RateLimitError",
    "RunConfig",
    "RunDirectoryError",
    "RunFailedError",
    "RunHeader",
    "RunSummary",
    "SimulatorError",
    "TargetError",
    "TransientError",
    "TurnRecord",
    "UnknownNameError",
    "__version__",
    "evaluate",
    "load_questions",
    "read_run",
    "summarize",
    "write_summary",
}


def test_all_is_exactly_the_public_surface() -> None:
    assert set(chatsim.__all__) == EXPECTED
    for name in chatsim.__all__:
        assert hasattr(chatsim, name), name


def test_public_names_live_in_private_modules_or_are_reexported() -> None:
    for name in chatsim.__all__:
        obj = getattr(chatsim, name)
        module = getattr(obj, "__module__", "chatsim")
        assert module.startswith("chatsim"), (name, module)


def test_exception_tree_has_one_root() -> None:
    for name in chatsim.__all__:
        obj = getattr(chatsim, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, chatsim.ChatsimError), name


def _fresh_python(code: str) -> str:
    """What ``code`` prints in a fresh interpreter (this one has imported everything)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout


def test_an_http_only_run_does_not_import_torch() -> None:
    code = (
        "import sys, chatsim, chatsim.cli, chatsim.runner, chatsim.simulators._registry;"
        "import chatsim.targets, chatsim.metrics, chatsim.report;"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'datasets', 'pandas', 'plotly')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    assert _fresh_python(code).strip() == ""


def test_import_chatsim_loads_its_surface_on_first_use() -> None:
    # A Ray worker, the CLI or an adapter imports chatsim for its exceptions: evaluate's
    # graph (metrics, numpy) loads when first used, and the sub-packages stay reachable.
    code = (
        "import sys, chatsim; from chatsim import ConfigError;"
        "before = [m for m in ('chatsim._api', 'chatsim.metrics', 'numpy') if m in sys.modules];"
        "chatsim.evaluate; chatsim.metrics.summarize; chatsim.recording.read_run;"
        "print(','.join(before), 'evaluate' in dir(chatsim), 'chatsim._api' in sys.modules)"
    )
    assert _fresh_python(code).split() == ["True", "True"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = chatsim.nope
