"""Where the load tester's CPU goes: a pyinstrument profile of one ``chatsim loadtest`` run.

    python benchmarks/bench_profile.py [--users 512] [--conversations 2048] [--html FILE]

Same set-up as ``bench_scale.py cost``: 3-turn conversations, the loopback server replying at
once in its own process on core 1, the client on core 0, every conversation recorded. Prints
pyinstrument's call tree (``--html`` also writes the interactive page) and a flat table of
the functions with the most own time, grouped by package, so one can see what share is
chatsim's and what share is aiohttp's, asyncio's, anyio's or pydantic's.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
from bench_scale import MODEL, loopback_server, pin_to_core, three_exchanges
from pyinstrument import Profiler

from chatsim.loadtest import loadtest
from chatsim.testing import ScriptedSimulator


def _package(frame: Any) -> str:
    parts = Path(frame.file_path or "?").parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if "chatsim_openai" in parts:
        return "chatsim_openai"
    if "chatsim" in parts:
        return "chatsim." + parts[parts.index("chatsim") + 1].removesuffix(".py")
    if "python3.11" in parts:
        return "stdlib:" + parts[parts.index("python3.11") + 1].removesuffix(".py")
    return str(frame.file_path_short or "?")


def _own_times(frame: Any, out: Counter[str], packages: Counter[str], owner: Any = None) -> None:
    """Self time per function and per package; time in C functions (``<built-in>``) and
    pyinstrument's ``[self]`` leaves is charged to the Python function that called them."""
    synthetic = frame.is_synthetic or frame.file_path in (None, "<built-in>")
    charged = owner if synthetic and owner is not None else frame
    own = frame.time - sum(child.time for child in frame.children)
    name = f"{charged.function} ({charged.file_path_short}:{charged.line_no})"
    out[name] += own
    packages[_package(charged)] += own
    for child in frame.children:
        _own_times(child, out, packages, charged)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=512)
    parser.add_argument("--conversations", type=int, default=2048)
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML page")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--tree", action="store_true", help="print the call tree too")
    args = parser.parse_args()
    pin_to_core(0)
    with tempfile.TemporaryDirectory() as tmp, loopback_server("--tokens", "32") as (url, _):
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
        result = anyio.run(
            lambda: loadtest(
                f"vllm:{MODEL}",
                base_url=url,
                simulator=ScriptedSimulator(three_exchanges),
                mode="closed",
                users=args.users,
                conversations=args.conversations,
                drain_timeout=None,
                out_dir=Path(tmp),
                slo_error_rate=None,
            )
        )
        profiler.stop()
    stage = result.stages[0]
    print(
        f"{stage.calls} calls, {stage.call_rate:.0f} calls/s, client CPU "
        f"{stage.client_cpu_per_call_ms:.3f} ms per call (profiler overhead included)"
    )
    if args.tree:
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    _own_times(root, own, packages)
    total = root.time or 1.0
    print("own time by package:")
    for name, seconds in packages.most_common(15):
        print(f"  {100 * seconds / total:5.1f}%  {name}")
    print(f"top {args.top} functions by own time:")
    for name, seconds in own.most_common(args.top):
        print(f"  {100 * seconds / total:5.1f}%  {name}")
    if args.html is not None:
        args.html.write_text(profiler.output_html())
        print(f"wrote {args.html}")


if __name__ == "__main__":
    main()
