"""edit: unique matches, counts, replace_all, atomic multi-edits, whitespace fallback, CRLF, hash-addressed lines."""

from __future__ import annotations

import zlib
from pathlib import Path

from agent.tools.base import ToolContext
from tests.agent.tools.conftest import call


async def _prepare(ctx: ToolContext, project: Path, name: str, content: str | bytes) -> Path:
    f = project / name
    if isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(content)
    result = await call("read", {"path": name}, ctx)
    assert not result.is_error, result.content
    return f


async def test_unique_match_is_replaced_with_a_diff(ctx: ToolContext, project: Path) -> None:
    f = await _prepare(ctx, project, "m.py", "def f():\n    return 1\n\n\ndef g():\n    return 2\n")
    result = await call("edit", {"path": "m.py", "edits": [{"old": "return 1", "new": "return 10"}]}, ctx)
    assert not result.is_error, result.content
    assert f.read_text() == "def f():\n    return 10\n\n\ndef g():\n    return 2\n"
    assert "+1 -1" in result.content
    diff = str(result.meta["diff"])
    assert "-    return 1\n" in diff and "+    return 10\n" in diff and diff.startswith("--- a/m.py")
    again = await call("edit", {"path": "m.py", "edits": [{"old": "return 2", "new": "return 20"}]}, ctx)
    assert not again.is_error, "an own edit refreshes the stamp"


async def test_must_be_read_first(ctx: ToolContext, project: Path) -> None:
    (project / "u.txt").write_text("a\n")
    result = await call("edit", {"path": "u.txt", "edits": [{"old": "a", "new": "b"}]}, ctx)
    assert result.is_error and "read it first" in result.content
    missing = await call("edit", {"path": "nope.txt", "edits": [{"old": "a", "new": "b"}]}, ctx)
    assert missing.is_error and "does not exist" in missing.content


async def test_changed_since_read_is_refused(ctx: ToolContext, project: Path) -> None:
    f = await _prepare(ctx, project, "c.txt", "a\n")
    f.write_text("a\nb\n")
    result = await call("edit", {"path": "c.txt", "edits": [{"old": "a", "new": "z"}]}, ctx)
    assert result.is_error and "changed on disk" in result.content


async def test_multiple_matches_report_the_count(ctx: ToolContext, project: Path) -> None:
    f = await _prepare(ctx, project, "x.txt", "x = 1\nx = 1\nx = 1\n")
    result = await call("edit", {"path": "x.txt", "edits": [{"old": "x = 1", "new": "x = 2"}]}, ctx)
    assert result.is_error and "matches 3 places" in result.content and "replace_all" in result.content
    assert f.read_text() == "x = 1\nx = 1\nx = 1\n"
    ok = await call("edit", {"path": "x.txt", "edits": [{"old": "x = 1", "new": "x = 2", "replace_all": True}]}, ctx)
    assert not ok.is_error and f.read_text() == "x = 2\nx = 2\nx = 2\n"


async def test_edits_apply_in_order_and_all_or_nothing(ctx: ToolContext, project: Path) -> None:
    f = await _prepare(ctx, project, "o.txt", "alpha\nbeta\n")
    edits = [{"old": "alpha", "new": "gamma"}, {"old": "gamma\nbeta", "new": "gamma\ndelta"}]
    result = await call("edit", {"path": "o.txt", "edits": edits}, ctx)
    assert not result.is_error and f.read_text() == "gamma\ndelta\n"
    await call("read", {"path": "o.txt"}, ctx)
    failing = [{"old": "gamma", "new": "one"}, {"old": "not there", "new": "two"}]
    result = await call("edit", {"path": "o.txt", "edits": failing}, ctx)
    assert result.is_error and "edits[1]" in result.content and "not found" in result.content
    assert f.read_text() == "gamma\ndelta\n"


async def test_whitespace_fallback_when_unique(ctx: ToolContext, project: Path) -> None:
    f = await _prepare(ctx, project, "w.py", "class A:\n\tdef f(self):   \n\t\treturn 1\n")
    old = "    def f(self):\n        return 1\n"
    new = "    def f(self):\n        return 2\n"
    result = await call("edit", {"path": "w.py", "edits": [{"old": old, "new": new}]}, ctx)
    assert not result.is_error, result.content
    assert "ignoring indentation" in result.content and "line 2" in result.content
    assert f.read_text() == "class A:\n\tdef f(self):\n\t    return 2\n"


async def test_trailing_whitespace_fallback_keeps_indentation(ctx: ToolContext, project: Path) -> None:
    f = await _prepare(ctx, project, "t.py", "if x:  \n    y()\nz()\n")
    result = await call("edit", {"path": "t.py", "edits": [{"old": "if x:\n    y()", "new": "if x:\n    w()"}]}, ctx)
    assert not result.is_error, result.content
    assert "trailing whitespace" in result.content
    assert f.read_text() == "if x:\n    w()\nz()\n"


async def test_whitespace_fallback_refused_when_ambiguous(ctx: ToolContext, project: Path) -> None:
    f = await _prepare(ctx, project, "a.py", "def f():\n  pass\n\ndef g():\n    pass\n")
    result = await call("edit", {"path": "a.py", "edits": [{"old": "\tpass", "new": "\treturn"}]}, ctx)
    assert result.is_error and "matches 2 places" in result.content
    assert f.read_text() == "def f():\n  pass\n\ndef g():\n    pass\n"


