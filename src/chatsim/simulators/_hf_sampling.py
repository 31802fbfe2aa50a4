"""Per-request seeded sampling that does not depend on what else is in the batch.

``generate(do_sample=True)`` draws from torch's one global generator, so a turn's text would
depend on which other turns shared its batch. Instead we decode greedily over
``logits / T + g``, where ``g`` is Gumbel noise computed from a counter-based hash of
(request seed, generation step, token id). By the Gumbel-max trick the argmax is an exact draw
from ``softmax(logits / T)``, and the noise is a pure function of the request: the same seed
gives the same text whatever the batch around it (up to floating-point differences of batched
kernels, which on GPUs in bf16 can rarely flip a near-tie). Greedy decoding (T = 0) uses none
of this and is exact.

The hash keeps every intermediate below 2**62 (31-bit values times 31-bit constants), so int64
arithmetic never overflows and CPU and CUDA compute the same noise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

__all__ = ["SeededGumbelSampler", "seed31"]

_P = 2_147_483_647  # 2**31 - 1, prime
_MULTIPLIERS = (48_271, 69_621, 16_807, 40_692)


def seed31(seed: int) -> int:
    """A request seed of any size mixed down to [1, 2**31 - 1)."""
    digest = hashlib.blake2b(seed.to_bytes(16, "little", signed=True), digest_size=8).digest()
    return int.from_bytes(digest, "little") % (_P - 1) + 1


def _mix(x: Any) -> Any:
    """A few rounds of multiply-mod-prime and xor-shift on an int64 tensor in [0, P)."""
    for multiplier in _MULTIPLIERS:
        x = (x * multiplier + 12_345) % _P
        x = x ^ (x >> 15)
    return x


def gumbel_noise(seeds: Any, step: int, vocab: int) -> Any:
    """Gumbel(0, 1) noise of shape (len(seeds), vocab), a pure function of its arguments.

    ``seeds`` is an int64 tensor of ``seed31`` values on the target device.
    """
    import torch

    row = _mix((seeds + step * 7_919) % _P)
    tokens = torch.arange(vocab, device=seeds.device, dtype=torch.int64)
    h = _mix((row[:, None] + tokens[None, :] * 104_729) % _P)
    return -torch.log(-torch.log(open_unit(h)))


def open_unit(h: Any) -> Any:
    """Hash values in [0, _P] -> floats strictly inside (0, 1).

    ``h`` can equal ``_P`` itself (the mix is not reduced after its last round), hence the
    ``_P + 1``: a u of 1 or more would make the noise NaN, and a NaN wins every argmax.
    """
    import torch

    return (h.to(torch.float64) + 0.5) / (_P + 1)


class SeededGumbelSampler:
    """A logits processor that turns greedy decoding into seeded sampling at ``temperature``.

    ``prompt_length`` is the padded prompt length of the batch, so that ``step`` counts
    generated tokens only (the same for every row, whatever the padding).
    """

    def __init__(self, seeds: Sequence[int], temperature: float, prompt_length: int) -> None:
        if temperature <= 0:
            raise ValueError("SeededGumbelSampler needs temperature > 0; use greedy decoding")
        self.seeds = [seed31(s) for s in seeds]
        self.temperature = temperature
        self.prompt_length = prompt_length
        self._tensor: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self._tensor is None or self._tensor.device != scores.device:
            self._tensor = torch.tensor(self.seeds, dtype=torch.int64, device=scores.device)
        step = int(input_ids.shape[1]) - self.prompt_length
        noise = gumbel_noise(self._tensor, step, int(scores.shape[-1]))
        warped = scores.to(torch.float32) / self.temperature + noise.to(torch.float32)
        # Keep tokens the model ruled out (e.g. -inf from other processors) ruled out.
        return warped.masked_fill(torch.isneginf(scores), float("-inf"))
