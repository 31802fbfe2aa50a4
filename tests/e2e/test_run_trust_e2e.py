"""Issue 15 through ``evaluate()`` and the real openai SDK against the loopback server: the
default simulator is named with its reason, its tokens are priced beside the target's, and a
run whose episodes mostly failed raises ``RunFailedError`` carrying the whole result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_kit import ASSISTANT_REPLY, prompted_user, user_and_assistant_script
from structlog.testing import capture_logs

import chatsim
from chatsim.config import DEFAULT_SYSTEM_PROMPT
from chatsim.metrics import load_prices
from chatsim.protocol import Role
from chatsim.recording import read_header, read_run
from chatsim.simulators import _registry
from chatsim.testing import Fault, FaultKind, FaultPlan, LoopbackServer, ReplyContext, ReplyScript

pytestmark = pytest.mark.anyio


def _one_model_plays_both(context: ReplyContext) -> str:
    """``gpt-4o`` answers as the assistant (ChatBench's system prompt) and as the user."""
    system = next((m.get("content") for m in context.messages if m.get("role") == "system"), "")
    return ASSISTANT_REPLY if system == DEFAULT_SYSTEM_PROMPT else prompted_user(context)


def _tokens(episodes: list[chatsim.EpisodeRecord], role: Role) -> tuple[int, int]:
    usages = [t.usage for e in episodes for t in e.turns if t.role is role and t.usage]
    return sum(u.prompt_tokens for u in usages), sum(u.completion_tokens for u in usages)


async def test_without_a_gpu_the_target_plays_its_user_and_both_are_billed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_registry, "_no_cuda_reason", lambda: "no CUDA GPU found")
    async with LoopbackServer(ReplyScript(_one_model_plays_both)) as server:
        with capture_logs() as logs:
            result = await chatsim.evaluate(
                model="vllm:gpt-4o", subset="college_math", limit=4,
                base_url=server.base_url, out_dir=tmp_path,
            )  # fmt: skip
    choice = result.summary.simulator_choice
    assert choice is not None and choice.spec == "prompted:vllm:gpt-4o"
    assert choice.source == "default" and "no CUDA GPU found for the default hf:" in choice.reason
    assert "pass simulator= to choose" in choice.reason
    warned = [e for e in logs if e["log_level"] == "warning" and "simulator:" in e["event"]]
    assert warned and warned[0]["event"] == f"simulator: {choice.describe()}"
    assert read_header(result.run_dir).simulator_choice == choice
    # The simulator's tokens, priced like the target's (the same model), beside them.
    price = load_prices().models["gpt-4o"]
    sim_in, sim_out = _tokens(result.episodes, Role.USER)
    tgt_in, tgt_out = _tokens(result.episodes, Role.ASSISTANT)
    assert sim_in > 0 and tgt_in > 0
    model = result.summary.models["vllm:gpt-4o"]
    assert (model.simulator_cost.prompt_tokens, model.simulator_cost.completion_tokens) == (
        sim_in, sim_out,
    )  # fmt: skip
    sim_cost = (sim_in * price.input + sim_out * price.output) / 1e6
    tgt_cost = (tgt_in * price.input + tgt_out * price.output) / 1e6
    assert model.simulator_cost.price_entry == "gpt-4o"
    assert model.simulator_cost.cost == pytest.approx(sim_cost)
    assert model.cost.cost == pytest.approx(tgt_cost)
    total = result.summary.cost.total
    assert total.complete and total.cost == pytest.approx(sim_cost + tgt_cost)
    assert total.prompt_tokens == sim_in + tgt_in
    stored = json.loads((result.run_dir / "summary.json").read_text())
    assert stored["cost"]["simulator"]["cost"] == pytest.approx(sim_cost)
    assert stored["simulator_choice"]["source"] == "default"


async def test_a_given_self_hosted_simulator_is_unpriced_never_zero(tmp_path: Path) -> None:
    async with LoopbackServer(user_and_assistant_script()) as server:
        result = await chatsim.evaluate(
            model="vllm:gpt-4o-mini", subset="college_math", limit=2,
            simulator="prompted:vllm:user", base_url=server.base_url, out_dir=tmp_path,
        )  # fmt: skip
    choice = result.summary.simulator_choice
    assert choice is not None and choice.source == "given"
    assert choice.reason == "given with simulator="
    sim = result.summary.models["vllm:gpt-4o-mini"].simulator_cost
    assert sim.prompt_tokens > 0 and sim.cost is None and sim.price_entry is None
    total = result.summary.cost.total
    assert not total.complete and total.unpriced_tokens == sim.prompt_tokens + sim.completion_tokens
    assert total.cost == pytest.approx(result.summary.models["vllm:gpt-4o-mini"].cost.cost)


def _failing_server(times: int) -> LoopbackServer:
    faults = FaultPlan()
    faults.push(Fault(FaultKind.HTTP_ERROR, status=404, model="assistant"), times=times)
    return LoopbackServer(user_and_assistant_script(), faults=faults)


async def test_a_run_whose_every_episode_failed_raises_with_the_whole_result(
    tmp_path: Path,
) -> None:
    async with _failing_server(times=100) as server:
        with pytest.raises(chatsim.RunFailedError) as caught:
            await chatsim.evaluate(
                model="vllm:assistant", subset="college_math", limit=3,
                simulator="prompted:vllm:user", base_url=server.base_url, out_dir=tmp_path,
            )  # fmt: skip
    error = caught.value
    assert isinstance(error, chatsim.ChatsimError)
    failure = error.failure
    assert failure is not None and failure.error_episodes == failure.episodes == 3
    assert failure.kinds[0].kind == "target_error: PermanentError, HTTP 404"
    assert failure.kinds[0].episodes == 3
    assert "3 of 3 episodes ended in errors" in str(error) and "--retry-errors" in str(error)
    result = error.result  # nothing is lost: the result, and a complete run directory
    assert result.failed and len(result.episodes) == 3
    assert {p.name for p in result.run_dir.iterdir()} >= {
        "header.json", "episodes.jsonl", "summary.json",
    }  # fmt: skip
    assert json.loads((result.run_dir / "summary.json").read_text())["failure"] is not None
    assert len(read_run(result.run_dir).episodes) == 3


async def test_the_error_share_decides_between_a_result_and_an_error(tmp_path: Path) -> None:
    # One assistant call of five fails for good: 20% is not above the default share.
    args = {"model": "vllm:assistant", "subset": "college_math", "limit": 5,
            "simulator": "prompted:vllm:user"}  # fmt: skip
    async with _failing_server(times=1) as server:
        result = await chatsim.evaluate(**args, base_url=server.base_url, out_dir=tmp_path / "a")
    assert not result.failed and result.accuracy().errors == {"target_error": 1}
    async with _failing_server(times=1) as server:
        with pytest.raises(chatsim.RunFailedError, match=r"1 of 5 .* above 10%"):
            await chatsim.evaluate(
                **args, base_url=server.base_url, out_dir=tmp_path / "b", max_error_share=0.1
            )
