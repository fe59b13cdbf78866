"""Policy tests share one startup cache (policy/_cache.py) in a temporary directory, never the user's
~/.cache/corral: the first test to load the built-in rule files verifies them and stores them, later
tests read them from the cache, so both paths run. Subprocesses started by tests use their own
environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from policy import _cache


@pytest.fixture(scope="session")
def _policy_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corral-cache")


@pytest.fixture(autouse=True)
def _isolated_policy_cache(_policy_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_cache, "cache_dir", lambda: str(_policy_cache_dir))
    yield
