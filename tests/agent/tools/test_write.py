"""write: new files, atomic overwrite only after a read, refusal when the file changed, mode kept."""

# ruff: noqa: ASYNC240 -- tests inspect small local files directly

from __future__ import annotations

import os
import stat
from pathlib import Path

from agent.tools.base import ToolContext
from tests.agent.tools.conftest import call


async def test_creates_a_new_file_and_its_parents(ctx: ToolContext, project: Path) -> None:
    result = await call("write", {"path": "src/pkg/new.py", "content": "x = 1\n"}, ctx)
    assert not result.is_error, result.content
    f = project / "src/pkg/new.py"
    assert f.read_text() == "x = 1\n"
    assert "Created" in result.content and result.meta["created"] is True
    assert f in ctx.stamps
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask


async def test_refuses_to_overwrite_an_unread_file(ctx: ToolContext, project: Path) -> None:
    f = project / "keep.txt"
    f.write_text("precious\n")
    result = await call("write", {"path": "keep.txt", "content": "gone\n"}, ctx)
    assert result.is_error and "read it first" in result.content
    assert f.read_text() == "precious\n"


async def test_overwrites_after_a_read_atomically_and_keeps_the_mode(ctx: ToolContext, project: Path) -> None:
    f = project / "run.sh"
    f.write_text("echo old\n")
    f.chmod(0o751)
    inode = f.stat().st_ino
    await call("read", {"path": "run.sh"}, ctx)
    result = await call("write", {"path": "run.sh", "content": "echo new\n"}, ctx)
    assert not result.is_error, result.content
    assert "Overwrote" in result.content
    assert f.read_text() == "echo new\n"
    assert stat.S_IMODE(f.stat().st_mode) == 0o751
    assert f.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert [p.name for p in project.iterdir()] == ["run.sh"]  # no temporary file left behind
    again = await call("write", {"path": "run.sh", "content": "echo newer\n"}, ctx)  # own write counts as seen
    assert not again.is_error and f.read_text() == "echo newer\n"


async def test_refuses_when_changed_since_read(ctx: ToolContext, project: Path) -> None:
    f = project / "c.txt"
    f.write_text("v1\n")
    await call("read", {"path": "c.txt"}, ctx)
    f.write_text("v2 from someone else\n")
    result = await call("write", {"path": "c.txt", "content": "mine\n"}, ctx)
    assert result.is_error and "changed on disk" in result.content and "read it again" in result.content
    assert f.read_text() == "v2 from someone else\n"


async def test_touched_but_identical_is_fine(ctx: ToolContext, project: Path) -> None:
    f = project / "t.txt"
    f.write_text("same\n")
    await call("read", {"path": "t.txt"}, ctx)
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    result = await call("write", {"path": "t.txt", "content": "next\n"}, ctx)
    assert not result.is_error, result.content


async def test_same_size_change_is_detected(ctx: ToolContext, project: Path) -> None:
    f = project / "s.txt"
    f.write_text("aaaa\n")
    await call("read", {"path": "s.txt"}, ctx)
    f.write_text("bbbb\n")
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, ctx.stamps[f].mtime_ns + 1))
    result = await call("write", {"path": "s.txt", "content": "cccc\n"}, ctx)
    assert result.is_error and "changed" in result.content


async def test_deleted_after_read_may_be_recreated(ctx: ToolContext, project: Path) -> None:
    f = project / "d.txt"
    f.write_text("x\n")
    await call("read", {"path": "d.txt"}, ctx)
    f.unlink()
    result = await call("write", {"path": "d.txt", "content": "y\n"}, ctx)
    assert not result.is_error and f.read_text() == "y\n"


async def test_directory_is_refused(ctx: ToolContext, project: Path) -> None:
    (project / "dir").mkdir()
    result = await call("write", {"path": "dir", "content": "x"}, ctx)
    assert result.is_error and "directory" in result.content


async def test_writes_through_a_symlink_to_its_target(ctx: ToolContext, project: Path) -> None:
    (project / "real.txt").write_text("r\n")
    os.symlink("real.txt", project / "alias.txt")
    await call("read", {"path": "alias.txt"}, ctx)
    result = await call("write", {"path": "alias.txt", "content": "changed\n"}, ctx)
    assert not result.is_error, result.content
    assert (project / "alias.txt").is_symlink()
    assert (project / "real.txt").read_text() == "changed\n"
