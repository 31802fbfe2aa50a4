"""The AI-alone baseline: each model answers the questions on its own (ChatBench's headline)."""

from chatsim.baseline._records import BASELINE_FILE, BaselineMode, BaselineRecord, read_baseline

__all__ = ["BASELINE_FILE", "BaselineMode", "BaselineRecord", "read_baseline"]
