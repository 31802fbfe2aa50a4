"""compare lists models in the order the run asked for them, not the order they finished."""

from __future__ import annotations

from pathlib import Path

from records_kit import episode
from run_kit import write_run

from chatsim.metrics import compare
from chatsim.recording import read_run


def test_pairs_follow_the_runs_model_order_not_the_finish_order(tmp_path: Path) -> None:
    # "fast" finished its episodes first, but the run was asked for --model slow --model fast.
    eps = [episode("fast", f"q{i}", correct=False) for i in range(4)]
    eps += [episode("slow", f"q{i}", correct=True) for i in range(4)]
    run = read_run(write_run(tmp_path / "r", eps, models=("slow", "fast")))
    comparison = compare([run])
    assert comparison.models == ["slow", "fast"]
    assert (comparison.pairs[0].a, comparison.pairs[0].b) == ("slow", "fast")
