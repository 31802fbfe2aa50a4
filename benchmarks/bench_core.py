"""Core overhead: chatsim's full path vs a minimal hand-written loop with the bare openai SDK.

Both make the same calls: every episode is three streamed chat completions with a growing
conversation (the scripted user asks twice more, then answers), against the loopback server in
its own process on the other core, replying instantly. The client is pinned to one core.

    python benchmarks/bench_core.py                      # concurrency 1, 64, 512
    python benchmarks/bench_core.py --concurrency 64 --episodes 1000

Reported per path: episodes/s, client CPU ms per target call (process time / calls), and the
ratio chatsim / bare SDK. chatsim's figures include the scripted simulator, the episode loop,
the call policy (retries armed, timing, attempts) and recording every episode to disk.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
import openai
from _loopback import loopback_server, pin_to_core

from chatsim.protocol import Role
from chatsim.recording import read_run
from chatsim.runner import RunConfig, execute_run, prepare_run
from chatsim.simulators import UserTurnRequest
from chatsim.testing import ScriptedSimulator

CALLS_PER_EPISODE = 3
MODEL = "vllm:bench"


def three_calls(request: UserTurnRequest) -> str:
    """User policy: first message, two follow-ups, then the answer: three target calls."""
    sent = sum(1 for m in request.history if m.role is Role.USER)
    if sent == 0:
        return request.question.render()
    return "Why?" if sent < CALLS_PER_EPISODE else "Answer: B"


@dataclass
class Result:
    name: str
    concurrency: int
    episodes: int
    wall: float
    cpu: float

    @property
    def calls(self) -> int:
        return self.episodes * CALLS_PER_EPISODE

    @property
    def cpu_per_call(self) -> float:
        return self.cpu / self.calls

    @property
    def rate(self) -> float:
        return self.episodes / self.wall

    def row(self) -> str:
        return (
            f"{self.name:<14} {self.concurrency:>5} {self.episodes:>7}"
            f" {self.rate:>10.1f} {self.cpu_per_call * 1e3:>12.3f} {self.wall:>8.2f}"
        )


async def bench_chatsim(url: str, concurrency: int, episodes: int, transport: str) -> Result:
    config = RunConfig(
        models=(MODEL,),
        source="chatbench",
        selection="all",
        limit=episodes,
        simulator="scripted",
        base_url=url,
        concurrency=concurrency,
        target_options={"transport": transport},
        max_turns=10,
    )
    with tempfile.TemporaryDirectory() as out:
        setup = prepare_run(config, out_dir=Path(out), run_id="bench")
        setup.simulator = ScriptedSimulator(three_calls)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        outcome = await execute_run(setup)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        await setup.aclose()
        records = read_run(setup.run_dir).episodes
    assert outcome.recorded == episodes == len(records)
    bad = [r for r in records if r.user_messages != CALLS_PER_EPISODE]
    assert not bad, bad[0].termination
    return Result(f"chatsim/{transport}", concurrency, episodes, wall, cpu)


async def bench_bare_sdk(url: str, concurrency: int, episodes: int) -> Result:
    from chatsim.questions import load_questions

    questions = load_questions("chatbench", selection="all", limit=episodes)
    client = openai.AsyncOpenAI(base_url=url, api_key="EMPTY", max_retries=0)
    todo = iter(questions)

    async def worker() -> None:
        for question in todo:
            messages = [
                {"role": "system", "content": "You are a helpful AI assistant."},
                {"role": "user", "content": question.render()},
            ]
            for call in range(CALLS_PER_EPISODE):
                stream = await client.chat.completions.create(
                    model="bench",
                    messages=messages,
                    temperature=0.7,
                    stream=True,  # type: ignore[arg-type]
                    stream_options={"include_usage": True},
                )
                text = "".join(
                    [c.choices[0].delta.content or "" async for c in stream if c.choices]
                )
                messages.append({"role": "assistant", "content": text})
                if call < CALLS_PER_EPISODE - 1:
                    messages.append({"role": "user", "content": "Why?"})

    wall0, cpu0 = time.perf_counter(), time.process_time()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    await client.close()
    return Result("bare-sdk", concurrency, len(questions), wall, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 64, 512])
    parser.add_argument(
        "--episodes", type=int, help="episodes per run (default: 100 at c=1, else 1000)"
    )
    parser.add_argument("--transports", nargs="*", default=["fast", "sdk"])
    args = parser.parse_args()
    pin_to_core(0)
    header = ("path", "conc", "episodes", "episodes/s", "cpu ms/call", "wall s")
    print("{:<14} {:>5} {:>7} {:>10} {:>12} {:>8}".format(*header))
    with loopback_server(
        "--reply", "I think the answer is B, because 2 + 2 = 4.", "--chunks", "8"
    ) as url:
        for concurrency in args.concurrency:
            episodes = args.episodes or (100 if concurrency == 1 else 1000)
            bare = anyio.run(bench_bare_sdk, url, concurrency, episodes)
            print(bare.row())
            for transport in args.transports:
                ours = anyio.run(bench_chatsim, url, concurrency, episodes, transport)
                print(
                    f"{ours.row()}   vs bare SDK: cpu/call "
                    f"{ours.cpu_per_call / bare.cpu_per_call:.2f}x,"
                    f" episodes/s {ours.rate / bare.rate:.2f}x"
                )


if __name__ == "__main__":
    main()
