"""The synchronous half of the local simulator: prompts in, user turns out, on a worker thread.

Everything here blocks (tokenising, ``model.generate``, decoding) and runs off the event loop
(``HFSimulator`` calls it through ``anyio.to_thread``). A CUDA out-of-memory error splits the
batch in halves and retries each half, down to single turns, instead of failing the episodes.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatsim._exceptions import SimulatorError
from chatsim.protocol import PromptFormat, clean_generated
from chatsim.simulators._contract import UserTurnRequest
from chatsim.simulators._hf_options import HFOptions
from chatsim.simulators._hf_prompt import build_prompt, stop_strings
from chatsim.simulators._hf_sampling import SeededGumbelSampler

__all__ = ["Generated", "HFEngine"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Generated:
    """One generated user turn, before timing is attached."""

    text: str
    """Cleaned text (stop marker and anything after it cut)."""
    prompt_tokens: int
    completion_tokens: int
    """Tokens generated up to the stop (the stop included; EOS and padding not)."""
    trimmed: bool
    """The prompt was shortened to fit the context."""


class HFEngine:
    """A loaded model + tokenizer that generates batches of user turns (blocking)."""

    def __init__(self, model: Any, tokenizer: Any, options: HFOptions, fmt: PromptFormat) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.options = options
        self.format = fmt
        self._stops = stop_strings(fmt)
        # Prompts are built (counted, trimmed) on other threads while a batch generates. Fast
        # tokenizers are not safe to share across threads (each call may reset padding, a
        # mutable borrow: "Already borrowed"), so counting has its own copy, and its lock.
        self._counter = copy.deepcopy(tokenizer)
        self._counting = threading.Lock()
        #: How many times a batch was split after running out of memory (for stats and tests).
        self.oom_splits = 0

    def with_options(self, options: HFOptions) -> HFEngine:
        """The same loaded model and tokenizer under other options (no reload)."""
        return HFEngine(self.model, self.tokenizer, options, self.format)

    def with_format(self, fmt: PromptFormat) -> HFEngine:
        """The same loaded model and tokenizer with another prompt format."""
        return HFEngine(self.model, self.tokenizer, self.options, fmt)

    # -- prompts ---------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as the model sees it (BOS included). Thread-safe."""
        with self._counting:
            return len(self._counter(text).input_ids)

    def prompt(self, request: UserTurnRequest) -> tuple[str, bool]:
        """The (possibly trimmed) prompt for one request, and whether it was trimmed.

        Raises ``SimulatorError`` when even the trimmed prompt is over budget (the question
        and the user's own messages alone are too long: the protocol never trims those).
        """
        budget = self.options.prompt_budget
        prompt, trimmed = build_prompt(
            self.format, request, count_tokens=self.count_tokens, budget=budget
        )
        if (size := self.count_tokens(prompt)) > budget:
            raise SimulatorError(
                f"the simulator prompt needs {size} tokens even with every assistant reply "
                f"trimmed, over the budget of {budget} (context_tokens - max_new_tokens)"
            )
        return prompt, trimmed

    # -- generation ------------------------------------------------------------------------

    def run(self, requests: Sequence[UserTurnRequest]) -> list[Generated | SimulatorError]:
        """Generate one turn per request, in order, in batches of at most ``max_batch_size``.

        A request whose prompt cannot fit gets its ``SimulatorError`` in its place; the
        others are generated as usual.
        """
        out: list[Generated | SimulatorError] = []
        ready: list[tuple[int, str, bool, int]] = []  # (position, prompt, trimmed, seed)
        for position, request in enumerate(requests):
            try:
                prompt, trimmed = request.prepared or self.prompt(request)
            except SimulatorError as exc:
                out.append(exc)
                continue
            out.append(SimulatorError("not generated"))  # placeholder, replaced below
            ready.append((position, prompt, trimmed, request.seed))
        size = self.options.max_batch_size
        for start in range(0, len(ready), size):
            chunk = ready[start : start + size]
            raw = self._split_on_oom([c[1] for c in chunk], [c[3] for c in chunk])
            for (position, _, trimmed, _), result in zip(chunk, raw, strict=True):
                if isinstance(result, SimulatorError):
                    out[position] = result  # only this turn fails; the rest of the batch stands
                else:
                    text, n_prompt, n_done = result
                    out[position] = Generated(text, n_prompt, n_done, trimmed)
        return out

    def _split_on_oom(
        self, prompts: list[str], seeds: list[int]
    ) -> list[tuple[str, int, int] | SimulatorError]:
        import torch

        try:
            return list(self.generate_batch(prompts, seeds))
        except torch.OutOfMemoryError as exc:
            if len(prompts) == 1:
                error = SimulatorError(
                    "the simulator ran out of GPU memory on a single turn; lower "
                    "context_tokens/max_new_tokens or load in 8 bits"
                )
                error.__cause__ = exc
                return [error]
        # Outside the except block, so the traceback (and its tensors) can be freed first.
        self.oom_splits += 1
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = len(prompts) // 2
        log.warning(
            "out of GPU memory at batch %d; retrying as %d + %d",
            len(prompts),
            half,
            len(prompts) - half,
        )
        return self._split_on_oom(prompts[:half], seeds[:half]) + self._split_on_oom(
            prompts[half:], seeds[half:]
        )

    def generate_batch(self, prompts: list[str], seeds: list[int]) -> list[tuple[str, int, int]]:
        """One ``model.generate`` call: (cleaned text, prompt tokens, completion tokens) each."""
        import torch
        import transformers

        tok = self.tokenizer
        batch = tok(prompts, return_tensors="pt", padding=True).to(self.model.device)
        width = int(batch.input_ids.shape[1])
        processors = transformers.LogitsProcessorList()
        if self.options.temperature > 0:
            processors.append(SeededGumbelSampler(seeds, self.options.temperature, width))
        # A fresh config: the checkpoint's own generation config must not leak sampling knobs.
        make_config: Any = transformers.GenerationConfig  # untyped in transformers
        config = make_config(
            max_new_tokens=self.options.max_new_tokens,
            do_sample=False,
            stop_strings=self._stops,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
        )
        with torch.inference_mode():
            output = self.model.generate(
                **batch, generation_config=config, logits_processor=processors, tokenizer=tok
            )
        new = output[:, width:].tolist()
        prompt_counts = batch.attention_mask.sum(dim=1).tolist()
        return [
            self._decode(row, int(count)) for row, count in zip(new, prompt_counts, strict=True)
        ]

    def _decode(self, tokens: list[int], prompt_tokens: int) -> tuple[str, int, int]:
        ends = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        length = next((i for i, t in enumerate(tokens) if t in ends), len(tokens))
        text = self.tokenizer.decode(tokens[:length], skip_special_tokens=True)
        return clean_generated(text, self.format.stop, self.format.labels), prompt_tokens, length
