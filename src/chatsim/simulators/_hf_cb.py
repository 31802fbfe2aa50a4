"""Experimental: the local simulator on transformers' continuous-batching manager.

Not the default (see the benchmarks): selected with ``--simulator-option scheduler=continuous``
(``HFOptions.scheduler``), so that the two schedulers can be measured on the same model. A
long-lived ``ContinuousBatchingManager`` runs generation on its own thread; each user turn is
one request added to it, so turns join and leave the running batch token by token instead of
waiting for a whole ``generate`` call.

The manager stops only on EOS ids, not on stop strings, so each request streams its tokens
and the handler (delivered on the event loop) decodes the last few tokens, cancels the request
once ``[END]`` (or a turn label) appears, and cuts the text there. Limits compared with the
micro-batched backend: sampling uses the manager's one global seed (a turn's text is not
reproducible from its own seed), and there is no out-of-memory split (the manager sizes its
paged cache up front). The result handlers need asyncio (transformers' API); anyio's asyncio
backend provides it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any

import anyio
import anyio.to_thread

from chatsim._exceptions import SimulatorError
from chatsim._util._clock import Clock, MonotonicWallClock
from chatsim.protocol import clean_generated
from chatsim.recording._records import Usage
from chatsim.simulators._contract import SimulatorBackend, UserTurn, UserTurnRequest
from chatsim.simulators._hf_engine import HFEngine
from chatsim.simulators._hf_prompt import stop_strings

__all__ = ["ContinuousHFSimulator"]

_TAIL = 12  # tokens decoded per streamed step to look for a stop string


class ContinuousHFSimulator(SimulatorBackend):
    """One request per turn into a continuous-batching manager (module doc)."""

    batched = False
    max_batch_size = 1_000_000

    def __init__(
        self,
        engine: HFEngine,
        *,
        spec: str = "",
        clock: Clock | None = None,
        cb_config: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        self.engine = engine
        self.spec = spec or "hf-cb"
        self._clock = clock or MonotonicWallClock()
        self._cb_config = dict(cb_config or {})
        self._seed = seed
        self._manager: Any = None
        self._starting: anyio.Lock | None = None
        self._ids = itertools.count()
        self._stops = stop_strings(engine.format)

    def _start(self) -> Any:
        import transformers

        tok, options = self.engine.tokenizer, self.engine.options
        make_gen: Any = transformers.GenerationConfig
        sampling = {"do_sample": True, "temperature": options.temperature, "top_k": 0}
        generation = make_gen(
            max_new_tokens=options.max_new_tokens,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            **(sampling if options.temperature > 0 else {"do_sample": False}),
        )
        make_cb: Any = transformers.ContinuousBatchingConfig
        config = make_cb(seed=self._seed, **self._cb_config)
        manager = self.engine.model.init_continuous_batching(
            generation_config=generation, continuous_batching_config=config
        )
        manager.start()
        return manager

    async def generate(self, requests: Sequence[UserTurnRequest]) -> list[UserTurn]:
        if not requests:
            return []
        if self._manager is None:
            # One manager for all: concurrent first calls must not each start one.
            self._starting = self._starting or anyio.Lock()
            async with self._starting:
                if self._manager is None:
                    self._manager = await anyio.to_thread.run_sync(self._start)
        asked = self._clock.now()
        prepared = await anyio.to_thread.run_sync(self._prepare, list(requests))
        loop = asyncio.get_running_loop()
        futures = [self._submit(ids, loop) for ids, _ in prepared]
        started = self._clock.now()
        outputs = await asyncio.gather(*futures)
        ended = self._clock.now()
        turns = []
        for (ids, trimmed), (text, count) in zip(prepared, outputs, strict=True):
            usage = Usage(prompt_tokens=len(ids), completion_tokens=count)
            turns.append(
                UserTurn(text, usage, started, ended, started - asked, context_trimmed=trimmed)
            )
        return turns

    def _prepare(self, requests: list[UserTurnRequest]) -> list[tuple[list[int], bool]]:
        out = []
        for request in requests:
            prompt, trimmed = self.engine.prompt(request)
            out.append((list(self.engine.tokenizer(prompt).input_ids), trimmed))
        return out

    def _submit(self, ids: list[int], loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
        manager, tok, fmt = self._manager, self.engine.tokenizer, self.engine.format
        request_id = f"turn-{next(self._ids)}"
        future: asyncio.Future[tuple[str, int]] = loop.create_future()

        def on_output(output: Any) -> None:
            if future.done():
                return
            tokens = output.generated_tokens
            if output.error:
                future.set_exception(SimulatorError(f"generation failed: {output.error}"))
                return
            tail = tok.decode(tokens[-_TAIL:], skip_special_tokens=True)
            stopped = any(stop in tail for stop in self._stops)
            if stopped or output.is_finished():
                if stopped:
                    manager.cancel_request(request_id)
                    manager.output_router.result_handlers.pop(request_id, None)
                text = tok.decode(tokens, skip_special_tokens=True)
                ends = {tok.eos_token_id, tok.pad_token_id}
                count = next((i for i, t in enumerate(tokens) if t in ends), len(tokens))
                future.set_result((clean_generated(text, fmt.stop, fmt.labels), count))

        manager.register_result_handler(request_id, on_output)
        manager.add_request(
            ids,
            request_id=request_id,
            max_new_tokens=self.engine.options.max_new_tokens,
            streaming=True,
        )
        return future

    async def aclose(self) -> None:
        manager, self._manager = self._manager, None
        if manager is not None:
            await anyio.to_thread.run_sync(lambda: manager.stop(block=True, timeout=10))
