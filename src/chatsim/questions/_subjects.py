"""Subject names and subset aliases."""

from __future__ import annotations

from chatsim._exceptions import UnknownNameError

__all__ = ["CHATBENCH_SUBJECTS", "MMLU_SUBJECTS", "SUBSET_ALIASES", "resolve_subset"]

#: The five subjects ChatBench used; they ship inside the package.
CHATBENCH_SUBJECTS: tuple[str, ...] = (
    "elementary_mathematics",
    "high_school_mathematics",
    "college_mathematics",
    "conceptual_physics",
    "moral_scenarios",
)

#: The 57 subjects of MMLU (``cais/mmlu`` configuration names).
MMLU_SUBJECTS: tuple[str, ...] = (
    "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge",
    "college_biology", "college_chemistry", "college_computer_science", "college_mathematics",
    "college_medicine", "college_physics", "computer_security", "conceptual_physics",
    "econometrics", "electrical_engineering", "elementary_mathematics", "formal_logic",
    "global_facts", "high_school_biology", "high_school_chemistry",
    "high_school_computer_science", "high_school_european_history", "high_school_geography",
    "high_school_government_and_politics", "high_school_macroeconomics",
    "high_school_mathematics", "high_school_microeconomics", "high_school_physics",
    "high_school_psychology", "high_school_statistics", "high_school_us_history",
    "high_school_world_history", "human_aging", "human_sexuality", "international_law",
    "jurisprudence", "logical_fallacies", "machine_learning", "management", "marketing",
    "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
    "philosophy", "prehistory", "professional_accounting", "professional_law",
    "professional_medicine", "professional_psychology", "public_relations",
    "security_studies", "sociology", "us_foreign_policy", "virology", "world_religions",
)  # fmt: skip

#: Friendly names for one or more subjects.
SUBSET_ALIASES: dict[str, tuple[str, ...]] = {
    "elementary_math": ("elementary_mathematics",),
    "high_school_math": ("high_school_mathematics",),
    "college_math": ("college_mathematics",),
    "conceptual_physics": ("conceptual_physics",),
    "moral_scenarios": ("moral_scenarios",),
    "math": ("elementary_mathematics", "high_school_mathematics", "college_mathematics"),
    "chatbench": CHATBENCH_SUBJECTS,
}


def valid_subset_names() -> tuple[str, ...]:
    """Aliases first, then every MMLU subject."""
    return (*SUBSET_ALIASES, *sorted(set(MMLU_SUBJECTS) - set(SUBSET_ALIASES)))


def resolve_subset(name: str) -> tuple[str, ...]:
    """Subjects named by ``name``: an alias, an MMLU subject, or a comma-separated list.

    Case and surrounding spaces are ignored; duplicates are removed, order kept.
    ``UnknownNameError`` lists the valid names.
    """
    subjects: list[str] = []
    parts = [part.strip().lower() for part in name.split(",")]
    for part in parts:
        if part in SUBSET_ALIASES:
            found = SUBSET_ALIASES[part]
        elif part in MMLU_SUBJECTS:
            found = (part,)
        else:
            raise UnknownNameError("subset", part or name, valid_subset_names())
        subjects += [s for s in found if s not in subjects]
    return tuple(subjects)
