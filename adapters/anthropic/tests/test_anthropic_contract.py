"""What the adapter distribution promises about imports (the conformance suite itself runs
in ``test_anthropic_conformance``, on ``chatsim.testing.ANTHROPIC_WIRE``)."""

from __future__ import annotations

import subprocess
import sys


def _imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    return set(out.stdout.split())


def test_importing_the_adapter_does_not_import_torch() -> None:
    loaded = _imported_after("import chatsim_anthropic, chatsim_anthropic.testing")
    assert "anthropic" in loaded and "torch" not in loaded and "transformers" not in loaded


def test_importing_chatsim_does_not_import_anthropic() -> None:
    loaded = _imported_after(
        "import chatsim, chatsim.targets; chatsim.targets.available_adapters()"
    )
    assert "anthropic" not in loaded and "chatsim_anthropic" not in loaded
