"""Shared fixtures: the bundled sample, a ``healthdex`` runner, and ../shared when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import SAMPLE_PAGES, SHARED, run_healthdex


@pytest.fixture
def healthdex():
    return run_healthdex


@pytest.fixture(scope="session")
def sample_pages() -> Path:
    return SAMPLE_PAGES


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present beside the repository (only developers and CI have it)")
    return SHARED
