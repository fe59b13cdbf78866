"""The input history file: shared across sessions, multi-line entries, ignorespace, the cap, the format."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest
from prompt_toolkit.buffer import Buffer

from agent.tui.history import FileHistory, history_path


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


def test_lives_under_xdg_data_home_private(data_home: Path, tmp_path: Path) -> None:
    history = FileHistory()
    assert history.path == data_home / "corral/history" == history_path()
    history.append_string("first prompt")
    assert stat.S_IMODE(history.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(history.path.parent.stat().st_mode) == 0o700
    assert history_path({"HOME": str(tmp_path / "h"), "XDG_DATA_HOME": "relative"}) == (
        tmp_path / "h/.local/share/corral/history"
    )


def test_entries_survive_across_sessions_with_their_newlines(data_home: Path) -> None:
    first = FileHistory()
    first.append_string("explain src/app.py")
    first.append_string("fix this:\n  Traceback (most recent call last):\n\n    boom\n")
    first.append_string("ünïcode ✓ and a \"quote\"")
    second = FileHistory()  # a later session
    assert list(second.load_history_strings()) == [
        "ünïcode ✓ and a \"quote\"",
        "fix this:\n  Traceback (most recent call last):\n\n    boom\n",
        "explain src/app.py",
    ]
    lines = second.path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[1]).startswith("fix this:\n")


def test_a_leading_space_keeps_an_entry_out_everywhere(data_home: Path) -> None:
    history = FileHistory()
    history.append_string("normal")
    history.append_string(" export API_KEY=sk-secret")
    history.append_string("   ")
    history.store_string(" also secret")  # even when called directly
    assert history.get_strings() == ["normal"]
    assert "secret" not in history.path.read_text()
    assert list(FileHistory().load_history_strings()) == ["normal"]


def test_repeated_entries_are_stored_once(data_home: Path) -> None:
    history = FileHistory()
    for text in ("run the tests", "run the tests", "other", "run the tests"):
        history.append_string(text)
    assert history.get_strings() == ["run the tests", "other", "run the tests"]
    assert len(history.path.read_text().splitlines()) == 3


def test_the_file_is_trimmed_to_the_newest_entries_past_twice_the_cap(data_home: Path) -> None:
    history = FileHistory(keep=5)
    for n in range(10):
        history.append_string(f"entry {n}")
    assert len(history.path.read_text().splitlines()) == 10  # up to 2N lines are kept as they are
    inode = history.path.stat().st_ino
    history.append_string("entry 10")
    assert [json.loads(x) for x in history.path.read_text().splitlines()] == [f"entry {n}" for n in range(6, 11)]
    assert history.path.stat().st_ino != inode  # rewritten by rename
    assert stat.S_IMODE(history.path.stat().st_mode) == 0o600
    assert sorted(p.name for p in history.path.parent.iterdir()) == ["history", "history.lock"]
    other = FileHistory(keep=5)  # a second process appending counts the lines it finds
    for n in range(11, 17):
        other.append_string(f"entry {n}")
    assert len(other.path.read_text().splitlines()) == 5
    assert list(FileHistory().load_history_strings()) == [f"entry {n}" for n in range(16, 11, -1)]


def test_torn_or_foreign_lines_are_skipped(data_home: Path) -> None:
    path = data_home / "corral/history"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'"good one"\n{"not": "a string"}\nnot json\n" leading space"\n"second"\n"torn')
    assert list(FileHistory().load_history_strings()) == ["second", "good one"]


def test_an_unwritable_history_does_not_disturb_typing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    history = FileHistory(blocker / "history")  # its directory cannot be made
    history.append_string("still works")
    assert history.get_strings() == ["still works"]
    assert list(history.load_history_strings()) == []


def test_lone_surrogates_round_trip(data_home: Path) -> None:
    history = FileHistory()
    history.append_string("bad \udc80 byte")
    assert list(FileHistory().load_history_strings()) == ["bad \udc80 byte"]


def test_a_prompt_toolkit_buffer_walks_it(data_home: Path) -> None:
    writer = FileHistory()
    writer.append_string("older")
    writer.append_string("line one\nline two")

    async def walk() -> list[str]:
        buffer = Buffer(history=FileHistory(), multiline=True)
        buffer.load_history_if_not_yet_loaded()
        for _ in range(50):  # the buffer loads the history in a background task
            if len(buffer._working_lines) > 2:
                break
            await asyncio.sleep(0.01)
        seen = []
        for _ in range(2):
            buffer.history_backward()  # Up at the top line: the previous entry, whole
            seen.append(buffer.text)
        return seen

    assert asyncio.run(walk()) == ["line one\nline two", "older"]
