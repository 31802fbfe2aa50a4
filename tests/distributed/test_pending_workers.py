"""A run does not wait for workers it can do without: a worker Ray has not placed when the
work is done gives up at once, and one Ray cannot place within the deadline while other
workers run is left out (a warning says so); the run ends with every episode recorded once.
(A run none of whose workers is placed stops with ``ActorNotPlaced``: test_unschedulable.)
A worker that cannot start (its constructor raised) stops the run with its own error, and is
not replaced as if it had died."""

from __future__ import annotations

import json
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import anyio
import pytest
from ray_kit import RunWorkers, planned_ids, record_lines
from structlog.testing import capture_logs

import chatsim
from chatsim import ChatsimError, MissingCredentialError
from chatsim.distributed import SCHEDULE_TIMEOUT_VARIABLE, ActorNotPlaced
from chatsim.distributed._worker import EpisodeWorker
from chatsim.testing import LoopbackServer, ReplyScript

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
pytestmark = [pytest.mark.anyio, needs_ray, pytest.mark.usefixtures("local_ray")]

OPTIONS: dict[str, Any] = {"simulator": "scripted", "limit": 4, "repeats": 2}


def _recorded_once(run_dir: Path) -> None:
    ids = [json.loads(line)["episode_id"] for line in record_lines(run_dir)]
    assert len(ids) == len(set(ids)) == 8
    assert set(ids) == planned_ids(run_dir)


async def test_a_worker_still_waiting_when_the_work_is_done_gives_up(
    tmp_path: Path, run_workers: RunWorkers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatsim.distributed import _slots

    # Two workers of 1.5 CPUs on a 2-CPU Ray: one is placed, the other waits. With a deadline
    # longer than the test's timeout, only giving up once the work is done ends this run.
    monkeypatch.setattr(_slots, "WORKER_RESOURCES", {"CPU": 1.5})
    monkeypatch.setenv(SCHEDULE_TIMEOUT_VARIABLE, "600")
    async with LoopbackServer(ReplyScript("It is A.")) as server:
        with capture_logs() as logs:
            result = await chatsim.evaluate(
                "vllm:assistant", "college_math", **OPTIONS, base_url=server.base_url,
                out_dir=tmp_path, run_id="pending", ray="local", workers=2,
            )  # fmt: skip
    _recorded_once(result.run_dir)
    assert [e["event"] for e in logs if "not needed" in e["event"]]
    assert await run_workers.gone("pending")


async def test_a_worker_not_placed_in_time_is_left_out(
    tmp_path: Path, run_workers: RunWorkers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatsim.distributed import _slots

    real = _slots.Slots.placed
    first_up = anyio.Event()

    async def second_never_placed(self: Any, slot: Any) -> None:
        if slot.index == 1:  # its deadline passes once the first is up: Ray had no room
            await first_up.wait()
            raise ActorNotPlaced("Ray did not start episode worker 1 within 0 s")
        await real(self, slot)
        first_up.set()

    monkeypatch.setattr(_slots.Slots, "placed", second_never_placed)
    async with LoopbackServer(ReplyScript("It is A.")) as server:
        with capture_logs() as logs:
            result = await chatsim.evaluate(
                "vllm:assistant", "college_math", **OPTIONS, base_url=server.base_url,
                out_dir=tmp_path, run_id="left-out", ray="local", workers=2,
            )  # fmt: skip
    _recorded_once(result.run_dir)
    (left,) = [e for e in logs if e["event"].startswith("a ray worker was not placed")]
    assert left["workers"] == 1 and "within 0 s" in left["error"]
    assert await run_workers.gone("left-out")


class _Refusing(EpisodeWorker):
    """A worker whose constructor raises on the cluster, as one without a key would."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise MissingCredentialError("CHATSIM_TEST_KEY", "this worker needs a key")


async def test_a_worker_that_cannot_start_stops_the_run_with_its_error(
    tmp_path: Path, run_workers: RunWorkers, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray.cloudpickle

    from chatsim.distributed import _slots

    # Defined here, not importable by Ray's workers: shipped by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(_slots, "EpisodeWorker", _Refusing)
    async with LoopbackServer(ReplyScript("It is A.")) as server:
        with capture_logs() as logs, pytest.raises(ChatsimError) as caught:
            await chatsim.evaluate(
                "vllm:assistant", "college_math", **OPTIONS, base_url=server.base_url,
                out_dir=tmp_path, run_id="refused", ray="local", workers=1,
            )  # fmt: skip
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    message = str(caught.value)
    assert "could not start" in message and "CHATSIM_TEST_KEY" in message
    assert f"chatsim run --resume {tmp_path / 'refused'} --ray local" in message
    assert not [e for e in logs if e["event"].startswith("ray worker died")]  # not replaced
    assert await run_workers.gone("refused")
