"""Issue 11's "done": OpenAI, Anthropic and Gemini in one run, from the CLI and from
``evaluate()``, each through its official SDK to its own loopback server (moved only by the
vendor's own base-URL variable), then ``compare`` with a paired verdict for every pair.

The three assistants have planted accuracies (``PlantedAssistant``: gpt-4o always right,
Claude right on one of the two repeats of every question, Gemini never), so every verdict is
known in advance. Each server demands its own vendor's key, so a request that reached the
wrong server fails the run. The simulator side: ``prompted:anthropic:`` and
``prompted:gemini:`` play the user against an OpenAI target.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from e2e_kit import ASSISTANT_REPLY, CHATSIM, PlantedAssistant, cli_env, prompted_user

import chatsim
from chatsim import ConfigError, MissingCredentialError
from chatsim.metrics import compare
from chatsim.protocol import Role, TerminationReason
from chatsim.questions import Question, load_questions
from chatsim.recording import EpisodeRecord, TurnRecord, read_run
from chatsim.testing import Fault, FaultKind, Latency, LoopbackServer, ReplyScript
from chatsim_anthropic.testing import AnthropicLoopbackServer
from chatsim_gemini.testing import GeminiLoopbackServer

pytestmark = pytest.mark.anyio

GPT, CLAUDE, GEMINI = "gpt-4o", "anthropic:claude-sonnet-4-5", "gemini:gemini-2.5-flash"
MODELS = (GPT, CLAUDE, GEMINI)
PLANTED = {GPT: 1.0, CLAUDE: 0.5, GEMINI: 0.0}
QUESTIONS, REPEATS = 10, 2  # 10 questions: a verdict without the few-questions caution
KEYS = {
    "openai": "sk-openai-PLANTED-0123456789",
    "anthropic": "sk-ant-PLANTED-0123456789",
    "gemini": "AIza-gemini-PLANTED-0123456789",
}
# The first of three chunks 2 ms after the request arrives: TTFT can be checked from below.
LATENCY = Latency.ms(2, 2, chunks=3)
RETRY_AFTER = 0.05


@dataclass
class Providers:
    openai: LoopbackServer
    anthropic: AnthropicLoopbackServer
    gemini: GeminiLoopbackServer

    @property
    def env(self) -> dict[str, str]:
        return {
            "OPENAI_API_KEY": KEYS["openai"],
            "OPENAI_BASE_URL": self.openai.base_url,
            "ANTHROPIC_API_KEY": KEYS["anthropic"],
            "ANTHROPIC_BASE_URL": self.anthropic.base_url,
            "GEMINI_API_KEY": KEYS["gemini"],
            "GOOGLE_GEMINI_BASE_URL": self.gemini.base_url,
        }

    def request_ids(self, model: str) -> set[str]:
        """The request ids the model's own server handed out."""
        server = {GPT: self.openai, CLAUDE: self.anthropic, GEMINI: self.gemini.upstream}[model]
        return {r.request_id for r in server.requests}

    def planted_faults(self) -> None:
        """A 429 (retry-after-ms) and then a 529 overloaded (retry-after) on Anthropic."""
        self.anthropic.inject(Fault(FaultKind.RATE_LIMIT_MS, retry_after=RETRY_AFTER))
        self.anthropic.inject(Fault(FaultKind.HTTP_ERROR, status=529, retry_after=RETRY_AFTER))

    def nothing_sent(self) -> bool:
        return not (self.openai.requests or self.anthropic.requests or self.gemini.requests)


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return load_questions("math")


@pytest.fixture
async def providers(questions: list[Question]) -> AsyncIterator[Providers]:
    def planted(policy: str) -> ReplyScript:
        return ReplyScript(PlantedAssistant(questions, policy), latency=LATENCY)

    async with (
        LoopbackServer(planted("always"), api_key=KEYS["openai"]) as openai,
        AnthropicLoopbackServer(planted("alternate"), api_key=KEYS["anthropic"]) as anthropic,
        GeminiLoopbackServer(planted("never"), api_key=KEYS["gemini"]) as gemini,
    ):
        yield Providers(openai, anthropic, gemini)


def _assistant_turns(episodes: Iterable[EpisodeRecord]) -> list[TurnRecord]:
    return [t for e in episodes for t in e.turns if t.role is Role.ASSISTANT]


