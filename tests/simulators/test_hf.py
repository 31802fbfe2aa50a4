"""The local transformers + peft simulator, on the tiny model (CPU)."""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.from_thread
import pytest

from chatsim import ConfigError, MissingDependencyError, SimulatorError
from chatsim.simulators._batcher import BatchItemErrors
from chatsim.simulators._contract import UserTurnRequest
from chatsim.simulators._hf import HFSimulator, create_hf_simulator
from chatsim.simulators._hf_options import DEFAULT_HF_SPEC_REST, HFOptions, parse_hf_spec

pytestmark = pytest.mark.anyio

Requests = Callable[..., list[UserTurnRequest]]


def _sim(engine: Any, **changes: Any) -> HFSimulator:
    options = dataclasses.replace(engine.options, **changes)
    return HFSimulator(engine.with_options(options), spec="hf:tiny")


async def test_loads_from_spec_and_writes_clean_turns(
    tiny_model: Any, requests_factory: Requests
) -> None:
    options = HFOptions(max_new_tokens=24, temperature=0.0, max_batch_size=8)
    sim = create_hf_simulator(f"{tiny_model.base}+{tiny_model.adapter}", options)
    assert sim.batched is True
    assert sim.max_batch_size == 8
    assert sim.spec == f"hf:{tiny_model.base}+{tiny_model.adapter}"
    requests = requests_factory(4)
    turns = await sim.generate(requests)
    assert len(turns) == 4
    for turn in turns:
        assert "[END]" not in turn.text
        assert turn.text == turn.text.strip()
        assert turn.usage is not None
        assert 0 < turn.usage.completion_tokens <= 24
        assert turn.started_at is not None and turn.ended_at is not None
        assert turn.started_at <= turn.ended_at
    # The trained tiny model answers a later turn with "Answer: X" and stops at [END].
    assert turns[1].text.startswith("Answer:")
    assert turns[1].usage is not None and turns[1].usage.completion_tokens < 24
    await sim.aclose()


