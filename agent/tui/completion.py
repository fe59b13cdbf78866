"""Completion in the input line, and the files a prompt attaches with `@path`.

`InputCompleter` (a prompt_toolkit `Completer`):
- after `@` (at the start or after a space) it offers project files and directories, relative to the project
  root: paths that start with what was typed first, then names that start with it, then paths that contain
  it, then paths that contain its characters in order (fuzzy), case-insensitively. The list comes from the
  search tools' walk (agent/tools/_walk.py): `.gitignore` is honoured, `.git`/`node_modules`/… skipped, and
  files the policy engine protects (`protected`) are never offered. It is cached for a few seconds.
  Names with whitespace are not offered (an `@path` token ends at a space).
- when the input starts with `/` and has no space yet, it offers the slash commands, with their descriptions.

The walk runs in the caller's thread: wrap the completer in prompt_toolkit's `ThreadedCompleter` so a large
tree never stalls typing.

`attachments(text, project_root, protected, max_bytes)`: the files named by the `@path` tokens of a submitted
prompt, read so the UI can attach them to the user message. Each is an `Attachment(path, text, truncated,
error)`: files larger than max_bytes are cut (truncated=True); binary files, protected files, directories,
files outside the project (symlinks followed) and missing ones are refused with the reason in `error`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from agent.values import frozen

MAX_FILES = 50_000
MAX_RESULTS = 60
CACHE_SECONDS = 3.0
TRAILING_PUNCTUATION = ",.;:!?)]}'\""

_AT_TOKEN = re.compile(r"(?:^|(?<=\s))@(\S*)$")
_AT_TOKENS = re.compile(r"(?:^|(?<=\s))@(\S+)")
_COMMAND = re.compile(r"^\s*/(\S*)$")

Protected = Callable[[Path], bool]


@frozen
class Attachment:
    """A file named with `@path` in a prompt. path: relative to the project root, as typed (normalised);
    text: its content (empty when refused); truncated: cut at max_bytes; error: why it was not attached."""

    path: str
    text: str = ""
    truncated: bool = False
    error: str | None = None


class InputCompleter(Completer):
    """`@` file paths and `/` commands (see the module docstring). commands: (name, description) pairs, with or
    without the leading "/", or a function giving them (read at each completion)."""

    def __init__(
        self,
        project_root: Path,
        protected: Protected = lambda _path: False,
        commands: Sequence[tuple[str, str]] | Callable[[], Sequence[tuple[str, str]]] = (),
        *,
        max_results: int = MAX_RESULTS,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.project_root = Path(os.path.realpath(project_root))
        self.protected = protected
        self.commands = commands
        self.max_results = max_results
        self.cache_seconds = cache_seconds
        self._files: list[tuple[str, bool]] = []
        self._listed_at: float | None = None

    def refresh(self) -> None:
        """Forget the cached file list (the project changed, or the policy engine is now loaded)."""
        self._listed_at = None

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        before = document.text_before_cursor
        command = _COMMAND.match(before)
        if command is not None:
            yield from self._command_completions(command.group(1))
            return
        at = _AT_TOKEN.search(before)
        if at is not None:
            yield from self._path_completions(at.group(1))

    # ------------------------------------------------------------------------------- slash commands

    def _command_completions(self, typed: str) -> Iterable[Completion]:
        pairs = self.commands() if callable(self.commands) else self.commands
        lowered = typed.lower()
        starts, contains = [], []
        for name, description in pairs:
            bare = name.lstrip("/")
            if bare.lower().startswith(lowered):
                starts.append((bare, description))
            elif lowered and lowered in bare.lower():
                contains.append((bare, description))
        for bare, description in starts + contains:
            yield Completion(bare, -len(typed), display="/" + bare, display_meta=description)

    # ------------------------------------------------------------------------------- @ paths

    def _path_completions(self, typed: str) -> Iterable[Completion]:
        query = typed.removeprefix("./").lower()
        ranked: list[tuple[int, int, str, bool]] = []
        for rel, is_dir in self.files():
            rank = _rank(rel, query)
            if rank is not None:
                ranked.append((rank, len(rel), rel, is_dir))
        ranked.sort()
        for _, _, rel, is_dir in ranked[: self.max_results]:
            shown = rel + "/" if is_dir else rel
            yield Completion(shown, -len(typed), display=shown, display_meta="directory" if is_dir else None)

    def files(self) -> list[tuple[str, bool]]:
        """(path relative to the project root, is a directory) of every file the completion may offer."""
        now = time.monotonic()
        if self._listed_at is None or now - self._listed_at > self.cache_seconds:
            self._files = list_files(self.project_root, self.protected)
            self._listed_at = now
        return self._files


def _rank(rel: str, query: str) -> int | None:
    """0: the path starts with query; 1: its name does; 2: it contains query; 3: query's characters in order."""
    if not query:
        return 0 if "/" not in rel else 1  # top-level entries first
    path = rel.lower()
    if path.startswith(query):
        return 0
    if path.rsplit("/", 1)[-1].startswith(query):
        return 1
    if query in path:
        return 2
    at = 0
    for ch in query:
        at = path.find(ch, at) + 1
        if not at:
            return None
    return 3


