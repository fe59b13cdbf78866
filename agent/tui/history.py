"""The input history of the interactive UI, shared by every session: `FileHistory`.

One file, `$XDG_DATA_HOME/corral/history` (0600, in a 0700 directory), one JSON string per line, so an entry
keeps its newlines (a pasted multi-line prompt comes back whole with Up). Appending is one `os.write` of one
line (O_APPEND), so several corral processes can share the file; a torn or foreign line is skipped when
loading. The file keeps the last `keep` entries (1,000): when it holds more than twice that, it is rewritten
with the newest `keep` (temporary file, fsync, rename, under a lock so two processes do not both rewrite).

Like bash's `HISTCONTROL=ignorespace:ignoredups`, an entry that starts with a space is never stored (type a
leading space before something secret), and an entry equal to the previous one is not stored again.

It implements prompt_toolkit's `History` (`load_history_strings`, `store_string`), so the input buffer uses it
directly: `Buffer(history=FileHistory())`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from contextlib import suppress
from pathlib import Path

from prompt_toolkit.history import History

KEEP = 1000


def history_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_DATA_HOME/corral/history` (an absolute XDG_DATA_HOME only), else `~/.local/share/corral/history`."""
    from agent.xdg import data_dir

    return data_dir(environ) / "history"


def ignored(entry: str) -> bool:
    """Entries never stored: blank ones, and ones starting with a space (bash's ignorespace)."""
    return not entry.strip() or entry.startswith(" ")


class FileHistory(History):
    """Input history in a JSON-lines file (see the module docstring). Errors writing the file never reach the
    user's typing: the entry then stays in memory only."""

    def __init__(self, path: Path | None = None, *, keep: int = KEEP) -> None:
        super().__init__()
        self.path = path if path is not None else history_path()
        self.keep = keep
        self._lines: int | None = None  # lines in the file, once known

    # ------------------------------------------------------------------------------- prompt_toolkit's interface

    def load_history_strings(self) -> Iterable[str]:
        """The stored entries, most recent first."""
        entries = self._read()
        return list(reversed(entries))

    def append_string(self, string: str) -> None:
        """Add an entry (Enter): ignored entries are not even kept in memory, like bash's."""
        if ignored(string):
            return
        if self._loaded_strings and self._loaded_strings[0] == string:
            return
        super().append_string(string)

    def store_string(self, string: str) -> None:
        if ignored(string):
            return
        line = (json.dumps(string, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
        try:
            self._ensure_dir()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError:
            return
        if self._lines is None:
            self._lines = len(self._read_lines())
        else:
            self._lines += 1
        if self._lines > 2 * self.keep:
            self._trim()

    # ------------------------------------------------------------------------------- the file

    def _ensure_dir(self) -> None:
        parent = self.path.parent
        if not parent.is_dir():
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _read_lines(self) -> list[bytes]:
        try:
            with open(self.path, "rb") as fh:
                return fh.read().splitlines()
        except OSError:
            return []

    def _read(self) -> list[str]:
        """The entries in the file, oldest first (unreadable lines skipped)."""
        lines = self._read_lines()
        self._lines = len(lines)
        entries: list[str] = []
        for raw in lines:
            try:
                entry = json.loads(raw)
            except ValueError:
                continue  # a torn last line, or not ours
            if isinstance(entry, str) and not ignored(entry):
                entries.append(entry)
        return entries

    def _trim(self) -> None:
        """Rewrite the file with the newest `keep` entries, atomically, under an exclusive lock."""
        import fcntl
        import tempfile

        try:
            lock = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self._read()
            if self._lines is not None and self._lines <= 2 * self.keep:
                return  # another process trimmed it meanwhile
            kept = entries[-self.keep :] if self.keep else []
            data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in kept).encode("utf-8", "backslashreplace")
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".history.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fchmod(out.fileno(), 0o600)
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except OSError:
                with suppress(OSError):
                    os.unlink(tmp)
                return
            self._lines = len(kept)
        finally:
            os.close(lock)
