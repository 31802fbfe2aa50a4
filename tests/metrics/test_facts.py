"""The facts path: one columnar row per episode, and summaries and comparisons computed from
the columns that are exactly (bit for bit) those the record walks computed."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from facts_kit import PRICES, baseline, episodes, results, stems
from run_kit import write_run

from chatsim.metrics import (
    FACTS_SCHEMA,
    FACTS_VERSION,
    RunFacts,
    compare,
    compare_facts,
    episode_facts,
    facts_table,
    summarize,
    summarize_facts,
)
from chatsim.recording import read_run

GOLDEN = Path(__file__).parent / "data" / "facts_golden.json.gz"


@pytest.fixture(scope="module")
def records() -> list[Any]:
    return episodes()


@pytest.fixture(scope="module")
def expected(records: list[Any]) -> Any:
    return summarize(records, stems=stems(), prices=PRICES, resamples=200)


def _differences(got: Any, want: Any, path: str = "") -> list[str]:
    """Where ``got`` is not ``want``: exactly, except floats under a ``latency`` key, which
    may differ by float32's rounding (the facts keep per-call times in float32)."""
    if isinstance(want, dict) and isinstance(got, dict):
        if got.keys() != want.keys():
            return [f"{path}: keys {sorted(got)} != {sorted(want)}"]
        return [d for k in want for d in _differences(got[k], want[k], f"{path}/{k}")]
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items != {len(want)}"]
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in _differences(g, w, f"{path}/{i}")
        ]
    latency = "/latency/" in f"{path}/"
    if latency and isinstance(want, float) and isinstance(got, float):
        return (
            [] if got == pytest.approx(want, rel=1e-6, abs=1e-9) else [f"{path}: {got} != {want}"]
        )
    return [] if got == want and type(got) is type(want) else [f"{path}: {got!r} != {want!r}"]


def test_summaries_and_comparisons_equal_the_record_walks_golden_figures() -> None:
    # The golden file was written by the record-walking implementation that preceded the
    # facts (``python tests/metrics/facts_kit.py OUT``): every figure to the last bit, but
    # the latency figures, to float32's precision (FACTS_VERSION 2 keeps per-call times so).
    golden = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    got = results(summarize, compare)
    assert _differences(got, golden) == []
    assert got != golden  # the latency figures are rounded: the comparison above is needed


def test_the_golden_comparison_sees_a_changed_figure() -> None:
    golden = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    changed = json.loads(json.dumps(golden))
    model = next(iter(changed["default"]["models"].values()))
    model["accuracy"] += 1e-12
    model["latency"]["e2e_sent"]["p50"] *= 1.001
    assert len(_differences(changed, golden)) == 2


def test_schema_and_rows_agree(records: list[Any]) -> None:
    assert FACTS_SCHEMA.names[0] == "episode_id"
    assert isinstance(FACTS_VERSION, int)
    row = episode_facts(records[0], "a stem")
    assert list(row) == FACTS_SCHEMA.names
    table = facts_table(records, stems())
    assert table.schema == FACTS_SCHEMA
    assert table.num_rows == len(records)
    assert table["episode_id"].to_pylist() == [r.episode_id for r in records]


def test_copying_is_checked_only_where_the_stem_was_known(records: list[Any]) -> None:
    without = facts_table(records[:20])
    assert without["copied_question"].null_count == 20
    with_stems = facts_table(records[:20], stems())
    assert with_stems["copied_question"].null_count < 20


def test_parquet_round_trip_and_rechunked_tables_give_the_same_summary(
    records: list[Any], expected: Any, tmp_path: Path
) -> None:
    # A cache stores the facts; tables come back in chunks whose dictionaries differ.
    path = tmp_path / "facts.parquet"
    pq.write_table(facts_table(records, stems()), path, row_group_size=57)
    read = pq.read_table(path)
    chunked = pa.concat_tables(
        [facts_table(records[:150], stems()), facts_table(records[150:], stems())]
    )
    plain = facts_table(records, stems()).cast(
        pa.schema(
            [
                pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
                for f in FACTS_SCHEMA
            ]
        )
    )
    for table in (read, chunked, plain):
        assert summarize_facts(table, prices=PRICES, resamples=200) == expected


def test_a_slice_of_the_table_is_the_summary_of_its_records(records: list[Any]) -> None:
    table = facts_table(records, stems())
    assert summarize_facts(table.slice(50, 200), prices=PRICES, resamples=200) == summarize(
        records[50:250], stems=stems(), prices=PRICES, resamples=200
    )


def test_no_episodes() -> None:
    assert summarize_facts(FACTS_SCHEMA.empty_table(), models=["m"]) == summarize([], models=["m"])


def test_baseline_and_models_pass_through(records: list[Any]) -> None:
    table = facts_table(records)
    s = summarize_facts(table, models=["first"], baseline=baseline(), resamples=100)
    assert next(iter(s.models)) == "first"
    assert s.models["first"].episodes == 0
    assert {r.mode for r in s.baseline} == {"zero_shot", "free_text"}


def test_compare_facts_equals_compare_of_run_directories(
    records: list[Any], tmp_path: Path
) -> None:
    a = [ep for ep in records if ep.condition == "direct-to-AI" and ep.model.startswith("openai")]
    b = [ep.model_copy(update={"model": "m2"}) for ep in a[::-1]]
    runs = [read_run(write_run(tmp_path / n, eps)) for n, eps in (("ra", a), ("rb", b))]
    facts = [RunFacts(r.path.name, r.header, facts_table(r.episodes)) for r in runs]
    got = compare_facts(facts, resamples=200)
    assert got == compare(runs, resamples=200)
    assert got.runs == ["ra", "rb"]
    assert got.pairs[0].paired_episodes == sum(not ep.termination.is_error for ep in a)


def test_question_rows_built_from_counts_equal_validated_rows() -> None:
    from chatsim.metrics._question_facts import question_row
    from chatsim.metrics._questions import QuestionRow

    values: dict[str, Any] = {
        "model": "m", "question_id": "q1", "subject": "s", "gold": "B", "episodes": 3,
        "scored": 2, "correct": 1, "accuracy": 0.5, "invalid": 0, "errors": 1,
        "answers": {"A": 1, "B": 1}, "majority": "A",
    }  # fmt: skip
    shuffled = dict(reversed(values.items()))  # any order in, the fields' order out
    fast, checked = question_row(**shuffled), QuestionRow(**values)
    assert fast == checked
    assert fast.model_dump_json() == checked.model_dump_json()
    assert fast.model_fields_set == checked.model_fields_set == set(QuestionRow.model_fields)
    assert fast.model_copy(update={"correct": 2}).correct == 2
    assert fast.model_dump(exclude_unset=True) == checked.model_dump(exclude_unset=True)
