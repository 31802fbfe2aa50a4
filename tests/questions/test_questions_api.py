"""The questions package exports exactly the names we mean; its data ships in the package."""

from __future__ import annotations

from importlib import resources

import chatsim.questions as questions


def test_public_names() -> None:
    assert set(questions.__all__) == {
        "CHATBENCH_SUBJECTS",
        "DEFAULT_SELECTION",
        "LETTERS",
        "MMLU_SUBJECTS",
        "SELECTIONS",
        "SUBSET_ALIASES",
        "Question",
        "load_dev_examples",
        "load_hf_mmlu",
        "load_question_file",
        "load_questions",
        "resolve_subset",
    }


def test_attribution_and_readme_ship_with_the_data() -> None:
    data = resources.files("chatsim.questions").joinpath("data")
    attribution = data.joinpath("ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "MIT" in attribution
    assert "CC BY 4.0" in attribution
    assert data.joinpath("mmlu", "README_mmlu_release.txt").is_file()
