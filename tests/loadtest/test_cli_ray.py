"""``chatsim loadtest --ray`` without the ``ray`` extra fails at once (exit 2, nothing written)
naming the install command; ``--workers`` alone is refused. ``ray`` is hidden in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_HIDE_RAY = (
    "import sys; sys.modules['ray'] = None; "  # `import ray` now raises ImportError
    "from chatsim.cli import main; sys.argv = ['chatsim', *sys.argv[1:]]; main()"
)
_ARGS = ["loadtest", "--model", "vllm:assistant", "--base-url", "http://127.0.0.1:9/v1"]
_ARGS += ["--rate", "5", "--duration", "1", "--quiet"]


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--ray", "local"], "pip install 'chatsim[ray]'"),
        (["--workers", "2"], "add --ray"),
    ],
)
def test_ray_options_are_checked_before_anything_is_written(
    tmp_path: Path, extra: list[str], says: str
) -> None:
    out = tmp_path / "runs"
    args = [*_ARGS, "--out", str(out), *extra]
    result = subprocess.run(
        [sys.executable, "-c", _HIDE_RAY, *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert not out.exists()


@pytest.mark.anyio
async def test_the_python_api_wants_ray_with_workers_and_specs_on_ray(tmp_path: Path) -> None:
    from chatsim._exceptions import ConfigError
    from chatsim.loadtest import loadtest
    from chatsim.testing import ScriptedSimulator

    with pytest.raises(ConfigError, match="add ray="):
        await loadtest("vllm:m", rate=5, duration=1, workers=2, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="as specs"):
        await loadtest(
            "vllm:m", rate=5, duration=1, ray="local", simulator=ScriptedSimulator(lambda r: "A"),
            out_dir=tmp_path,
        )  # fmt: skip
    assert not list(tmp_path.iterdir())  # noqa: ASYNC240 (a test's own tmp dir, once)