async def test_crlf_file_stays_crlf(ctx: ToolContext, project: Path) -> None:
    f = await _prepare(ctx, project, "win.txt", b"one\r\ntwo\r\nthree\r\n")
    result = await call("edit", {"path": "win.txt", "edits": [{"old": "one\ntwo\n", "new": "uno\ndos\nextra\n"}]}, ctx)
    assert not result.is_error, result.content
    assert f.read_bytes() == b"uno\r\ndos\r\nextra\r\nthree\r\n"
    await call("read", {"path": "win.txt"}, ctx)
    result = await call("edit", {"path": "win.txt", "edits": [{"old": "three\r\n", "new": "tres\r\n"}]}, ctx)
    assert not result.is_error and f.read_bytes() == b"uno\r\ndos\r\nextra\r\ntres\r\n"


async def test_lf_file_gets_no_cr(ctx: ToolContext, project: Path) -> None:
    f = await _prepare(ctx, project, "lf.txt", "a\nb\n")
    result = await call("edit", {"path": "lf.txt", "edits": [{"old": "a\r\nb", "new": "c\r\nd"}]}, ctx)
    assert not result.is_error and f.read_bytes() == b"c\nd\n"


async def test_bad_edits(ctx: ToolContext, project: Path) -> None:
    await _prepare(ctx, project, "b.txt", "text\n")
    same = await call("edit", {"path": "b.txt", "edits": [{"old": "text", "new": "text"}]}, ctx)
    assert same.is_error and "identical" in same.content
    empty = await call("edit", {"path": "b.txt", "edits": [{"old": "", "new": "x"}]}, ctx)
    assert empty.is_error and "empty" in empty.content
    mixed = await call("edit", {"path": "b.txt", "edits": [{"old": "text", "new": "x"}, {"line": 1, "new": ""}]}, ctx)
    assert mixed.is_error and "do not mix" in mixed.content


def _tag(line: str) -> str:
    return f"{zlib.crc32(line.encode()) & 0xFFFF:04x}"


async def test_hashedit_flow(ctx: ToolContext, project: Path) -> None:
    f = project / "h.py"
    f.write_text("a = 1\nb = 2\nc = 3\nd = 4\n")
    shown = await call("read", {"path": "h.py", "hashes": True}, ctx)
    tags = {int(ln.split(":")[0]): ln.split(":")[1].split("|")[0] for ln in shown.content.splitlines()}
    assert tags[2] == _tag("b = 2")
    edits = [
        {"line": 2, "hash": tags[2], "new": "b = 20\nb2 = 21"},
        {"line": 3, "hash": tags[3], "end_line": 4, "end_hash": tags[4], "new": ""},
    ]
    result = await call("edit", {"path": "h.py", "edits": edits}, ctx)
    assert not result.is_error, result.content
    assert f.read_text() == "a = 1\nb = 20\nb2 = 21\n"
    # a stale citation: line 2 is no longer "b = 2"
    stale = await call("edit", {"path": "h.py", "edits": [{"line": 2, "hash": tags[2], "new": "x"}]}, ctx)
    assert stale.is_error and "no longer has hash" in stale.content and "read it again" in stale.content
    assert f.read_text() == "a = 1\nb = 20\nb2 = 21\n"


async def test_hashedit_errors(ctx: ToolContext, project: Path) -> None:
    await _prepare(ctx, project, "e.txt", "x\ny\n")
    past = await call("edit", {"path": "e.txt", "edits": [{"line": 9, "hash": "0000", "new": "z"}]}, ctx)
    assert past.is_error and "past the end" in past.content
    nohash = await call("edit", {"path": "e.txt", "edits": [{"line": 1, "new": "z"}]}, ctx)
    assert nohash.is_error and "'hash'" in nohash.content
    overlap = [
        {"line": 1, "hash": _tag("x"), "end_line": 2, "end_hash": _tag("y"), "new": "a"},
        {"line": 2, "hash": _tag("y"), "new": "b"},
    ]
    result = await call("edit", {"path": "e.txt", "edits": overlap}, ctx)
    assert result.is_error and "overlap" in result.content


async def test_hashedit_in_crlf_file(ctx: ToolContext, project: Path) -> None:
    f = project / "w.txt"
    f.write_bytes(b"one\r\ntwo\r\n")
    await call("read", {"path": "w.txt", "hashes": True}, ctx)
    result = await call("edit", {"path": "w.txt", "edits": [{"line": 2, "hash": _tag("two"), "new": "2\n2b"}]}, ctx)
    assert not result.is_error, result.content
    assert f.read_bytes() == b"one\r\n2\r\n2b\r\n"


async def test_binary_is_refused(ctx: ToolContext, project: Path) -> None:
    (project / "b.bin").write_bytes(b"\0\1\2")
    result = await call("edit", {"path": "b.bin", "edits": [{"old": "a", "new": "b"}]}, ctx)
    assert result.is_error and "binary" in result.content
