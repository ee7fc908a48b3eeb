"""Helpers shared by the tests: where things are, and a runner for the real ``healthdex`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_PAGES = REPO / "healthdex" / "sample" / "pages"
SHARED = REPO.parent / "shared"


def run_healthdex(*args: str, cwd: Path | None = None, timeout: float = 300, input: str | None = None,
                  env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real ``healthdex`` command in a subprocess (same interpreter as the tests)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "healthdex", *args],
        cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout, input=input, env=full_env,
    )
