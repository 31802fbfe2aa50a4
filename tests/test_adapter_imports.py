"""Adapter distributions use the core through its public names only.

Every module under ``adapters/*/src`` is parsed (nothing is imported) and every import of
chatsim counts, wherever it sits: module top, inside a function, under ``TYPE_CHECKING``, and
``importlib.import_module("chatsim...")`` / ``__import__`` with a literal name. An import is
private when its path has a ``_name`` part (``chatsim._exceptions``,
``chatsim.targets._contract``) or when it takes a ``_name`` from a chatsim module
(``from chatsim.targets import _registry``). Names taken from a public module must be in that
module's ``__all__``. There is no exceptions list: a name an adapter needs belongs in the
kit (``chatsim.targets.kit``) or another public package. The adapters' own tests may import
private names; this rule is for what ships.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADAPTER_SOURCES = sorted((REPO / "adapters").glob("*/src"))

Found = list[tuple[str, int, str]]  # (module imported, line, name taken or "")


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _chatsim_imports(tree: ast.AST) -> Found:
    """Every absolute import of chatsim in ``tree``: ``(module, line, name)``."""
    found: Found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno, "") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.module, node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func, first = node.func, node.args[0].value
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(first, str):
                found.append((first, node.lineno, ""))
    return [f for f in found if f[0] == "chatsim" or f[0].startswith("chatsim.")]


def _problem(module: str, name: str) -> str | None:
    """Why this import is not allowed, or None."""
    if any(_is_private(part) for part in module.split(".")):
        return f"private module {module}"
    if name and _is_private(name):
        return f"private name {name} from {module}"
    if name and name != "*":
        public = getattr(importlib.import_module(module), "__all__", None)
        if public is not None and name not in public and not _is_module(module, name):
            return f"{name} is not in {module}.__all__"
    return None


def _is_module(package: str, name: str) -> bool:
    """``from chatsim.targets import kit``: a public submodule, not a name of ``__all__``."""
    try:
        importlib.import_module(f"{package}.{name}")
    except ImportError:
        return False
    return True


def offending_imports() -> list[str]:
    problems: list[str] = []
    for src in ADAPTER_SOURCES:
        for path in sorted(src.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for module, line, name in _chatsim_imports(tree):
                why = _problem(module, name)
                if why is not None:
                    what = f"from {module} import {name}" if name else f"import {module}"
                    problems.append(f"{path.relative_to(REPO)}:{line}: {what}  ({why})")
    return problems


def test_the_scanner_sees_every_form_of_import() -> None:
    tree = ast.parse(
        "import chatsim._util._redact\n"
        "from chatsim._exceptions import TargetError\n"
        "from chatsim.targets._contract import AdapterReply\n"
        "from chatsim.targets import _registry, TargetSettings\n"
        "from chatsim import __version__\n"
        "import os\n"
        "def f():\n"
        "    import importlib\n"
        "    importlib.import_module('chatsim.recording._records')\n"
        "    from .sibling import x\n"
    )
    found = _chatsim_imports(tree)
    assert [(m, n) for m, _, n in found] == [
        ("chatsim._util._redact", ""),
        ("chatsim._exceptions", "TargetError"),
        ("chatsim.targets._contract", "AdapterReply"),
        ("chatsim.targets", "_registry"),
        ("chatsim.targets", "TargetSettings"),
        ("chatsim", "__version__"),
        ("chatsim.recording._records", ""),
    ]
    flagged = [(m, n) for m, _, n in found if _problem(m, n)]
    assert flagged == [
        ("chatsim._util._redact", ""),
        ("chatsim._exceptions", "TargetError"),
        ("chatsim.targets._contract", "AdapterReply"),
        ("chatsim.targets", "_registry"),
        ("chatsim.recording._records", ""),
    ]


def test_a_name_outside_all_is_flagged() -> None:
    assert _problem("chatsim.targets", "json") == "json is not in chatsim.targets.__all__"
    assert _problem("chatsim.targets", "kit") is None  # a public submodule
    assert _problem("chatsim.targets.kit", "error_for_status") is None


def test_adapters_import_only_public_core_names() -> None:
    assert ADAPTER_SOURCES, "no adapter distribution found under adapters/*/src"
    assert any(ADAPTER_SOURCES[0].rglob("*.py")), "the scan found no modules"
    problems = offending_imports()
    assert not problems, "adapters import private core names:\n" + "\n".join(problems)
