"""The public surface is what we mean it to be, and stays light to import."""

from __future__ import annotations

import subprocess
import sys

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


def test_an_http_only_run_does_not_import_torch() -> None:
    code = (
        "import sys, chatsim, chatsim.cli, chatsim.runner, chatsim.simulators._registry;"
        "import chatsim.targets, chatsim.metrics, chatsim.report;"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'datasets', 'pandas', 'plotly')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
