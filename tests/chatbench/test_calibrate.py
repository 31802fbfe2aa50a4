"""Calibration against a synthetic ChatBench release with a planted correlation."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from chatbench_kit import Planted, planted, write_release
from typer.testing import CliRunner

from chatsim._exceptions import ConfigError, DataError
from chatsim.chatbench import agreement, calibrate, load_release, map_question_ids
from chatsim.cli import app


@pytest.fixture(scope="session")
def many(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return planted(tmp_path_factory.mktemp("many"), 200, 0.6)


def _row(result: object, predictor: str) -> object:
    table = result.tables[0]  # type: ignore[attr-defined]
    return next(r for r in table.rows if r.predictor == predictor)


def test_calibrate_recovers_the_planted_correlation(many: Planted) -> None:
    result = calibrate(many.run, many.release)
    (table,) = result.tables
    assert (table.run_model, table.human_model, table.condition) == (
        "gpt-4o", "gpt-4o", "direct-to-AI",
    )  # fmt: skip
    row = _row(result, "simulated")
    assert row.questions == 200
    assert abs(row.r - many.planted_r) < 0.05
    assert row.r_low < many.planted_r < row.r_high
    assert row.mae_low <= row.mae <= row.mae_high
    # The other conditions and models of the release are not mixed in: they were planted
    # anti-correlated, so a mix-up would pull r down.
    assert table.ai_alone_source == "release"
    assert {r.predictor for r in table.rows} == {"simulated", "ai-alone", "user-alone"}
    assert result.unmapped_ids == {}


def test_few_questions_give_a_wide_interval(many: Planted, tmp_path: Path) -> None:
    few = planted(tmp_path, 6, 0.6)
    narrow, wide = (
        _row(calibrate(many.run, many.release), "simulated"),
        _row(calibrate(few.run, few.release), "simulated"),
    )
    assert wide.questions == 6
    assert wide.r_high - wide.r_low > 0.5
    assert wide.r_high - wide.r_low > 3 * (narrow.r_high - narrow.r_low)


def test_only_held_out_questions_count(many: Planted, tmp_path: Path) -> None:
    heldout = list(many.release_ids[:50])  # release ids (redux and test forms)
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": list(many.release_ids[50:]), "heldout": heldout}))
    result = calibrate(many.run, many.release, split=split)
    assert result.heldout == 50
    assert {p.question_id for p in result.tables[0].points} == set(many.chatsim_ids[:50])
    assert _row(result, "simulated").questions == 50


def test_unmapped_ids_are_reported(tmp_path: Path) -> None:
    release = write_release(
        tmp_path / "rel", ["college_mathematics-test-1", "astronomy-test-3"], np.array([0.5, 0.5]),
        np.array([0.5, 0.5]), np.array([0.5, 0.5]), extra_ids=("college_mathematics-redux-150",),
    )  # fmt: skip
    loaded = load_release(release)
    mapping = map_question_ids(loaded.question_ids)
    assert mapping.to_chatsim == {"college_mathematics-test-1": "college_mathematics-test-1"}
    assert set(mapping.unmapped) == {"astronomy-test-3", "college_mathematics-redux-150"}
    assert "not bundled" in mapping.unmapped["astronomy-test-3"]


def test_every_redux_row_maps_onto_a_distinct_bundled_question() -> None:
    from chatsim.questions import CHATBENCH_SUBJECTS

    ids = [f"{s}-redux-{i}" for s in CHATBENCH_SUBJECTS for i in range(100)]
    mapping = map_question_ids(ids)
    assert not mapping.unmapped
    assert len(set(mapping.to_chatsim.values())) == 500
    assert all(v.split("-test-")[0] == k.split("-redux-")[0] for k, v in mapping.to_chatsim.items())


def test_a_missing_column_is_named(many: Planted, tmp_path: Path) -> None:
    src = many.release / "full_study" / "user_answers_filtered.csv"
    dst = tmp_path / "rel"
    (dst / "full_study").mkdir(parents=True)
    (dst / "questions.csv").write_bytes((many.release / "questions.csv").read_bytes())
    with src.open() as fh, (dst / "full_study" / "user_answers_filtered.csv").open("w") as out:
        rows = list(csv.reader(fh))
        keep = [i for i, name in enumerate(rows[0]) if name != "acc"]
        csv.writer(out).writerows([[r[i] for i in keep] for r in rows])
    with pytest.raises(DataError, match=r"lacks the column\(s\) acc .*--column"):
        load_release(dst)


def test_unknown_run_model_asks_for_a_model_map(many: Planted) -> None:
    with pytest.raises(ConfigError, match="--model-map"):
        calibrate(many.run, many.release, model_map={"gpt-4o": "claude"})


def test_agreement_without_enough_questions_has_no_interval() -> None:
    two = agreement("simulated", [0.1, 0.9], [0.2, 0.8])
    assert two.r == pytest.approx(1.0) and two.r_low is None and "too few" in (two.note or "")
    flat = agreement("simulated", [0.5] * 5, [0.1, 0.2, 0.3, 0.4, 0.5])
    assert flat.r is None and flat.mae is not None and "no spread" in (flat.note or "")


def test_hub_unreachable_gives_both_options(monkeypatch: pytest.MonkeyPatch) -> None:
    hub = pytest.importorskip("huggingface_hub")

    def offline(**_: object) -> str:
        raise OSError("network is unreachable")

    monkeypatch.setattr(hub, "snapshot_download", offline)
    with pytest.raises(DataError, match="not reachable") as info:
        load_release("hf")
    assert "local folder" in str(info.value) and "hf:microsoft/ChatBench" in str(info.value)


def test_hub_snapshot_is_read_like_a_folder(many: Planted, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = pytest.importorskip("huggingface_hub")
    calls: list[dict[str, object]] = []

    def snapshot(**kwargs: object) -> str:
        calls.append(kwargs)
        return str(many.release)

    monkeypatch.setattr(hub, "snapshot_download", snapshot)
    assert load_release("hf").root == many.release
    assert calls == [{"repo_id": "microsoft/ChatBench", "repo_type": "dataset"}]


def test_no_hub_library_gives_both_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    with pytest.raises(DataError, match=r"huggingface_hub is not installed.*local folder"):
        load_release("hf")


def test_cli_table_json_and_html(many: Planted, tmp_path: Path) -> None:
    runner = CliRunner()
    page = tmp_path / "cal.html"
    shown = runner.invoke(app, ["calibrate", str(many.run), "--human", str(many.release),
                                "--html", str(page), "--resamples", "200"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "simulated" in shown.stdout and "Pearson r" in shown.stdout
    assert page.read_text().count("plotly") > 1 and "college_mathematics" in page.read_text()
    as_json = runner.invoke(app, ["calibrate", str(many.run), "--human", str(many.release),
                                  "--json", "--resamples", "200"])  # fmt: skip
    assert as_json.exit_code == 0
    data = json.loads(as_json.stdout)
    assert data["tables"][0]["rows"][0]["predictor"] == "simulated"
    assert len(data["tables"][0]["points"]) == 200


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--human", "/nonexistent/chatbench"], "no such folder"),
        (["--model-map", "gpt-4o"], "RUN_MODEL=HUMAN_MODEL"),
        (["--column", "nope=x"], "unknown column key"),
        (["--split", "/nonexistent/split.json"], "does not exist"),
    ],
)
def test_cli_bad_input_exits_2(many: Planted, extra: list[str], message: str) -> None:
    args = ["calibrate", str(many.run), "--human", str(many.release), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
