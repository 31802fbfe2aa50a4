"""``cached_tiny_chatbench``: one build per set of arguments, never half a model in the cache."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from chatsim.testing import _tiny_model, cached_tiny_chatbench

# The cache key holds the versions of the libraries shaping the build (read, not imported).
pytestmark = pytest.mark.skipif(
    any(find_spec(name) is None for name in ("torch", "transformers", "peft", "tokenizers")),
    reason="needs chatsim[hf]",
)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the (seconds-long) build with one that writes marker files and counts calls."""
    made: list[dict[str, Any]] = []

    def fake_build(path: Path, **settings: Any) -> None:
        made.append(settings)
        for part in ("base", "adapter"):
            (Path(path) / part).mkdir(parents=True)
            (Path(path) / part / "weights").write_text(repr(settings))

    monkeypatch.setattr(_tiny_model, "build_tiny_chatbench", fake_build)
    return made


def test_builds_once_per_arguments_and_reuses_the_files(
    builds: list[dict[str, Any]], tmp_path: Path
) -> None:
    first = cached_tiny_chatbench(tmp_path)
    again = cached_tiny_chatbench(tmp_path)
    other = cached_tiny_chatbench(tmp_path, seed=1)
    assert first == again != other
    assert [b["seed"] for b in builds] == [0, 1]
    assert (first.base / "weights").is_file() and (first.adapter / "weights").is_file()
    assert first.spec == f"hf:{first.base}+{first.adapter}"
    # Only finished builds are in the cache: no temporary directory is left behind.
    assert sorted(p.name.startswith("tiny-chatbench-") for p in tmp_path.iterdir()) == [True, True]


def test_a_failed_build_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(path: Path, **settings: Any) -> None:
        (Path(path) / "base").mkdir()
        raise RuntimeError("disk full")

    monkeypatch.setattr(_tiny_model, "build_tiny_chatbench", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        cached_tiny_chatbench(tmp_path)
    assert list(tmp_path.iterdir()) == []
