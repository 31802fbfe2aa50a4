"""``chatsim loadtest --ray`` without the ``ray`` extra fails at once (exit 2, nothing written)
naming the install command; ``--workers`` alone is refused. ``ray`` is hidden in a subprocess.
An ``hf:`` simulator is checked in the driver by its spec and options, never loaded there; the
load workers take the CPUs its actors leave."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec
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


@pytest.mark.anyio
@pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
async def test_an_hf_simulator_on_ray_is_checked_here_without_loading_it(tmp_path: Path) -> None:
    from chatsim._exceptions import ConfigError
    from chatsim.loadtest import loadtest

    # No such model: only the spec and options are checked in the driver (the actors load it),
    # and a bad option stops the run before Ray starts or anything is written.
    with pytest.raises(ConfigError, match="unknown simulator option"):
        await loadtest(
            "vllm:m", base_url="http://127.0.0.1:9/v1", simulator="hf:/no/base+/no/lora",
            simulator_options={"bogus": 1}, rate=5, duration=1, ray="local", out_dir=tmp_path,
        )  # fmt: skip
    assert not list(tmp_path.iterdir())  # noqa: ASYNC240 (a test's own tmp dir, once)


def test_load_workers_take_the_cpus_the_simulator_actors_leave() -> None:
    from chatsim.distributed._simulators import SimulatorActors
    from chatsim.loadtest._ray_simulators import free_workers

    two = SimulatorActors("hf:base+lora", (object(), object()), ("actor-0", "actor-1"))
    assert free_workers(16, None) == 16
    assert free_workers(16, two) == 14
    assert free_workers(2, two) == 1  # never none