async def test_prompt_tokens_match_the_rendered_prompt(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    sim = _sim(tiny_engine)
    request = requests_factory(2)[1]
    prompt = sim.describe_prompt(request)
    assert prompt.startswith("[SYSTEM] ")
    assert prompt.endswith("[USER]")
    (turn,) = await sim.generate([request])
    assert turn.usage is not None
    assert turn.usage.prompt_tokens == tiny_engine.count_tokens(prompt)


async def test_batched_equals_one_at_a_time_under_greedy(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    sim = _sim(tiny_engine)
    requests = requests_factory(6)
    batched = await sim.generate(requests)
    alone = [(await sim.generate([r]))[0] for r in requests]
    assert [t.text for t in batched] == [t.text for t in alone]
    assert [t.usage for t in batched] == [t.usage for t in alone]


async def test_sampling_is_reproducible_per_seed_whatever_the_batch(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    sim = _sim(tiny_engine, temperature=1.0)
    requests = requests_factory(6, seed=100)
    first = [t.text for t in await sim.generate(requests)]
    again = [t.text for t in await sim.generate(requests)]
    reordered = [t.text for t in await sim.generate(requests[::-1])][::-1]
    alone = [(await sim.generate([r]))[0].text for r in requests[:2]]
    assert first == again == reordered
    assert alone == first[:2]
    other_seeds = [dataclasses.replace(r, seed=r.seed + 1000) for r in requests]
    assert [t.text for t in await sim.generate(other_seeds)] != first


async def test_stop_marker_is_cut_and_never_returned(tiny_engine: Any) -> None:
    engine = tiny_engine
    generated = engine.tokenizer(" Answer: B [END] [USER] more", add_special_tokens=False)
    text, _, count = engine._decode(generated.input_ids, prompt_tokens=5)
    assert text == "Answer: B"
    eos = engine.tokenizer.eos_token_id
    text, _, count = engine._decode([*generated.input_ids[:3], eos, eos], prompt_tokens=5)
    assert count == 3
    assert "[END]" not in text


async def test_context_trimming_sets_the_flag(tiny_engine: Any, requests_factory: Requests) -> None:
    sim = _sim(tiny_engine, context_tokens=300, max_new_tokens=16)
    short, long_ = requests_factory(2)[1], requests_factory(2, long_history=True)[1]
    turns = await sim.generate([short, long_])
    assert [t.context_trimmed for t in turns] == [False, True]
    assert turns[1].usage is not None and turns[1].usage.prompt_tokens <= 300 - 16
    assert "[...]" in sim.describe_prompt(long_)


async def test_a_prompt_that_cannot_fit_fails_only_its_turn(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    sim = _sim(tiny_engine, context_tokens=80, max_new_tokens=8)
    with pytest.raises(BatchItemErrors) as info:
        await sim.generate(requests_factory(2))
    assert len(info.value.results) == 2
    assert all(isinstance(r, SimulatorError) for r in info.value.results)
    assert "budget" in str(info.value)


class _OOMModel:
    """Wraps the real model; raises CUDA out-of-memory for batches larger than ``limit``."""

    def __init__(self, model: Any, limit: int) -> None:
        self.model, self.limit, self.sizes = model, limit, []

    @property
    def device(self) -> Any:
        return self.model.device

    def generate(self, **kwargs: Any) -> Any:
        import torch

        size = int(kwargs["input_ids"].shape[0])
        self.sizes.append(size)
        if size > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.model.generate(**kwargs)


async def test_out_of_memory_splits_the_batch(tiny_engine: Any, requests_factory: Requests) -> None:
    requests = requests_factory(5)
    expected = [t.text for t in await _sim(tiny_engine).generate(requests)]
    engine = tiny_engine.with_options(tiny_engine.options)
    fake = _OOMModel(tiny_engine.model, limit=2)
    engine.model = fake
    turns = await HFSimulator(engine).generate(requests)
    assert [t.text for t in turns] == expected
    assert fake.sizes == [5, 2, 3, 1, 2]  # 5 fails -> 2 + 3; 3 fails -> 1 + 2
    assert engine.oom_splits == 2


async def test_out_of_memory_on_one_turn_is_a_simulator_error(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    engine = tiny_engine.with_options(tiny_engine.options)
    engine.model = _OOMModel(tiny_engine.model, limit=0)
    with pytest.raises(SimulatorError, match="out of GPU memory") as info:
        await HFSimulator(engine).generate(requests_factory(2))
    failed = getattr(info.value, "results", [info.value])
    assert all(type(f.__cause__).__name__ == "OutOfMemoryError" for f in failed)


async def test_generation_errors_are_translated(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    engine = tiny_engine.with_options(tiny_engine.options)

    class Broken:
        device = tiny_engine.model.device

        def generate(self, **kwargs: Any) -> Any:
            raise RuntimeError("CUDA error: device-side assert triggered")

    engine.model = Broken()
    with pytest.raises(SimulatorError, match="device-side assert") as info:
        await HFSimulator(engine, spec="hf:x").generate(requests_factory(1))
    assert isinstance(info.value.__cause__, RuntimeError)


async def test_generation_runs_off_the_event_loop(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    """The fake model calls back into the loop, then blocks until the loop answers: this
    completes only if generation runs on a worker thread while the loop stays free."""
    engine = tiny_engine.with_options(tiny_engine.options)
    started = anyio.Event()
    released = threading.Event()
    threads: list[int] = []

    class Blocking:
        device = tiny_engine.model.device

        def generate(self, **kwargs: Any) -> Any:
            threads.append(threading.get_ident())
            anyio.from_thread.run_sync(started.set)
            assert released.wait(timeout=5), "the event loop was blocked"
            return tiny_engine.model.generate(**kwargs)

    engine.model = Blocking()
    sim = HFSimulator(engine)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sim.generate, requests_factory(1))
        await started.wait()
        released.set()
    assert threads[0] != threading.get_ident()


async def test_one_generation_at_a_time(tiny_engine: Any, requests_factory: Requests) -> None:
    engine = tiny_engine.with_options(tiny_engine.options)
    active, peak = [0], [0]

    class Counting:
        device = tiny_engine.model.device

        def generate(self, **kwargs: Any) -> Any:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            try:
                return tiny_engine.model.generate(**kwargs)
            finally:
                active[0] -= 1

    engine.model = Counting()
    sim = HFSimulator(engine)
    async with anyio.create_task_group() as tg:
        for request in requests_factory(3):
            tg.start_soon(sim.generate, [request])
    assert peak[0] == 1


async def test_prompts_are_prepared_on_threads_while_a_batch_generates(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    # Trimming-heavy prompts are prepared (counted dozens of times each, on worker threads)
    # while the model generates on another: no "Already borrowed" from the shared tokenizer,
    # and the turns are those of the unprepared path.
    sim = _sim(tiny_engine, context_tokens=300, max_new_tokens=16)
    engine = sim.engine
    requests = requests_factory(24, long_history=True)
    expected = [t.text for t in await sim.generate(requests)]
    generating = threading.Event()

    class Slow:
        device = tiny_engine.model.device

        def generate(self, **kwargs: Any) -> Any:
            generating.set()
            return tiny_engine.model.generate(**kwargs)

    engine.model = Slow()
    async with anyio.create_task_group() as tg:
        tg.start_soon(sim.generate, requests[:8])  # a batch generating meanwhile
        prepared = [None] * len(requests)

        async def prepare(index: int) -> None:
            prepared[index] = await sim.prepare(requests[index])  # type: ignore[call-overload]

        for index in range(len(requests)):
            tg.start_soon(prepare, index)
    assert generating.is_set()
    assert all(p is not None and p.prepared is not None for p in prepared)
    assert [p.prepared[1] for p in prepared] == [bool(r.history) for r in requests]  # type: ignore[union-attr]
    turns = await sim.generate(prepared)  # type: ignore[arg-type]
    assert [t.text for t in turns] == expected
    assert [t.context_trimmed for t in turns] == [bool(r.history) for r in requests]


async def test_a_burst_of_preparations_never_holds_up_generation(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    # 60 turns arrive and their prompts are slow to build (blocked here); the running batch
    # must still get a worker thread (the default pool has 40).
    release = threading.Event()
    engine = tiny_engine.with_options(tiny_engine.options)
    build = engine.prompt

    def slow_prompt(request: UserTurnRequest) -> tuple[str, bool]:
        release.wait(timeout=10)
        return build(request)  # type: ignore[no-any-return]

    engine.prompt = slow_prompt
    sim = HFSimulator(engine)
    requests = requests_factory(2)
    async with anyio.create_task_group() as tg:
        for _ in range(60):
            tg.start_soon(sim.prepare, requests[0])
        await anyio.wait_all_tasks_blocked()
        ready = dataclasses.replace(requests[1], prepared=build(requests[1]))
        with anyio.fail_after(5):
            (turn,) = await sim.generate([ready])
        release.set()
    assert turn.text


async def test_a_turn_that_cannot_fit_fails_at_preparation(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    sim = _sim(tiny_engine, context_tokens=80, max_new_tokens=8)
    with pytest.raises(SimulatorError, match="budget"):
        await sim.prepare(requests_factory(1)[0])


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(MissingDependencyError) as info:
        create_hf_simulator("some/base+some/adapter", HFOptions())
    message = str(info.value)
    assert "chatsim[gpu]" in message
    assert "prompted:" in message and "served:" in message


def test_a_base_alone_loads_without_peft(tiny_model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatsim.simulators._hf_load import load_engine

    monkeypatch.setitem(sys.modules, "peft", None)  # `import peft` fails: as if not installed
    engine = load_engine(str(tiny_model.base), HFOptions(max_new_tokens=4, context_tokens=1024))
    assert type(engine.model).__name__ == "MistralForCausalLM"  # no PeftModel around it
    with pytest.raises(MissingDependencyError, match=r"chatsim\[gpu\]"):
        load_engine(f"{tiny_model.base}+{tiny_model.adapter}", HFOptions())


def test_default_spec_without_cuda_is_an_actionable_config_error() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="needs a CUDA GPU") as info:
        create_hf_simulator("", HFOptions())
    assert "served:" in str(info.value)


def test_large_model_config_without_cuda_is_refused(tmp_path: Any) -> None:
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    transformers.MistralConfig().save_pretrained(tmp_path)  # Mistral-7B shape, no weights
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        create_hf_simulator(str(tmp_path), HFOptions())


def test_estimate_parameters_of_mistral_7b() -> None:
    transformers = pytest.importorskip("transformers")
    from chatsim.simulators._hf_load import estimate_parameters

    assert 6.5e9 < estimate_parameters(transformers.MistralConfig()) < 7.5e9


def test_options_and_spec_validation() -> None:
    assert parse_hf_spec("") == tuple(DEFAULT_HF_SPEC_REST.split("+"))
    assert parse_hf_spec("/m/base + /m/lora") == ("/m/base", "/m/lora")
    assert parse_hf_spec("/m/merged") == ("/m/merged", None)
    with pytest.raises(ConfigError, match="hf:<base>"):
        parse_hf_spec("base+")
    with pytest.raises(ConfigError, match="context_tokens"):
        HFOptions(context_tokens=256, max_new_tokens=256)
    with pytest.raises(ConfigError, match="dtype"):
        HFOptions(dtype="int3")
    assert HFOptions().torch_dtype_name(cuda=True) == "bfloat16"
    assert HFOptions().torch_dtype_name(cuda=False) == "float32"
    assert HFOptions(dtype="fp16").torch_dtype_name(cuda=False) == "float16"


def test_a_chat_format_is_refused(tiny_model: Any) -> None:
    options = HFOptions(prompt_format="chatbench-chat-v1")
    with pytest.raises(ConfigError, match="text format"):
        create_hf_simulator(f"{tiny_model.base}+{tiny_model.adapter}", options)


@pytest.mark.gpu
async def test_tiny_model_on_cuda_in_bf16(tiny_model: Any, requests_factory: Requests) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    options = HFOptions(max_new_tokens=16, temperature=0.0)
    sim = create_hf_simulator(f"{tiny_model.base}+{tiny_model.adapter}", options)
    assert sim.engine.model.device.type == "cuda"
    turns = await sim.generate(requests_factory(4))
    assert all("[END]" not in t.text for t in turns)
    await sim.aclose()


def test_sampling_noise_is_finite_at_the_edges_of_the_hash_range() -> None:
    torch = pytest.importorskip("torch")
    from chatsim.simulators._hf_sampling import _P, open_unit

    u = open_unit(torch.tensor([0, 1, _P - 1, _P], dtype=torch.int64))
    assert bool(((u > 0) & (u < 1)).all())
    assert bool(torch.isfinite(-torch.log(-torch.log(u))).all())


class _OneTooBig(_OOMModel):
    """Out of memory whenever the batch holds the longest prompt (``width`` tokens)."""

    def generate(self, **kwargs: Any) -> Any:
        import torch

        ids = kwargs["input_ids"]
        self.sizes.append(int(ids.shape[0]))
        if int(ids.shape[1]) >= self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory.")
        return self.model.generate(**kwargs)


async def test_out_of_memory_on_one_turn_fails_only_that_turn(
    tiny_engine: Any, requests_factory: Requests
) -> None:
    from chatsim.simulators import BatchItemErrors
    from chatsim.simulators._contract import UserTurnRequest

    short = requests_factory(3)
    q = short[0].question
    long_q = q.model_copy(update={"stem": q.stem + " and more" * 60})
    big = UserTurnRequest("big", long_q, (), short[0].step, seed=9)
    engine = tiny_engine.with_options(tiny_engine.options)
    width = int(engine.tokenizer(engine.prompt(big)[0], return_tensors="pt").input_ids.shape[1])
    engine.model = _OneTooBig(tiny_engine.model, limit=width)
    with pytest.raises(BatchItemErrors) as info:
        await HFSimulator(engine).generate([*short[:2], big, short[2]])
    outcomes = info.value.results
    assert [type(r).__name__ for r in outcomes] == [
        "UserTurn",
        "UserTurn",
        "SimulatorError",
        "UserTurn",
    ]
    assert "out of GPU memory" in str(outcomes[2])
