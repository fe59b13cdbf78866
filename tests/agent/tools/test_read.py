"""read: line numbers, paging, long lines, binary and huge files, directories, stamps, hashes."""

# ruff: noqa: ASYNC230 -- tests inspect small local files directly

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

from agent.tools.base import ToolContext
from tests.agent.tools.conftest import call


async def test_numbers_lines_and_records_a_stamp(ctx: ToolContext, project: Path) -> None:
    f = project / "a.py"
    f.write_text("first\nsecond\n\nfourth")
    result = await call("read", {"path": "a.py"}, ctx)
    assert not result.is_error
    assert result.content == "    1\tfirst\n    2\tsecond\n    3\t\n    4\tfourth"
    stamp = ctx.stamps[f]
    st = f.stat()
    assert (stamp.mtime_ns, stamp.size) == (st.st_mtime_ns, st.st_size)
    assert stamp.digest == hashlib.sha256(f.read_bytes()).hexdigest()
    assert result.meta["lines"] == 4


async def test_absolute_path_and_crlf(ctx: ToolContext, project: Path) -> None:
    f = project / "w.txt"
    f.write_bytes(b"one\r\ntwo\r\n")
    result = await call("read", {"path": str(f)}, ctx)
    assert result.content == "    1\tone\n    2\ttwo"


async def test_offset_and_limit(ctx: ToolContext, project: Path) -> None:
    (project / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 101)))
    result = await call("read", {"path": "n.txt", "offset": 10, "limit": 3}, ctx)
    body, footer = result.content.split("\n\n")
    assert body == "   10\tline 10\n   11\tline 11\n   12\tline 12"
    assert "lines 10-12 of 100" in footer and "offset=13" in footer
    tail = await call("read", {"path": "n.txt", "offset": 99}, ctx)
    assert tail.content.startswith("   99\tline 99\n  100\tline 100") and "end of file" in tail.content
    past = await call("read", {"path": "n.txt", "offset": 101}, ctx)
    assert past.is_error and "past the end" in past.content and "100 lines" in past.content


async def test_default_limit_is_2000_lines(ctx: ToolContext, project: Path) -> None:
    (project / "big.txt").write_text("x\n" * 2500)
    result = await call("read", {"path": "big.txt"}, ctx)
    assert " 2000\tx" in result.content and " 2001\t" not in result.content
    assert "offset=2001" in result.content


async def test_long_lines_are_cut(ctx: ToolContext, project: Path) -> None:
    (project / "long.txt").write_text("a" * 5000 + "\nshort\n")
    result = await call("read", {"path": "long.txt"}, ctx)
    first = result.content.splitlines()[0]
    assert first.startswith("    1\t" + "a" * 2000 + " … [line truncated: 5000 characters]")
    assert "    2\tshort" in result.content


async def test_binary_files_are_refused_with_their_size(ctx: ToolContext, project: Path) -> None:
    (project / "img.bin").write_bytes(b"\x89PNG\0\0\x01" * 300)
    result = await call("read", {"path": "img.bin"}, ctx)
    assert result.is_error and "binary" in result.content and "2.1 KB" in result.content
    (project / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    result = await call("read", {"path": "latin1.txt"}, ctx)
    assert result.is_error and "binary" in result.content


async def test_huge_files_need_offset_or_limit(ctx: ToolContext, project: Path) -> None:
    f = project / "huge.log"
    line = b"0123456789" * 10 + b"\n"
    with open(f, "wb") as fh:
        fh.write(line * (11 * 1024 * 1024 // len(line)))
    result = await call("read", {"path": "huge.log"}, ctx)
    assert result.is_error and "too large" in result.content and "offset and limit" in result.content
    part = await call("read", {"path": "huge.log", "offset": 5, "limit": 2}, ctx)
    assert not part.is_error
    assert part.content.startswith("    5\t0123") and "    7\t" not in part.content
    assert ctx.stamps[f].digest == hashlib.sha256(f.read_bytes()).hexdigest()


async def test_directories_and_missing_files(ctx: ToolContext, project: Path) -> None:
    (project / "src").mkdir()
    result = await call("read", {"path": "src"}, ctx)
    assert result.is_error and "directory" in result.content and "list_dir" in result.content
    (project / "config.toml").write_text("")
    missing = await call("read", {"path": "confg.toml"}, ctx)
    assert missing.is_error and "does not exist" in missing.content and "config.toml" in missing.content


async def test_suggestions_never_reveal_protected_names(project: Path, tmp_path: Path) -> None:
    ctx = ToolContext(project_root=project, cwd=project, home=tmp_path, protected=lambda p: p.name == ".env")
    (project / ".env").write_text("SECRET=1\n")
    result = await call("read", {"path": ".envv"}, ctx)
    assert result.is_error and ".env" not in result.content.replace(".envv", "")


async def test_empty_file(ctx: ToolContext, project: Path) -> None:
    (project / "e.txt").write_text("")
    result = await call("read", {"path": "e.txt"}, ctx)
    assert not result.is_error and "empty" in result.content
    assert project / "e.txt" in ctx.stamps


async def test_home_and_symlinks_resolve(ctx: ToolContext, project: Path) -> None:
    (ctx.home / "notes.txt").write_text("in home\n")
    result = await call("read", {"path": "~/notes.txt"}, ctx)
    assert result.content == "    1\tin home"
    os.symlink(project / "target.txt", project / "link.txt")
    (project / "target.txt").write_text("t\n")
    await call("read", {"path": "link.txt"}, ctx)
    assert project / "target.txt" in ctx.stamps


async def test_hashes(ctx: ToolContext, project: Path) -> None:
    (project / "h.py").write_text("def f():\n    return 1\n")
    result = await call("read", {"path": "h.py", "hashes": True}, ctx)
    tag = f"{zlib.crc32(b'    return 1') & 0xFFFF:04x}"
    assert result.content.splitlines()[1] == f"2:{tag}|     return 1"
