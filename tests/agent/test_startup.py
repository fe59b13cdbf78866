"""The collector is off during start-up, back on for the run, and never left off."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from agent import cli, startup


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()
    gc.unfreeze()


def test_paused_turns_collection_off_and_finished_turns_it_back_on() -> None:
    with startup.paused():
        assert not gc.isenabled()
        before = gc.get_freeze_count()
        startup.finished()
        assert gc.isenabled()
        assert gc.get_freeze_count() > before  # start-up's objects are out of the collector's sight
        startup.finished()  # a second call changes nothing
        assert gc.isenabled()
    assert gc.isenabled()


def test_leaving_restores_collection_even_on_error() -> None:
    with pytest.raises(RuntimeError), startup.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_caller_that_had_collection_off_keeps_it_off() -> None:
    gc.disable()
    with startup.paused():
        startup.finished()
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_the_command_line_leaves_collection_on(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--max-turns", "0", "-p", "x"]) == 2  # a usage error, after start-up began
    assert "max-turns" in capsys.readouterr().err
    assert gc.isenabled()
