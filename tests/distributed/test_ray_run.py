"""A run on a local Ray (2 workers) gives, episode by episode, the outcomes of one process;
every episode is recorded once; a Ray run resumes in one process, and a one-process run on
Ray."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import pytest

import chatsim
from chatsim.recording import EPISODES_FILE, read_run
from chatsim.testing import LoopbackServer, ReplyScript

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs ray (chatsim[ray])")
pytestmark = [pytest.mark.anyio, needs_ray, pytest.mark.usefixtures("local_ray")]

OPTIONS = {
    "model": ["vllm:assistant", "vllm:assistant-2"],
    "subset": "college_math",
    "limit": 6,
    "repeats": 2,
    "seed": 7,
    "simulator": "scripted",
}


def _accuracy(result: chatsim.EvaluationResult) -> dict[str, float | None]:
    return {model: group.accuracy for model, group in result.summary.models.items()}


def _outcomes(run_dir: Path) -> dict[str, tuple[object, ...]]:
    episodes = read_run(run_dir).episodes
    return {
        e.episode_id: (e.final_answer, e.correct, e.seed, e.termination, len(e.turns))
        for e in episodes
    }


async def test_a_ray_run_matches_one_process_and_resumes_in_one(tmp_path: Path) -> None:
    script = ReplyScript(lambda context: f"It is {'ABCD'[len(context.messages) % 4]}.")
    async with LoopbackServer(script) as server:
        url = server.base_url
        alone = await chatsim.evaluate(**OPTIONS, base_url=url, out_dir=tmp_path, run_id="one")
        on_ray = await chatsim.evaluate(
            **OPTIONS, base_url=url, out_dir=tmp_path, run_id="ray", ray="local", workers=2
        )
        expected = _outcomes(alone.run_dir)
        assert len(expected) == 24
        assert _outcomes(on_ray.run_dir) == expected
        lines = (on_ray.run_dir / EPISODES_FILE).read_text().splitlines()
        assert len(lines) == 24  # each episode exactly once
        assert _accuracy(on_ray) == _accuracy(alone)

        # Stop it halfway (keep 10 records), then resume in one process.
        (on_ray.run_dir / EPISODES_FILE).write_text("\n".join(lines[:10]) + "\n")
        resumed = await chatsim.evaluate(
            **OPTIONS, base_url=url, out_dir=tmp_path, resume=on_ray.run_dir
        )
        # And the other way: the one-process run, stopped halfway, resumes on Ray (one worker:
        # the two-worker run is above; a second actor to start costs more than it shows).
        alone_lines = (alone.run_dir / EPISODES_FILE).read_text().splitlines()
        (alone.run_dir / EPISODES_FILE).write_text("\n".join(alone_lines[:10]) + "\n")
        back = await chatsim.evaluate(
            **OPTIONS, base_url=url, out_dir=tmp_path, resume=alone.run_dir, ray="local", workers=1
        )
    for done in (resumed, back):
        assert _outcomes(done.run_dir) == expected
        assert len((done.run_dir / EPISODES_FILE).read_text().splitlines()) == 24
        assert _accuracy(done) == _accuracy(alone)
