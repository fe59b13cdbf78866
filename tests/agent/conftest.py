"""Fixtures shared by the agent tests."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest


class Dirs(NamedTuple):
    project: Path
    home: Path
    data: Path


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dirs:
    """A project, and HOME and XDG_DATA_HOME of its own (so the engine's home rules and corral's data
    directory point here), for tests that build a Gate on the real policy engine."""
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    project = (tmp_path / "project").resolve()
    project.mkdir()
    return Dirs(project, home, data)
