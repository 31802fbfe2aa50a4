"""The AI-alone baseline: each model answers the questions on its own (ChatBench's headline).

``run_baseline(questions, callers, modes, repeats, writer)`` records ``BaselineRecord``s to
``baseline.jsonl``; ``chatsim.metrics.summarize(..., baseline=records)`` puts AI-alone next to
user–AI accuracy with the paired gap.
"""

from chatsim.baseline._prompts import LETTER_ONLY_INSTRUCTION, baseline_messages, extract_answer
from chatsim.baseline._records import BASELINE_FILE, BaselineMode, BaselineRecord, read_baseline
from chatsim.baseline._run import ALL_MODES, BaselineWriter, baseline_key, run_baseline

__all__ = [
    "ALL_MODES",
    "BASELINE_FILE",
    "LETTER_ONLY_INSTRUCTION",
    "BaselineMode",
    "BaselineRecord",
    "BaselineWriter",
    "baseline_key",
    "baseline_messages",
    "extract_answer",
    "read_baseline",
    "run_baseline",
]
