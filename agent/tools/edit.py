"""The `edit` tool: exact search-and-replace edits (or line edits citing read's hashes), applied in memory and
written once, atomically.

Each `old` must occur exactly once (or `replace_all`). When it does not occur verbatim, a whitespace-tolerant
line match (trailing whitespace, then indentation ignored) is used only if it finds exactly one place. A
CRLF file stays CRLF. Line edits (`{line, hash, new}`) are checked against the current content: a line whose
hash changed is refused. The same read-before-change rule as write applies; any failing edit means nothing
is written.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from agent.providers.base import ToolSpec
from agent.tools._common import BaseTool
from agent.tools._files import (
    ToolFailure,
    atomic_write,
    check_fresh,
    display,
    line_hash,
    read_text_file,
    record_stamp,
    resolve_path,
)
from agent.tools.base import ToolContext, ToolResult

MAX_DIFF_LINES = 400

SPEC = ToolSpec(
    name="edit",
    description=(
        "Change an existing file by exact replacement. `edits` are applied in order and written together (if one "
        "fails, nothing is written). Each edit is {old, new}: `old` must match the file exactly once, including "
        "whitespace — add surrounding lines to make it unique, or set replace_all to change every occurrence. "
        "Alternatively, after `read` with hashes: true, an edit can be {line, hash, new} (optionally end_line "
        'and end_hash for a range): the cited lines are replaced by `new` ("" deletes them). Do not mix the '
        "two kinds in one call. The file must have been read in this session."
    ),
    parameters={
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "file path, relative to the working directory or absolute"},
            "edits": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "old": {"type": "string", "description": "exact text to replace"},
                        "new": {"type": "string", "description": "replacement text"},
                        "replace_all": {"type": "boolean", "description": "replace every occurrence of old"},
                        "line": {"type": "integer", "minimum": 1, "description": "line number (from read)"},
                        "hash": {"type": "string", "description": "that line's hash (from read with hashes)"},
                        "end_line": {"type": "integer", "minimum": 1, "description": "last line of a range"},
                        "end_hash": {"type": "string", "description": "the hash of end_line"},
                    },
                    "required": ["new"],
                },
            },
        },
        "required": ["path", "edits"],
    },
)


class EditTool(BaseTool):
    spec = SPEC
    read_only = False

    async def call(self, call_id: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        path = resolve_path(ctx, args["path"])
        name = display(ctx, path)
        original, text = read_text_file(ctx, path)
        check_fresh(ctx, path, "edit")
        crlf = "\r\n" in text and text.count("\n") == text.count("\r\n")
        work = text.replace("\r\n", "\n") if crlf else text
        mixed = not crlf and "\r\n" in text

        def norm(s: str) -> str:
            return s if mixed else s.replace("\r\n", "\n")

        edits: list[dict[str, Any]] = args["edits"]
        by_line = [e for e in edits if "line" in e]
        notes: list[str] = []
        if by_line and len(by_line) != len(edits):
            raise ToolFailure("do not mix {old, new} edits and {line, hash, new} edits in one call")
        if by_line:
            result = _apply_line_edits(work, edits, norm)
        else:
            result = work
            for i, edit in enumerate(edits):
                result = _apply_one(result, i, edit, norm, name, notes)
        if result == work:
            raise ToolFailure(f"the edits leave {name} unchanged")
        final = result.replace("\n", "\r\n") if crlf else result
        data = final.encode("utf-8", "replace")
        if ctx.undo is not None:
            ctx.undo.before(path, original)
        atomic_write(path, data)
        if ctx.undo is not None:
            ctx.undo.wrote(path, data)
        record_stamp(ctx, path, data)
        diff = _diff(work, result, name)
        added = sum(1 for ln in diff[2:] if ln.startswith("+"))
        removed = sum(1 for ln in diff[2:] if ln.startswith("-"))
        summary = f"Edited {name}: {len(edits)} edit(s), +{added} -{removed} lines."
        if notes:
            summary += "\n" + "\n".join(notes)
        diff_text = "".join(diff[:MAX_DIFF_LINES])
        if len(diff) > MAX_DIFF_LINES:
            diff_text += f"… [{len(diff) - MAX_DIFF_LINES} more diff lines]\n"
        return ToolResult(summary, meta={"path": str(path), "diff": diff_text, "added": added, "removed": removed})


def _apply_one(text: str, i: int, edit: dict[str, Any], norm: Callable[[str], str], name: str, notes: list[str]) -> str:
    if "old" not in edit:
        raise ToolFailure(f"edits[{i}] needs 'old' (the exact text to replace) or 'line' and 'hash'")
    old, new = norm(edit["old"]), norm(edit["new"])
    if not old:
        raise ToolFailure(
            f"edits[{i}].old is empty: to insert text, include the neighbouring line(s) in old; "
            "to create a file, use write"
        )
    if old == new:
        raise ToolFailure(f"edits[{i}]: old and new are identical")
    count = text.count(old)
    if count == 1 or (count > 1 and edit.get("replace_all")):
        return text.replace(old, new)
    if count > 1:
        raise ToolFailure(
            f"edits[{i}]: old matches {count} places in {name}; include more surrounding lines to make it unique, "
            "or set replace_all: true to change all of them"
        )
    spans, how = _fuzzy(text, old)
    if len(spans) == 1:
        start, end, indent_from, indent_to = spans[0]
        line_no = text.count("\n", 0, start) + 1
        notes.append(f"edits[{i}] matched at line {line_no} after ignoring {how}; check the diff.")
        return text[:start] + _reindent(new, indent_from, indent_to) + text[end:]
    if spans:
        raise ToolFailure(
            f"edits[{i}]: old does not match {name} exactly, and ignoring {how} it matches {len(spans)} places; "
            "copy the exact text from a fresh read and include more surrounding lines"
        )
    raise ToolFailure(
        f"edits[{i}]: old was not found in {name}. It must match the current content exactly (whitespace "
        "included); read the file again and copy the text"
    )


Span = tuple[int, int, str, str]  # start, end, indentation in old, indentation in the file


def _fuzzy(text: str, old: str) -> tuple[list[Span], str]:
    """Whole-line matches of old ignoring trailing whitespace, else ignoring all leading/trailing whitespace.
    Returns the spans of the first level that matches anything, and what that level ignored."""
    want = old.split("\n")
    ends_nl = want[-1] == ""
    if ends_nl:
        want.pop()
    if not any(w.strip() for w in want):
        return [], "whitespace"
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    levels: list[tuple[str, Callable[[str], str]]] = [
        ("trailing whitespace", lambda s: s.rstrip()),
        ("indentation and trailing whitespace", lambda s: s.strip()),
    ]
    for how, key in levels:
        target = [key(w) for w in want]
        spans: list[Span] = []
        for at in range(len(lines) - len(want) + 1):
            if all(key(lines[at + k]) == target[k] for k in range(len(want))):
                end = offsets[at + len(want)] - (0 if ends_nl else 1)
                if end > len(text):
                    continue
                spans.append((offsets[at], end, _indent(want[0]), _indent(lines[at])))
        if spans:
            return spans, how
    return [], "whitespace"


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _reindent(new: str, indent_from: str, indent_to: str) -> str:
    """Shift new's indentation the way the file's differs from old's (only where new uses old's prefix)."""
    if indent_from == indent_to:
        return new
    out = []
    for line in new.split("\n"):
        out.append(indent_to + line[len(indent_from) :] if line.startswith(indent_from) and line.strip() else line)
    return "\n".join(out)


def _apply_line_edits(text: str, edits: list[dict[str, Any]], norm: Callable[[str], str]) -> str:
    """Replace the cited line ranges (numbered as read shows them), checking each cited hash."""
    lines = text.split("\n")
    trailing = lines and lines[-1] == ""
    if trailing:
        lines.pop()
    ranges: list[tuple[int, int, str, int]] = []
    for i, edit in enumerate(edits):
        if "old" in edit or "replace_all" in edit:
            raise ToolFailure(f"edits[{i}]: a line edit takes line, hash, new (and end_line, end_hash), not old")
        first: int = edit["line"]
        last: int = edit.get("end_line", first)
        if last < first:
            raise ToolFailure(f"edits[{i}]: end_line {last} is before line {first}")
        for number, key in ((first, "hash"), (last, "end_hash")):
            if key == "end_hash" and last == first and key not in edit:
                continue
            _check_hash(lines, i, number, edit.get(key), key)
        ranges.append((first, last, edit["new"], i))
    ranges.sort()
    for (_, last_a, _, i), (first_b, _, _, j) in itertools.pairwise(ranges):
        if first_b <= last_a:
            raise ToolFailure(f"edits[{i}] and edits[{j}] overlap; combine them into one edit")
    for first, last, new, _ in reversed(ranges):
        body = norm(new)
        replacement = [] if body == "" else body.removesuffix("\n").split("\n")
        lines[first - 1 : last] = [_keep_cr(lines[first - 1], r) for r in replacement]
    if not lines:
        return ""
    return "\n".join(lines) + ("\n" if trailing else "")


def _check_hash(lines: list[str], i: int, number: int, cited: object, key: str) -> None:
    if number > len(lines):
        raise ToolFailure(f"edits[{i}]: line {number} is past the end of the file ({len(lines)} lines)")
    if not isinstance(cited, str) or not cited:
        raise ToolFailure(f"edits[{i}]: '{key}' for line {number} is required (read the file with hashes: true)")
    current = lines[number - 1].removesuffix("\r")
    actual = line_hash(current)
    if cited.strip().lower() != actual:
        raise ToolFailure(
            f"edits[{i}]: line {number} no longer has hash {cited} (now {actual}: {current[:80]!r}); the file "
            "changed since you read it: read it again with hashes: true and cite the current lines"
        )


def _keep_cr(replaced: str, line: str) -> str:
    """In a file with mixed line endings, a replaced CRLF line keeps its CR."""
    return line + "\r" if replaced.endswith("\r") and not line.endswith("\r") else line


def _diff(before: str, after: str, name: str) -> list[str]:
    import difflib

    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}", n=3
    )
    return [ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines]
