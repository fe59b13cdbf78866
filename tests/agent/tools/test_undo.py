"""Undo of the agent's file changes: through the real write and edit tools, on real files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agent.tools._undo import COMMANDS_NOT_UNDONE, UndoLog
from agent.tools.base import ToolContext
from tests.agent.tools.conftest import call


@pytest.fixture
def undo(ctx: ToolContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> UndoLog:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ctx.undo = UndoLog()
    ctx.undo.begin_turn()
    return ctx.undo


async def write(ctx: ToolContext, path: str, content: str) -> None:
    result = await call("write", {"path": path, "content": content}, ctx)
    assert not result.is_error, result.content


async def edit(ctx: ToolContext, path: str, old: str, new: str) -> None:
    result = await call("edit", {"path": path, "edits": [{"old": old, "new": new}]}, ctx)
    assert not result.is_error, result.content


async def read(ctx: ToolContext, path: str) -> None:
    assert not (await call("read", {"path": path}, ctx)).is_error


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


async def test_a_new_file_and_the_directories_made_for_it_are_removed(
    ctx: ToolContext, project: Path, undo: UndoLog
) -> None:
    (project / "keep").mkdir()
    await write(ctx, "src/pkg/new.py", "x = 1\n")
    await write(ctx, "src/pkg/other.py", "y = 2\n")
    await write(ctx, "keep/also.txt", "z\n")
    report = undo.undo_last_turn()
    assert report.ok and report.restored == ()
    assert report.removed == tuple(sorted([project / "src/pkg/new.py", project / "src/pkg/other.py",
                                           project / "keep/also.txt"]))
    assert listing(project) == ["keep"]  # src/ and src/pkg/ were made by the turn; keep/ was not
    assert "removed src/pkg/new.py (created by the agent)" in report.message(project)
    assert COMMANDS_NOT_UNDONE in report.message(project)


async def test_overwrite_restores_content_and_permissions(ctx: ToolContext, project: Path, undo: UndoLog) -> None:
    script = project / "run.sh"
    script.write_bytes(b"#!/bin/sh\necho old\n")
    script.chmod(0o751)
    await read(ctx, "run.sh")
    await write(ctx, "run.sh", "echo new\n")
    assert script.read_text() == "echo new\n"
    report = undo.undo_last_turn()
    assert report.restored == (script,) and report.ok
    assert script.read_bytes() == b"#!/bin/sh\necho old\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o751
    assert listing(project) == ["run.sh"]  # no temporary file left
    assert undo.undo_last_turn().nothing


async def test_several_edits_in_one_turn_go_back_to_the_state_before_the_first(
    ctx: ToolContext, project: Path, undo: UndoLog
) -> None:
    f = project / "app.py"
    f.write_text("a = 1\nb = 2\nc = 3\n")
    await read(ctx, "app.py")
    await edit(ctx, "app.py", "a = 1", "a = 10")
    await edit(ctx, "app.py", "b = 2", "b = 20")
    await write(ctx, "app.py", "rewritten\n")
    assert undo.turns == 1
    assert undo.undo_last_turn().restored == (f,)
    assert f.read_text() == "a = 1\nb = 2\nc = 3\n"


async def test_undo_steps_back_turn_by_turn(ctx: ToolContext, project: Path, undo: UndoLog) -> None:
    f = project / "notes.md"
    await write(ctx, "notes.md", "v1\n")  # turn 1 creates it
    undo.begin_turn()
    await edit(ctx, "notes.md", "v1", "v2")  # turn 2 edits it and creates another file
    await write(ctx, "todo.md", "t\n")
    undo.begin_turn()  # turn 3 changes nothing
    assert undo.turns == 2
    second = undo.undo_last_turn()
    assert second.restored == (f,) and second.removed == (project / "todo.md",) and second.turns_left == 1
    assert f.read_text() == "v1\n" and not (project / "todo.md").exists()
    assert "1 earlier turn(s) can still be undone" in second.message(project)
    first = undo.undo_last_turn()
    assert first.removed == (f,) and first.turns_left == 0
    assert listing(project) == []
    assert undo.undo_last_turn().nothing


async def test_a_change_after_an_undo_starts_a_new_turn(ctx: ToolContext, project: Path, undo: UndoLog) -> None:
    await write(ctx, "one.txt", "1\n")
    undo.begin_turn()
    await write(ctx, "two.txt", "2\n")
    assert undo.undo_last_turn().removed == (project / "two.txt",)
    await write(ctx, "three.txt", "3\n")  # no begin_turn: still not part of turn 1
    assert undo.turns == 2
    assert undo.undo_last_turn().removed == (project / "three.txt",)
    assert (project / "one.txt").exists()


async def test_a_file_changed_since_the_agent_wrote_it_is_refused_as_a_whole(
    ctx: ToolContext, project: Path, undo: UndoLog
) -> None:
    a, b = project / "a.txt", project / "b.txt"
    a.write_text("a0\n")
    await read(ctx, "a.txt")
    await write(ctx, "a.txt", "a1\n")
    await write(ctx, "b.txt", "b1\n")
    b.write_text("the user's own work\n")  # changed outside corral
    report = undo.undo_last_turn()
    assert not report.ok and report.refused == ((b, "its content differs from what the agent wrote"),)
    assert report.restored == () and report.removed == ()
    assert a.read_text() == "a1\n" and b.read_text() == "the user's own work\n"  # nothing touched
    assert "Undo refused" in report.message(project) and "force" in report.message(project)
    assert undo.turns == 1  # still undoable
    b.unlink()
    a.write_text("a1 edited by hand\n")
    again = undo.undo_last_turn()
    assert again.refused == ((a, "its content differs from what the agent wrote"),)


async def test_force_overwrites_changes_made_since(ctx: ToolContext, project: Path, undo: UndoLog) -> None:
    a = project / "a.txt"
    a.write_text("original\n")
    await read(ctx, "a.txt")
    await write(ctx, "a.txt", "agent\n")
    a.write_text("someone else\n")
    report = undo.undo_last_turn(force=True)
    assert report.ok and report.restored == (a,)
    assert a.read_text() == "original\n"


async def test_a_restored_file_deleted_outside_is_refused_and_a_created_one_deleted_is_fine(
    ctx: ToolContext, project: Path, undo: UndoLog
) -> None:
    a = project / "a.txt"
    a.write_text("original\n")
    await read(ctx, "a.txt")
    await write(ctx, "a.txt", "agent\n")
    await write(ctx, "made.txt", "m\n")
    (project / "made.txt").unlink()
    a.unlink()
    assert undo.undo_last_turn().refused == ((a, "it was deleted"),)
    report = undo.undo_last_turn(force=True)
    assert report.restored == (a,) and report.removed == (project / "made.txt",)
    assert a.read_text() == "original\n"


async def test_an_earlier_turn_is_refused_when_the_file_changed_between_turns(
    ctx: ToolContext, project: Path, undo: UndoLog
) -> None:
    f = project / "f.txt"
    await write(ctx, "f.txt", "agent 1\n")
    undo.begin_turn()
    f.write_text("user between turns\n")
    await read(ctx, "f.txt")
    await write(ctx, "f.txt", "agent 2\n")
    assert undo.undo_last_turn().ok
    assert f.read_text() == "user between turns\n"
    assert undo.undo_last_turn().refused  # turn 1 would throw away the user's change


async def test_big_previous_states_are_kept_on_disk_privately(
    ctx: ToolContext, project: Path, tmp_path: Path, undo: UndoLog
) -> None:
    undo.memory_limit = 1024
    big = project / "big.txt"
    content = "".join(f"line {n}\n" for n in range(2000))
    big.write_text(content)
    small = project / "small.txt"
    small.write_text("tiny\n")
    await read(ctx, "big.txt")
    await read(ctx, "small.txt")
    await edit(ctx, "big.txt", "line 1000\n", "changed\n")
    await write(ctx, "small.txt", "small\n")
    undo_root = tmp_path / "cache/corral/undo"
    [session_dir] = list(undo_root.iterdir())
    assert stat.S_IMODE(session_dir.stat().st_mode) == 0o700
    [kept] = list(session_dir.iterdir())
    assert kept.read_text() == content  # the small file stayed in memory
    assert undo.undo_last_turn().restored == (big, small)
    assert big.read_text() == content and small.read_text() == "tiny\n"
    assert list(session_dir.iterdir()) == []  # the copy went with its turn
    undo.close()
    assert list(undo_root.iterdir()) == []


async def test_spill_into_a_given_session_directory(ctx: ToolContext, project: Path, tmp_path: Path) -> None:
    session = tmp_path / "session" / "undo"
    ctx.undo = log = UndoLog(session, memory_limit=0, max_turns=2)
    big = project / "data.txt"
    big.write_text("x\n")
    await read(ctx, "data.txt")
    for n in range(3):
        log.begin_turn()
        await write(ctx, "data.txt", f"turn {n}\n")
    assert stat.S_IMODE(session.stat().st_mode) == 0o700
    assert log.turns == 2 and len(list(session.iterdir())) == 2  # the oldest turn and its copy were dropped
    assert log.undo_last_turn().ok and log.undo_last_turn().ok
    assert big.read_text() == "turn 0\n"
    assert log.undo_last_turn().nothing
    log.close()
    assert session.is_dir() and list(session.iterdir()) == []  # the session's directory is not ours to remove


async def test_failed_or_refused_tool_calls_record_nothing(ctx: ToolContext, project: Path, undo: UndoLog) -> None:
    f = project / "keep.txt"
    f.write_text("precious\n")
    result = await call("write", {"path": "keep.txt", "content": "gone\n"}, ctx)  # not read first: refused
    assert result.is_error
    bad = await call("edit", {"path": "keep.txt", "edits": [{"old": "absent", "new": "x"}]}, ctx)
    assert bad.is_error
    assert undo.turns == 0 and undo.undo_last_turn().nothing
    assert "Nothing to undo" in undo.undo_last_turn().message()


async def test_without_a_log_nothing_is_recorded(ctx: ToolContext, project: Path) -> None:
    assert ctx.undo is None
    await write(ctx, "plain.txt", "no log\n")
    assert (project / "plain.txt").read_text() == "no log\n"


async def test_a_file_the_turn_cannot_restore_stays_undoable(ctx: ToolContext, project: Path, undo: UndoLog) -> None:
    sub = project / "sub"
    sub.mkdir()
    f = sub / "f.txt"
    f.write_text("before\n")
    await read(ctx, "sub/f.txt")
    await write(ctx, "sub/f.txt", "after\n")
    f.unlink()
    sub.rmdir()
    sub.write_text("a file where the directory was\n")
    report = undo.undo_last_turn(force=True)
    assert not report.ok and [p for p, _ in report.failed] == [f]
    assert "could not restore sub/f.txt" in report.message(project)
    sub.unlink()
    assert undo.undo_last_turn(force=True).restored == (f,)
    assert f.read_text() == "before\n"
