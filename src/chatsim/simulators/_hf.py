"""The fine-tuned user simulator on a local GPU: ``--simulator hf:<base>+<adapter>``.

The ChatBench LoRA (``microsoft/chatbench-mistral-7b`` on ``mistralai/Mistral-7B-v0.1``) plays
the users of many episodes at once. Episodes await one turn each through a ``MicroBatcher``,
which hands this backend batches; each batch is one ``model.generate`` call on a worker thread,
one at a time (a lock), so the event loop keeps serving target HTTP traffic meanwhile.

Reproducibility: greedy decoding (temperature 0) is exact. With sampling, each turn is drawn
with noise derived from its own seed only (``_hf_sampling``), so a seed gives the same turn
whatever batch it lands in, up to floating-point differences of batched kernels.

Context: prompts longer than ``context_tokens - max_new_tokens`` are shortened by the
protocol's ``fit_history`` rule and the turn is marked ``context_trimmed``. Prompts are built
(and trimmed: a dozen tokenizations of a long prompt) by ``prepare`` as each turn reaches the
micro-batcher, on worker threads, so that work overlaps the running batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from chatsim._exceptions import ChatsimError, SimulatorError
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim.recording._records import Usage
from chatsim.simulators._batcher import BatchItemErrors
from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest
from chatsim.simulators._hf_engine import Generated, HFEngine
from chatsim.simulators._hf_options import DEFAULT_HF_SPEC_REST, HFOptions

if TYPE_CHECKING:
    from chatsim.simulators._hf_cb import ContinuousHFSimulator

__all__ = ["HFOptions", "HFSimulator", "create_hf_simulator"]


class HFSimulator(SimulatorBackend):
    """transformers + peft on a local GPU (or a CPU, for tiny models)."""

    batched = True

    def __init__(
        self,
        engine: HFEngine,
        *,
        spec: str = "",
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.options = engine.options
        self.spec = spec or f"hf:{DEFAULT_HF_SPEC_REST}"
        self.max_batch_size = engine.options.max_batch_size
        self._clock = clock or MonotonicWallClock()
        self._lock: anyio.Lock | None = None  # created on first use, inside the event loop
        # Prompt building holds one thread at a time (the engine's counting tokenizer is
        # locked anyway): on its own limiter it never queues generation behind a burst.
        self._preparing: anyio.CapacityLimiter | None = None
        #: Seconds spent inside ``generate`` calls on the worker thread, for busy-time stats.
        self.busy_seconds = 0.0

    async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
        if not requests:
            return []
        if self._lock is None:
            self._lock = anyio.Lock()
        asked = self._clock.now()
        async with self._lock:
            started = self._clock.now()
            try:
                generated = await anyio.to_thread.run_sync(self.engine.run, list(requests))
            except ChatsimError:
                raise
            except Exception as exc:  # torch/transformers errors, translated at this boundary
                raise SimulatorError(f"simulator {self.spec} failed: {exc}") from exc
            finally:
                ended = self._clock.now()
                self.busy_seconds += ended - started
        results = [
            g if isinstance(g, SimulatorError) else _turn(g, started, ended, started - asked)
            for g in generated
        ]
        turns = [r for r in results if isinstance(r, UserTurn)]
        if len(turns) < len(results):
            raise BatchItemErrors(results)  # only the turns that could not fit fail
        return turns

    async def prepare(self, request: UserTurnRequest) -> UserTurnRequest:
        """Build (and trim) the prompt on a worker thread, outside the generation lock."""
        if request.prepared is not None:
            return request
        if self._preparing is None:
            self._preparing = anyio.CapacityLimiter(1)
        try:
            prepared = await anyio.to_thread.run_sync(
                self.engine.prompt, request, limiter=self._preparing
            )
        except ChatsimError:
            raise
        except Exception as exc:  # tokenizer errors, translated at this boundary
            raise SimulatorError(f"simulator {self.spec} failed: {exc}") from exc
        return dataclasses.replace(request, prepared=prepared)

    def describe_prompt(self, request: UserTurnRequest) -> str:
        prompt, _ = self.engine.prompt(request)
        return prompt

    async def aclose(self) -> None:
        # Drop the model so that its GPU memory can be reused by whatever runs next.
        self.engine.model = None
        try:
            import torch
        except ImportError:  # pragma: no cover
            return
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _turn(generated: Generated, started: float, ended: float, waited: float) -> UserTurn:
    return UserTurn(
        text=generated.text,
        usage=Usage(
            prompt_tokens=generated.prompt_tokens, completion_tokens=generated.completion_tokens
        ),
        started_at=started,
        ended_at=ended,
        queue_time=waited,
        context_trimmed=generated.trimmed,
    )


# The continuous-batching manager sizes its paged cache from 60% of RAM unless told: on a CPU
# (tests, trials) a small cache keeps its dense masks (batch tokens x cache tokens) cheap.
_CPU_CB_CONFIG = {"num_blocks": 64, "page_size": 64, "max_batch_tokens": 512,
                  "max_requests_per_batch": 16, "use_cuda_graph": False,
                  "allow_block_sharing": False}  # fmt: skip


def create_hf_simulator(
    spec_rest: str, options: HFOptions | None = None, *, clock: Clock | None = None
) -> HFSimulator | ContinuousHFSimulator:
    """Load ``<base>+<adapter>`` (paths or hub ids; empty: the model card's) as a simulator:
    micro-batched (``HFSimulator``), or continuous batching with ``scheduler="continuous"``.

    Blocking (loads weights). Raises ``MissingDependencyError`` without the ``gpu`` extra and
    ``ConfigError`` for a large model without a CUDA GPU.
    """
    from chatsim.simulators._hf_load import load_engine

    rest = spec_rest.strip() or DEFAULT_HF_SPEC_REST
    options = options or HFOptions()
    engine = load_engine(rest, options)
    if options.scheduler == "continuous":
        from chatsim.simulators._hf_cb import ContinuousHFSimulator

        on_cpu = str(engine.model.device).startswith("cpu")
        cb_config = _CPU_CB_CONFIG if on_cpu else None
        return ContinuousHFSimulator(engine, spec=f"hf:{rest}", clock=clock, cb_config=cb_config)
    return HFSimulator(engine, spec=f"hf:{rest}", clock=clock)
