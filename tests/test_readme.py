"""The README's promises: CI runs its test command, and every command it shows works after
command 1 alone (a fresh virtualenv, nothing but ``pip install -e . -e adapters/openai``),
against the loopback server playing both sides (``--demo``).

Each command runs as written except for the substitutions in ``_concrete`` (placeholders such
as ``RUN_DIR`` become real run directories; long runs are made short). A README command the
test does not know fails it, so a new command in the README needs a line here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_lines() -> list[str]:
    """Every command line of the README's bash blocks, comments and a trailing ``&`` cut."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.DOTALL):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line.removesuffix("&").strip())
    return lines


def _numbered(number: int) -> str:
    """Set-up command ``number`` (the line after its ``# N.`` comment)."""
    block = re.search(r"```bash\n(.*?)```", README, re.DOTALL)
    assert block is not None
    lines = block.group(1).splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"# {number}."))
    return lines[index + 1].strip()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci.replace("pip install -q ", "pip install ") == _numbered(2)


def test_the_no_key_hint_prints_the_readme_commands() -> None:
    from chatsim.cli._errors import NO_KEY_DEMO

    assert list(NO_KEY_DEMO) == [
        line for line in _bash_lines() if "--demo" in line or "vllm:demo" in line
    ]


# --- a fresh virtualenv with command 1's install only


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with exactly command 1's install (from the local package index)."""
    install, _, _ = _numbered(1).partition(" && ")
    assert install == "pip install -e . -e adapters/openai"
    path = tmp_path_factory.mktemp("fresh") / "venv"
    venv.create(path, with_pip=True)
    pip = [str(path / "bin" / "python"), "-m", "pip", "install", "-q"]
    result = subprocess.run(
        [*pip, *shlex.split(install)[2:]], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return path


@pytest.fixture(scope="module")
def demo_server(fresh_venv: Path) -> Iterator[str]:
    """The README's no-key server, started from the fresh virtualenv (on a free port)."""
    line = next(line for line in _bash_lines() if "chatsim.testing.server" in line)
    argv = shlex.split(line.replace("--port 8000", "--port 0"))
    argv[0] = str(fresh_venv / "bin" / "python")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=30)  # reaps it and closes its pipes


def _env(venv_path: Path, url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env = {k: v for k, v in env.items() if not k.startswith(("AZURE_OPENAI", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv_path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    if url is not None:  # every provider the README names, pointed at the loopback server
        env |= {
            "OPENAI_API_KEY": "sk-readme-test",
            "OPENAI_BASE_URL": url,
            "AZURE_OPENAI_ENDPOINT": url.removesuffix("/v1"),
            "AZURE_OPENAI_API_KEY": "readme-test",
            "OPENAI_API_VERSION": "2024-06-01",
        }
    return env


_SHORT_RUN = "--model gpt-4o --subset college_math --limit 3"


def _concrete(line: str, url: str, runs: list[Path]) -> str:
    """A README line as the test runs it: placeholders filled, long runs made short."""
    latest = str(runs[-1]) if runs else "runs/none"
    line = line.replace("runs/<run-id>", latest).replace("RUN_DIR", latest)
    if "RUN_A" in line:
        line = line.replace("RUN_A", str(runs[-2])).replace("RUN_B", str(runs[-1]))
    line = line.replace("http://127.0.0.1:8000/v1", url)
    line = line.replace("--base-url ...", f"--base-url {url}")
    line = line.replace("chatsim run ...", f"chatsim run {_SHORT_RUN}")
    line = line.replace("--repeats 10", "--repeats 2")
    if line.startswith("chatsim run") and "--limit" not in line and "--resume" not in line:
        line += " --limit 3"
    if line.startswith("chatsim loadtest"):
        line = re.sub(r" --duration \S+", "", line) + " --duration 1"
    return line


# Commands the README itself marks as needing an extra (not part of command 1's install).
_NEEDS_EXTRA = ("pip install torch", "python -m pytest")


@pytest.mark.slow
@pytest.mark.timeout(600)  # a fresh install (about a minute here) plus some twenty commands
def test_every_readme_command_works_after_command_1_alone(
    fresh_venv: Path, demo_server: str, tmp_path: Path
) -> None:
    no_key = subprocess.run(
        shlex.split(_numbered(1).partition(" && ")[2]),
        cwd=tmp_path,
        env=_env(fresh_venv, None),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # The first screen says what to set and how to try chatsim without a key.
    assert no_key.returncode == 2, no_key.stderr
    assert "OPENAI_API_KEY" in no_key.stderr and "--demo" in no_key.stderr
    assert not (tmp_path / "runs").exists()

    env = _env(fresh_venv, demo_server)
    runs: list[Path] = []
    for line in _bash_lines():
        if line.startswith(_NEEDS_EXTRA) or "chatsim.testing.server" in line:
            continue
        if line.startswith("pip install -e . -e adapters/openai && "):
            line = line.partition(" && ")[2]  # the install is the fixture's
        assert line.startswith("chatsim "), f"the README test does not know: {line}"
        command = _concrete(line, demo_server, runs)
        done = subprocess.run(
            shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        if line.startswith("chatsim run") and "--dry-run" not in line and "--resume" not in line:
            (made,) = set((tmp_path / "runs").iterdir()) - set(runs)
            runs.append(made)
        if "--json" in line:
            json.loads(done.stdout)
    assert (tmp_path / "report.html").stat().st_size > 100_000  # plotly inlined
    assert any((tmp_path / "tables").iterdir())