def check_records(episodes: list[EpisodeRecord], providers: Providers) -> None:
    """Every episode of every model recorded, answered, timed, with usage and the vendor's
    request ids; accuracies as planted; the planted faults retried, honouring retry-after."""
    by_model: dict[str, list[EpisodeRecord]] = {m: [] for m in MODELS}
    for episode in episodes:
        by_model[episode.model].append(episode)
    cells = {m: sorted((e.question_id, e.repeat) for e in eps) for m, eps in by_model.items()}
    assert len(cells[GPT]) == QUESTIONS * REPEATS and len(set(cells[GPT])) == len(cells[GPT])
    assert cells[CLAUDE] == cells[GPT] == cells[GEMINI]  # the same questions and repeats
    for model, eps in by_model.items():
        assert all(e.termination is TerminationReason.ANSWERED for e in eps), model
        assert sum(e.correct for e in eps) / len(eps) == PLANTED[model], model
        ids = providers.request_ids(model)
        for turn in _assistant_turns(eps):
            # TTFT within the total, and no shorter than the server's planted first-token wait.
            assert turn.first_token_at is not None and turn.first_token_at <= turn.ended_at
            assert turn.first_token_at - turn.started_at >= LATENCY.first_token, model
            assert turn.usage is not None and turn.usage.prompt_tokens > 0, model
            assert turn.usage.completion_tokens > 0, model
            *failed, ok = turn.attempts
            assert ok.outcome == "ok" and ok.request_id in ids, model
            assert all(a.request_id in ids for a in failed), model
    # Claude: one right and one wrong conversation on every question (pairs are exact).
    right = Counter(e.question_id for e in by_model[CLAUDE] if e.correct)
    assert set(right.values()) == {1} and len(right) == QUESTIONS
    check_retries(by_model[CLAUDE])


def check_retries(claude: list[EpisodeRecord]) -> None:
    failed = [a for t in _assistant_turns(claude) for a in t.attempts if a.outcome != "ok"]
    assert sorted((a.outcome, a.status_code) for a in failed) == [
        ("rate_limit", 429),
        ("transient", 529),
    ]
    for attempt in failed:  # the hint was honoured, and the vendor's id of the refusal kept
        assert attempt.wait_before_next is not None and attempt.wait_before_next >= RETRY_AFTER
        assert attempt.request_id and attempt.request_id.startswith("req_")


def check_verdicts(pairs: list[dict[str, object]]) -> None:
    """The overall line of every pair names the planted winner."""
    # Pairs come in the order models first appear in the records (finishing order), so
    # either side may be ``a``; the verdict names the winner first either way.
    overall = {
        frozenset((p["a"], p["b"])): str(p["verdict"]) for p in pairs if p["subject"] == "(all)"
    }
    assert len(overall) == 3
    for winner, loser in ((GPT, CLAUDE), (GPT, GEMINI), (CLAUDE, GEMINI)):
        verdict = overall[frozenset((winner, loser))]
        assert verdict.startswith(f"{winner} beats {loser} by "), verdict
        assert "caution" not in verdict


def _run_args(tmp_path: Path, *extra: str) -> list[str]:
    models = [arg for model in MODELS for arg in ("--model", model)]
    return [*CHATSIM, "run", *models, "--subset", "math", "--limit", str(QUESTIONS),
            "--repeats", str(REPEATS), "--simulator", "scripted", "--out", str(tmp_path),
            "--quiet", *extra]  # fmt: skip


