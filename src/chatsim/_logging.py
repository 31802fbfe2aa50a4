"""Structured logging: structlog on top of the standard library's handlers.

``configure_logging(run_dir, json=..., level=...)`` sends every ``chatsim.*`` event to
stderr (a readable console line, or one JSON object per line) and, given a run directory, to
``<run_dir>/log.jsonl`` (always JSON lines). ``bound_ids(run_id=..., episode_id=...)`` binds
ids through context variables, so every event logged inside (tasks started inside too) carries
them.

Secrets: a processor on every path, the file's included, replaces registered secrets and
key-like tokens (``chatsim._util._redact.scrub``) in every value, nested ones and rendered
tracebacks included, and masks any field whose *name* says it holds a credential. Tracebacks
are rendered to text before that processor, so they are scrubbed too (at the price of
plain-text tracebacks on the console).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from chatsim._exceptions import ConfigError
from chatsim._util._redact import scrub

__all__ = [
    "LOG_FILE_NAME",
    "bound_ids",
    "configure_logging",
    "get_logger",
    "scrub_event",
    "shutdown_logging",
]

LOG_FILE_NAME: Final = "log.jsonl"
"""The log file inside a run directory: one JSON object per line."""
_ROOT: Final = "chatsim"
_LEVELS: Final = ("debug", "info", "warning", "error", "critical")
_SECRET_FIELD_PARTS: Final = ("api_key", "apikey", "authorization", "password", "secret", "token")
_MASK: Final = "***"
_OWNED = "_chatsim_handler"  # marks handlers this module installed, to replace them cleanly


def _is_secret_field(name: str) -> bool:
    lowered = name.lower()
    if lowered.endswith(("_tokens", "tokens")):  # token *counts* (usage) are not secrets
        return False
    return any(part in lowered for part in _SECRET_FIELD_PARTS)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _MASK if _is_secret_field(str(k)) else _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    return scrub(str(value))


def scrub_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: remove secrets from every value of the event."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):  # structlog's own bookkeeping (record, from_structlog)
            continue
        event_dict[key] = _MASK if _is_secret_field(key) else _clean(value)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        scrub_event,
    ]


def _formatter(renderer: Processor) -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


def _remove_owned_handlers(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if getattr(handler, _OWNED, False):
            logger.removeHandler(handler)
            handler.close()


def configure_logging(
    run_dir: Path | None = None,
    *,
    json: bool = False,
    level: str = "info",
    file_level: str | None = None,
    stream: TextIO | None = None,
) -> Path | None:
    """Route chatsim's events to ``stream`` (stderr) at ``level`` and to ``run_dir/log.jsonl``
    at ``file_level`` (default: the same). The CLI keeps the console quiet under a progress bar
    while the file keeps every retry.

    Calling it again replaces the previous handlers (and closes the previous file). Returns
    the log file's path, or None without a run directory.
    """
    file_level = file_level or level
    for name in (level, file_level):
        if name.lower() not in _LEVELS:
            raise ConfigError(f"unknown log level {name!r}; valid levels: {', '.join(_LEVELS)}")
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,  # reconfiguration (and capture_logs in tests) must bite
    )
    root = logging.getLogger(_ROOT)
    _remove_owned_handlers(root)
    root.setLevel(
        min(logging.getLevelName(level.upper()), logging.getLevelName(file_level.upper()))
    )
    root.propagate = False
    out = stream or sys.stderr
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    console = logging.StreamHandler(out)
    console.setLevel(level.upper())
    console.setFormatter(_formatter(renderer))
    setattr(console, _OWNED, True)
    root.addHandler(console)
    if run_dir is None:
        return None
    path = Path(run_dir) / LOG_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    file = logging.FileHandler(path, mode="a", encoding="utf-8")
    file.setLevel(file_level.upper())
    file.setFormatter(_formatter(structlog.processors.JSONRenderer()))
    setattr(file, _OWNED, True)
    root.addHandler(file)
    return path


def shutdown_logging() -> None:
    """Flush and close the handlers ``configure_logging`` installed (call when a run ends)."""
    _remove_owned_handlers(logging.getLogger(_ROOT))


class _LibraryLogger:
    """What ``get_logger`` hands out: structlog's logger once logging is configured (the CLI,
    ``configure_logging``, an application's own ``structlog.configure``); until then a quiet
    default, since a library must not print info lines into its caller's stdout: warnings
    and errors only, to stderr, secrets scrubbed."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, method: str) -> Any:
        if structlog.is_configured():
            return getattr(structlog.get_logger(self._name), method)
        return getattr(_quiet_default(), method)


_quiet: Any = None


def _quiet_default() -> Any:
    global _quiet
    if _quiet is None:
        _quiet = structlog.wrap_logger(
            structlog.PrintLogger(sys.stderr),
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.processors.format_exc_info,
                scrub_event,
                structlog.dev.ConsoleRenderer(colors=False),
            ],
        )
    return _quiet


def get_logger(name: str = _ROOT) -> Any:
    """A structlog logger under the ``chatsim`` namespace (``name`` should start with it)."""
    return _LibraryLogger(name)


@contextmanager
def bound_ids(**ids: str | None) -> Iterator[None]:
    """Bind ids (``run_id``, ``episode_id``, ...) to every event logged inside the block.

    Context variables: tasks started inside inherit them; ``None`` values are skipped.
    """
    present: MutableMapping[str, Any] = {k: v for k, v in ids.items() if v is not None}
    with structlog.contextvars.bound_contextvars(**present):
        yield