def list_files(project_root: Path, protected: Protected, limit: int = MAX_FILES) -> list[tuple[str, bool]]:
    """The project's files and directories the search tools would see (the .gitignore-aware walk), at most
    limit of them; names with whitespace are left out (an @path token cannot hold them)."""
    from agent.tools._walk import walk
    from agent.tools.base import ToolContext

    root = os.path.realpath(project_root)
    ctx = ToolContext(project_root=Path(root), cwd=Path(root), protected=protected)
    out: list[tuple[str, bool]] = []
    for entry in walk(root, ctx):
        if any(ch.isspace() for ch in entry.rel):
            continue
        out.append((entry.rel, entry.is_dir))
        if len(out) >= limit:
            break
    return out


# ------------------------------------------------------------------------------------------------ attaching


def attachments(text: str, project_root: Path, protected: Protected, max_bytes: int) -> list[Attachment]:
    """The files named by `@path` tokens in text, in order, each once (see the module docstring)."""
    root = Path(os.path.realpath(project_root))
    seen: set[str] = set()
    out: list[Attachment] = []
    for match in _AT_TOKENS.finditer(text):
        token = match.group(1)
        rel = _existing_token(root, token)
        if rel is None:
            continue
        if rel in seen:
            continue
        seen.add(rel)
        out.append(_attach(root, rel, protected, max_bytes))
    return out


def _existing_token(root: Path, token: str) -> str | None:
    """The token as a normalised relative path: as typed, or without trailing punctuation when only that
    names something ("see @src/app.py." ); None for a token that is no path at all (a bare "@")."""
    candidates = [token]
    stripped = token.rstrip(TRAILING_PUNCTUATION)
    if stripped and stripped != token:
        candidates.append(stripped)
    for candidate in candidates:
        if os.path.lexists(root / candidate):
            return _normal(candidate)
    name = _normal(stripped or token)
    return name or None


def _normal(token: str) -> str:
    return os.path.normpath(token.rstrip("/")) if token.strip("/") else ""


def _attach(root: Path, rel: str, protected: Protected, max_bytes: int) -> Attachment:
    lexical = Path(os.path.normpath(root / rel))
    real = Path(os.path.realpath(lexical))
    if protected(lexical) or protected(real):
        return Attachment(rel, error="protected by the policy (secrets, credentials …): not attached")
    if not real.is_relative_to(root):
        return Attachment(rel, error="outside the project: not attached")
    from agent.context_files import Unreadable, read_regular
    from agent.tools._files import is_binary

    if not os.path.exists(real):
        return Attachment(rel, error="no such file")
    if os.path.isdir(real):
        return Attachment(rel, error="a directory, not a file: name a file")
    try:
        data, _ = read_regular(real, max_bytes)  # regular files only: a FIFO must not hang the UI
    except Unreadable as exc:
        return Attachment(rel, error=f"{exc}: not attached")
    if is_binary(data):
        return Attachment(rel, error="a binary file: not attached")
    truncated = len(data) > max_bytes
    data = data[:max_bytes]
    try:
        body = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (truncated and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data"):
            return Attachment(rel, error="not UTF-8 text: not attached")
        body = data[: exc.start].decode("utf-8")  # the cut fell inside a character
    return Attachment(rel, body, truncated)
