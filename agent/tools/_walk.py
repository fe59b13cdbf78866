"""Walking a directory tree the way the search tools see it, and matching globs.

The walk skips `.git`, `node_modules`, `__pycache__`, `.venv`, whatever `.gitignore` files (and
`.git/info/exclude`) ignore, and every path `ctx.protected` reports, so grep, find_files and list_dir never
read or reveal protected files. Nested `.gitignore` files apply below their directory, deeper ones first,
as in git. Symlinked directories are listed but not followed. pathspec is imported only when a
`.gitignore` is found.

A caller that opens the files it walks (grep) passes `escaped`: symbolic links whose real target lies
outside both the project and the walk root are then not yielded but collected there. Opening one would
read an outside file that the `read` tool would have to ask about; the caller notes them instead, so
the model can read them by name and the policy judges that read.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agent.tools.base import ToolContext
from agent.values import frozen

ALWAYS_SKIP = frozenset({".git", "node_modules", "__pycache__", ".venv"})

Specs = tuple[tuple[str, Any], ...]  # (directory, pathspec.GitIgnoreSpec), outermost first


@frozen
class Entry:
    path: str  # absolute
    rel: str  # relative to the walk root, "/"-separated
    is_dir: bool
    depth: int  # 1 for the root's own entries


def _load_ignore(path: str) -> Any:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    lines = [line for line in lines if line.strip() and not line.startswith("#")]
    if not lines:
        return None
    import pathspec

    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except Exception:  # a malformed .gitignore must not break a search
        return None


def _with_dir(specs: Specs, directory: str) -> Specs:
    spec = _load_ignore(os.path.join(directory, ".gitignore"))
    return (*specs, (directory, spec)) if spec is not None else specs


def initial_specs(root: str, project_root: str) -> Specs:
    """Ignore specs from the project root down to (not including) root, plus .git/info/exclude."""
    specs: Specs = ()
    if not (root == project_root or root.startswith(project_root.rstrip("/") + "/")):
        return specs
    exclude = _load_ignore(os.path.join(project_root, ".git", "info", "exclude"))
    if exclude is not None:
        specs = ((project_root, exclude),)
    current = project_root
    rel_parts = [p for p in root[len(project_root) :].split("/") if p]
    for part in rel_parts:
        specs = _with_dir(specs, current)
        current = os.path.join(current, part)
    return specs


def is_ignored(path: str, is_dir: bool, specs: Specs) -> bool:
    """The verdict of the deepest .gitignore with a matching pattern (False when none matches)."""
    for base, spec in reversed(specs):
        rel = path[len(base) :].lstrip("/")
        if is_dir:
            rel += "/"
        include = spec.check_file(rel).include
        if include is not None:
            return bool(include)
    return False


def walk(
    root: str,
    ctx: ToolContext,
    stop: threading.Event | None = None,
    max_depth: int | None = None,
    escaped: list[str] | None = None,
) -> Iterator[Entry]:
    """Depth-first, sorted by name, each directory yielded before its contents (entries deeper than
    max_depth are not visited). root must be a real, absolute directory; the walk stops when stop is set.
    With escaped, symlinks leading out of the project and the root are skipped and appended to it."""
    project = os.path.realpath(ctx.project_root)
    specs = initial_specs(root, project)
    if specs and is_ignored(root, True, specs):
        specs = ()  # a path given explicitly is searched even when ignored (its own .gitignore files apply)
    scope = _Scope(ctx, root, (project, os.path.realpath(root)), escaped, max_depth, stop)
    yield from _walk_dir(scope, root, specs, 1)


@frozen
class _Scope:
    """What stays the same for every directory of one walk."""

    ctx: ToolContext
    root: str
    bounds: tuple[str, ...]  # real directories a followed symlink may lead into
    escaped: list[str] | None
    max_depth: int | None
    stop: threading.Event | None


def _inside(path: str, bounds: tuple[str, ...]) -> bool:
    return any(path == b or path.startswith(b.rstrip("/") + "/") for b in bounds)




def _walk_dir(scope: _Scope, directory: str, specs: Specs, depth: int) -> Iterator[Entry]:
    ctx, root, max_depth, stop = scope.ctx, scope.root, scope.max_depth, scope.stop
    specs = _with_dir(specs, directory)
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if stop is not None and stop.is_set():
            return
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_dir and entry.name in ALWAYS_SKIP:
            continue
        if specs and is_ignored(entry.path, is_dir, specs):
            continue
        if ctx.protected(Path(entry.path)):
            continue
        if entry.is_symlink():
            if ctx.protected(Path(os.path.realpath(entry.path))):
                continue
            if scope.escaped is not None and not _inside(os.path.realpath(entry.path), scope.bounds):
                scope.escaped.append(entry.path)
                continue
        rel = entry.path[len(root) :].lstrip("/")
        yield Entry(entry.path, rel, is_dir, depth)
        if is_dir and (max_depth is None or depth < max_depth):
            yield from _walk_dir(scope, entry.path, specs, depth + 1)


# ------------------------------------------------------------------------------------------------ globs


def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A matcher for a relative "/"-separated path. `*` and `?` stay within one component, `**` crosses
    them, `[abc]`/`[!a-z]` and `{a,b}` work. A pattern without "/" matches the file name at any depth
    (`*.py`); one with "/" matches the path from the search root (`src/**/*.ts`)."""
    pattern = pattern.strip()
    while pattern.startswith("./"):
        pattern = pattern[2:]
    pattern = pattern.lstrip("/")
    regex = re.compile(_translate(pattern) + r"\Z", re.DOTALL)
    if "/" not in pattern:
        return lambda rel: regex.match(rel.rsplit("/", 1)[-1]) is not None
    return lambda rel: regex.match(rel) is not None


def _translate(pat: str) -> str:
    out: list[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pat.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pat.find("]", i + 2 if pat[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pat[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "{":
            end, alternatives = _braces(pat, i)
            if end < 0:
                out.append(re.escape(c))
            else:
                out.append("(?:" + "|".join(_translate(alt) for alt in alternatives) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _braces(pat: str, start: int) -> tuple[int, list[str]]:
    """(index of the matching "}", top-level alternatives) for the "{" at start, or (-1, [])."""
    depth = 0
    parts: list[str] = []
    last = start + 1
    for j in range(start, len(pat)):
        ch = pat[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                parts.append(pat[last:j])
                return j, parts
        elif ch == "," and depth == 1:
            parts.append(pat[last:j])
            last = j + 1
    return -1, []