async def test_cli_run_and_compare_across_three_providers(
    providers: Providers, tmp_path: Path
) -> None:
    providers.planted_faults()
    env = cli_env(providers.env)
    done = await anyio.run_process(_run_args(tmp_path, "--run-id", "three"), env=env, check=False)
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode()
    assert all(model in out for model in MODELS)
    run_dir = tmp_path / "three"
    check_records(read_run(run_dir).episodes, providers)
    # No vendor's key in the records, the log, the summary or the sidecars.
    for path in (p for p in run_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert not [key for key in KEYS.values() if key.encode() in data], path.name
    summary = json.loads((run_dir / "summary.json").read_text())
    for model in MODELS:
        latency = summary["models"][model]["latency"]
        assert latency["ttft_sent"]["n"] == latency["calls"] >= QUESTIONS * REPEATS
    # Two faults: two calls retried once each, or one call retried twice.
    retried = [t for t in _assistant_turns(read_run(run_dir).episodes) if len(t.attempts) > 1]
    assert summary["models"][CLAUDE]["recovery"]["retried_calls"] == len(retried)
    assert summary["models"][GPT]["recovery"]["retried_calls"] == 0

    compared = await anyio.run_process(
        [*CHATSIM, "compare", str(run_dir), "--json"], env=env, check=False
    )
    assert compared.returncode == 0, compared.stderr.decode()
    result = json.loads(compared.stdout)
    assert sorted(result["models"]) == sorted(MODELS)
    assert {m: result["accuracy"][m]["accuracy"] for m in MODELS} == PLANTED
    check_verdicts(result["pairs"])


async def test_evaluate_across_three_providers(
    providers: Providers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in cli_env(providers.env).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)  # it would win over GEMINI_API_KEY
    providers.planted_faults()
    result = await chatsim.evaluate(
        list(MODELS), "math", simulator="scripted", limit=QUESTIONS, repeats=REPEATS,
        out_dir=tmp_path,
    )  # fmt: skip
    assert result.models == list(MODELS)
    assert {m: result.accuracy(m).accuracy for m in MODELS} == PLANTED
    check_records(result.episodes, providers)
    comparison = compare([read_run(result.run_dir)])
    check_verdicts([p.model_dump() for p in comparison.pairs])


@pytest.mark.parametrize(
    ("vendor", "simulator"),
    [("anthropic", "prompted:anthropic:claude-haiku-4-5"),
     ("gemini", "prompted:gemini:gemini-2.5-flash")],
)  # fmt: skip
async def test_a_vendor_model_plays_the_user(
    vendor: str, simulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = ReplyScript(prompted_user)
    vendor_server = (
        AnthropicLoopbackServer(user, api_key=KEYS["anthropic"])
        if vendor == "anthropic"
        else GeminiLoopbackServer(user, api_key=KEYS["gemini"])
    )
    assistant = LoopbackServer(ReplyScript(ASSISTANT_REPLY), api_key=KEYS["openai"])
    async with assistant as openai, vendor_server:
        env = {"OPENAI_API_KEY": KEYS["openai"], "OPENAI_BASE_URL": openai.base_url,
               "ANTHROPIC_API_KEY": KEYS["anthropic"], "GEMINI_API_KEY": KEYS["gemini"],
               "ANTHROPIC_BASE_URL": vendor_server.base_url,
               "GOOGLE_GEMINI_BASE_URL": vendor_server.base_url}  # fmt: skip
        for name, value in cli_env(env).items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        result = await chatsim.evaluate(
            GPT, "college_math", simulator=simulator, limit=3, out_dir=tmp_path
        )
    assert len(result.episodes) == 3
    for episode in result.episodes:
        assert episode.termination is TerminationReason.ANSWERED and episode.final_answer == "B"
        assert [t.role for t in episode.turns] == [Role.USER, Role.ASSISTANT, Role.USER]
        for turn in episode.turns[::2]:  # the user's turns came over the vendor's wire
            (attempt,) = turn.attempts
            assert attempt.outcome == "ok" and attempt.request_id
    # The OpenAI server saw only the assistant; the vendor's server only the simulator: two
    # calls per episode (open, then answer), each opening with a user message, as its API needs.
    assert [r.body["model"] for r in openai.requests] == [GPT] * 3
    sent = [r.body for r in vendor_server.requests]
    assert len(sent) == 6
    for body in sent:
        if vendor == "anthropic":  # the Messages API: the instructions in ``system``
            assert "Question:" in body["system"] and body["messages"][0]["role"] == "user"
        else:  # Gemini: in ``systemInstruction``; ``contents`` open with the user
            assert "Question:" in json.dumps(body["systemInstruction"])
            assert body["contents"][0]["role"] == "user"


def _no_episodes(run_dir: Path) -> bool:
    episodes = run_dir / "episodes.jsonl"
    return not episodes.exists() or not episodes.read_text().strip()


async def test_cli_a_missing_vendor_key_stops_the_run_before_anything_is_sent(
    providers: Providers, tmp_path: Path
) -> None:
    # One CLI process (each one imports three SDKs); the other cases run in-process below.
    env = cli_env({k: v for k, v in providers.env.items() if k != "ANTHROPIC_API_KEY"})
    done = await anyio.run_process(_run_args(tmp_path, "--run-id", "r"), env=env, check=False)
    assert done.returncode == 2, done.stderr.decode()
    assert "ANTHROPIC_API_KEY" in done.stderr.decode()
    assert providers.nothing_sent() and _no_episodes(tmp_path / "r")


@pytest.mark.parametrize(
    ("models", "simulator", "missing"),
    [(MODELS, "scripted", ("ANTHROPIC_API_KEY",)),
     (MODELS, "scripted", ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
     ((GPT,), "prompted:anthropic:claude-haiku-4-5", ("ANTHROPIC_API_KEY",)),
     ((GPT,), "prompted:gemini:gemini-2.5-flash", ("GEMINI_API_KEY", "GOOGLE_API_KEY"))],
    ids=["anthropic-target", "gemini-target", "anthropic-simulator", "gemini-simulator"],
)  # fmt: skip
async def test_a_missing_vendor_key_names_the_variable_before_anything_is_sent(
    providers: Providers,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    models: tuple[str, ...],
    simulator: str,
    missing: tuple[str, ...],
) -> None:
    for name, value in providers.env.items():
        monkeypatch.setenv(name, value)
    for name in missing:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingCredentialError, match=missing[0]):
        await chatsim.evaluate(
            list(models), "math", simulator=simulator, limit=2, out_dir=tmp_path, run_id="r"
        )
    assert providers.nothing_sent() and _no_episodes(tmp_path / "r")


@pytest.mark.parametrize(
    ("simulator", "variable"),
    [("prompted:anthropic:claude-haiku-4-5", "ANTHROPIC_BASE_URL"),
     ("prompted:gemini:gemini-2.5-flash", "GOOGLE_GEMINI_BASE_URL")],
)  # fmt: skip
async def test_a_simulator_endpoint_for_a_vendor_model_is_refused(
    providers: Providers,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    simulator: str,
    variable: str,
) -> None:
    # The vendor's key must not travel to another host: only its own variable moves it.
    for name, value in providers.env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=variable):
        await chatsim.evaluate(
            GPT, "college_math", simulator=simulator, limit=2, out_dir=tmp_path,
            simulator_base_url=providers.openai.base_url,
        )  # fmt: skip
    assert providers.nothing_sent()
