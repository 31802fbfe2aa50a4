"""Hugging Face MMLU loading: happy path (patched), offline, missing dependency."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from chatsim import DataError, MissingDependencyError, UnknownNameError
from chatsim.questions import load_dev_examples, load_hf_mmlu, load_questions

ROWS = [
    {
        "question": "Which planet is largest?",
        "subject": "astronomy",
        "choices": ["Mars", "Jupiter", "Venus", "Earth"],
        "answer": 1,
    },
    {
        "question": "What is a light-year?",
        "subject": "astronomy",
        "choices": ["time", "distance", "speed", "mass"],
        "answer": 1,
    },
    {
        "question": "Closest star?",
        "subject": "astronomy",
        "choices": ["Sun", "Sirius", "Vega", "Rigel"],
        "answer": 0,
    },
]


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """``datasets.load_dataset`` replaced by an in-memory dataset; records its calls."""
    calls: list[tuple[Any, ...]] = []

    def load_dataset(path: str, name: str, split: str) -> list[dict[str, Any]]:
        calls.append((path, name, split))
        return ROWS[:2] if split == "dev" else ROWS

    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_load_hf_mmlu(fake_hub: list[tuple[Any, ...]]) -> None:
    questions = load_hf_mmlu("astronomy")
    assert fake_hub == [("cais/mmlu", "astronomy", "test")]
    assert [q.id for q in questions] == [f"astronomy-test-{i}" for i in range(3)]
    assert questions[0].options == ("Mars", "Jupiter", "Venus", "Earth")
    assert [q.gold for q in questions] == ["B", "B", "A"]
    assert questions[0].source == "hf:cais/mmlu"


def test_front_door_routes_unbundled_subjects_to_hf(fake_hub: list[tuple[Any, ...]]) -> None:
    assert len(load_questions("astronomy")) == 3
    assert len(load_questions("hf:astronomy", limit=2)) == 2
    mixed = load_questions("college_math,astronomy")
    assert {q.subject for q in mixed} == {"college_mathematics", "astronomy"}
    assert sum(q.subject == "college_mathematics" for q in mixed) == 99  # still redux-ok
    assert {call[1] for call in fake_hub} == {"astronomy"}


def test_hf_prefix_forces_hub_for_bundled_subject(fake_hub: list[tuple[Any, ...]]) -> None:
    load_questions("hf:college_math")
    assert fake_hub == [("cais/mmlu", "college_mathematics", "test")]


def test_redux_selection_does_not_filter_hf_subjects(fake_hub: list[tuple[Any, ...]]) -> None:
    questions = load_questions("chatbench,astronomy", selection="redux")
    assert sum(q.subject == "astronomy" for q in questions) == 3
    assert len(questions) == 500 + 3


def test_dev_examples_from_hf(fake_hub: list[tuple[Any, ...]]) -> None:
    assert [q.id for q in load_dev_examples("astronomy")] == ["astronomy-dev-0", "astronomy-dev-1"]


def test_malformed_hf_row(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    bad = [{"question": "Q", "choices": ["a", "b"], "answer": 0}]
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: bad)
    with pytest.raises(DataError, match="row 0 is malformed"):
        load_hf_mmlu("astronomy")


def test_unknown_hf_subject() -> None:
    with pytest.raises(UnknownNameError, match="astronomy"):
        load_hf_mmlu("astrology")


def test_offline_hub_gives_actionable_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    datasets = pytest.importorskip("datasets")
    # The library reads these at import time; set them for an already imported module too.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_CACHE", str(tmp_path / "hub"), raising=False)
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError) as info:
        load_hf_mmlu("astronomy")
    message = str(info.value)
    assert "could not be reached" in message
    assert "local CSV or JSONL file" in message


def test_missing_datasets_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(MissingDependencyError, match=r"chatsim\[hf\]") as info:
        load_hf_mmlu("astronomy")
    assert info.value.extra == "hf"


def test_core_import_does_not_import_datasets() -> None:
    # A fresh interpreter would be the strict check; here: our modules hold no reference.
    import chatsim.questions._hf as hf_module

    assert not any(
        isinstance(v, types.ModuleType) and v.__name__ == "datasets"
        for v in vars(hf_module).values()
    )
