"""The CLI starts without its back ends: each command imports its own when it runs.

Every ``chatsim ...`` process (a Ray driver started as ``chatsim run --ray auto`` too) pays for
whatever ``chatsim.cli`` imports, so starting the CLI or printing a command's help must not load
the evaluation stack (records, runner, metrics, report, the ChatBench tooling, the load
tester, training) nor the libraries under it. Checked in fresh interpreters: this test process
has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: chatsim modules a start may load: the exception tree, light helpers, the command modules.
_LIGHT_PREFIXES = ("chatsim._exceptions", "chatsim._util", "chatsim.cli")

#: Command modules that exist to hold a back end's part of ``chatsim run``.
_HEAVY_CLI = ("chatsim.cli._progress", "chatsim.cli._run_screens", "chatsim.cli._run_setup")

#: Libraries under the back ends. pydantic is not here: typer itself builds its parameter
#: converters with pydantic when it parses a command line, ``--help`` included (only importing
#: the CLI is held to leaving it out).
_HEAVY_LIBRARIES = (
    "aiohttp",
    "anyio",
    "httpx",
    "numpy",
    "openai",
    "pyarrow",
    "ray",
    "structlog",
    "torch",
)

# Prints, as JSON on stderr's last line, the chatsim modules and heavy libraries that were
# loaded by `import chatsim.cli` (no arguments) or by `chatsim <args> --help` for each
# argument list given as JSON in argv[1].
_PROBE = """
import json, sys
import chatsim.cli
for args in json.loads(sys.argv[1]):
    try:
        chatsim.cli.app([*args, "--help"], prog_name="chatsim")
    except SystemExit as exc:
        assert exc.code == 0, (args, exc.code)
heavy = set(json.loads(sys.argv[2]))
loaded = [m for m in sys.modules if m.split(".")[0] == "chatsim" or m in heavy]
print(json.dumps(sorted(loaded)), file=sys.stderr)
"""

_COMMANDS = (
    [],
    ["run"],
    ["report"],
    ["compare"],
    ["repair"],
    ["loadtest"],
    ["calibrate"],
    ["sim"],
    ["sim", "check"],
    ["sim", "data"],
    ["sim", "train"],
    ["sim", "similarity"],
)


def _loaded(commands: list[list[str]]) -> list[str]:
    watched = [*_HEAVY_LIBRARIES, "pydantic"]
    code = [sys.executable, "-c", _PROBE, json.dumps(commands), json.dumps(watched)]
    out = subprocess.run(code, capture_output=True, text=True, check=True)
    return list(json.loads(out.stderr.strip().splitlines()[-1]))


def _is_heavy(name: str) -> bool:
    if name in _HEAVY_LIBRARIES or name.startswith(_HEAVY_CLI):
        return True
    return name.startswith("chatsim.") and not name.startswith(_LIGHT_PREFIXES)


def _too_heavy(loaded: list[str]) -> list[str]:
    return [name for name in loaded if _is_heavy(name)]


def test_importing_the_cli_loads_no_back_end() -> None:
    loaded = _loaded([])
    assert "chatsim.cli._run" in loaded  # the probe saw the command modules
    assert _too_heavy(loaded) == []
    assert "pydantic" not in loaded


def test_every_commands_help_loads_no_back_end() -> None:
    # One interpreter for every help screen: each one builds the whole command tree anyway.
    loaded = _loaded([list(args) for args in _COMMANDS])
    assert _too_heavy(loaded) == []
