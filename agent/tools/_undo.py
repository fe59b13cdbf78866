"""Undo of the file changes the agent made, turn by turn: `UndoLog` (kept on the ToolContext) and `UndoReport`.

The write and edit tools tell the log about every change: `before(path)` just before a file is replaced (the
first time in a turn it keeps the file's previous state: bytes and permission bits, or "did not exist"), and
`wrote(path, data)` once the new content is in place (the log keeps its sha256). The front end calls
`begin_turn()` when a user prompt starts and `undo_last_turn()` for /undo, which restores every file the most
recent turn with changes touched: the old content and mode come back atomically (temporary file, fsync,
rename), files the turn created are deleted (and the directories it created for them, when empty). Several
undos step back turn by turn.

A file that changed again since the agent wrote it (its sha256 is no longer the one the agent wrote: the user
edited it, a formatter ran …) is not overwritten: the undo is refused as a whole and reported, nothing is
touched, unless `force=True`. A refused or failed file stays in the log, so the undo can be repeated.

Not tracked: changes made by commands (bash), which run in the sandbox and can touch anything the project
allows; the report says so ("changes made by commands are not undone; use git").

Memory: a previous state up to `memory_limit` bytes is kept in memory; larger ones are copied to a private
directory on disk (0700: the session's directory when given, else `$XDG_CACHE_HOME/corral/undo/<random>`),
removed again when their turn is undone or dropped (`max_turns`), and by `close()`.
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from dataclasses import field
from pathlib import Path

from agent.values import frozen, record

COMMANDS_NOT_UNDONE = "changes made by commands are not undone; use git"
MEMORY_LIMIT = 256 * 1024
MAX_TURNS = 100


@record
class _Change:
    """One file in one turn: its state before the turn's first change, and what the agent last wrote."""

    existed: bool
    mode: int = 0
    data: bytes | None = None  # the previous content, when kept in memory
    spill: Path | None = None  # the previous content, when kept on disk
    written: str | None = None  # sha256 of what the agent last wrote (None: the write did not happen)
    made_dirs: tuple[Path, ...] = ()  # directories the turn created for a new file, outermost first


@frozen
class UndoReport:
    """What one undo did. `restored`: files put back as they were; `removed`: files the turn had created;
    `refused`: (file, why) for files changed since the agent wrote them (nothing was touched then);
    `failed`: (file, error) for files that could not be restored; `turns_left`: undoable turns remaining."""

    restored: tuple[Path, ...] = ()
    removed: tuple[Path, ...] = ()
    refused: tuple[tuple[Path, str], ...] = ()
    failed: tuple[tuple[Path, str], ...] = ()
    turns_left: int = 0
    nothing: bool = False  # there was no turn with file changes to undo

    @property
    def ok(self) -> bool:
        return not self.nothing and not self.refused and not self.failed

    def __str__(self) -> str:
        return self.message()

    def message(self, root: Path | None = None) -> str:
        """A few lines for the user (paths relative to root when inside it)."""

        def name(path: Path) -> str:
            if root is not None and path.is_relative_to(root):
                return str(path.relative_to(root))
            return str(path)

        if self.nothing:
            return f"Nothing to undo: no file changes by the agent are recorded ({COMMANDS_NOT_UNDONE})."
        lines: list[str] = []
        if self.refused:
            lines.append("Undo refused, nothing was changed: these files changed since the agent wrote them:")
            lines += [f"  {name(p)}: {why}" for p, why in self.refused]
            lines.append("To overwrite them anyway: /undo --force.")
        lines += [f"restored {name(p)}" for p in self.restored]
        lines += [f"removed {name(p)} (created by the agent)" for p in self.removed]
        lines += [f"could not restore {name(p)}: {error}" for p, error in self.failed]
        lines.append(f"Note: {COMMANDS_NOT_UNDONE}.")
        if self.turns_left:
            lines.append(f"{self.turns_left} earlier turn(s) can still be undone.")
        return "\n".join(lines)


@record
class _Turn:
    changes: dict[Path, _Change] = field(default_factory=dict)


class UndoLog:
    """The file changes of a session's recent turns (see the module docstring)."""

    def __init__(
        self, spill_dir: Path | None = None, *, memory_limit: int = MEMORY_LIMIT, max_turns: int = MAX_TURNS
    ) -> None:
        self.memory_limit = memory_limit
        self.max_turns = max_turns
        self._spill_parent = spill_dir
        self._spill_dir: Path | None = None
        self._owns_dir = False
        self._turns: list[_Turn] = []
        self._new_turn = True  # the next change starts a turn (at first, and after an undo)

    # ------------------------------------------------------------------------------- recording (the tools)

    def begin_turn(self) -> None:
        """A user prompt starts: later changes belong to a new turn (an empty current turn is reused)."""
        if not self._turns or self._turns[-1].changes:
            self._turns.append(_Turn())
        self._new_turn = False
        while len(self._turns) > self.max_turns:
            self._discard(self._turns.pop(0))

    def before(self, path: Path, current: bytes | None = None) -> None:
        """path (resolved) is about to be replaced or created: keep its state, the first time in this turn.
        current: its bytes when the caller already read them (edit). Raises OSError when it cannot be read,
        so the change does not happen unrecorded."""
        if self._new_turn:
            self.begin_turn()
        changes = self._turns[-1].changes
        if path in changes:
            return
        try:
            st = os.stat(path)
        except FileNotFoundError:
            changes[path] = _Change(existed=False, made_dirs=_missing_parents(path))
            return
        change = _Change(existed=True, mode=stat.S_IMODE(st.st_mode))
        size = len(current) if current is not None else st.st_size
        if size <= self.memory_limit:
            if current is None:
                with open(path, "rb") as fh:
                    current = fh.read()
            change.data = current
        else:
            change.spill = self._spill(path, current)
        changes[path] = change

    def wrote(self, path: Path, data: bytes) -> None:
        """The agent's new content of path is in place."""
        import hashlib

        change = self._turns[-1].changes.get(path) if self._turns else None
        if change is not None:
            change.written = hashlib.sha256(data).hexdigest()

    # ------------------------------------------------------------------------------- undoing (the front end)

    @property
    def turns(self) -> int:
        """How many turns with recorded file changes can be undone."""
        return sum(1 for turn in self._turns if any(c.written for c in turn.changes.values()))

    def undo_last_turn(self, *, force: bool = False) -> UndoReport:
        """Restore the files of the most recent turn that changed any (see the module docstring)."""
        while self._turns and not any(c.written for c in self._turns[-1].changes.values()):
            self._discard(self._turns.pop())
        if not self._turns:
            return UndoReport(nothing=True)
        self._new_turn = True  # a change after an undo never joins an older turn
        turn = self._turns[-1]
        pending = {p: c for p, c in turn.changes.items() if c.written}
        if not force:
            refused = tuple((p, why) for p, c in sorted(pending.items()) if (why := _changed_since(p, c)))
            if refused:
                return UndoReport(refused=refused, turns_left=self.turns)
        restored: list[Path] = []
        removed: list[Path] = []
        failed: list[tuple[Path, str]] = []
        made_dirs: set[Path] = set()
        for path, change in sorted(pending.items()):
            try:
                if change.existed:
                    self._restore(path, change)
                    restored.append(path)
                else:
                    with suppress(FileNotFoundError):
                        os.unlink(path)
                    made_dirs.update(change.made_dirs)
                    removed.append(path)
            except OSError as exc:
                failed.append((path, exc.strerror or str(exc)))
                continue
            self._discard_change(turn.changes.pop(path))
        _remove_empty(made_dirs)
        if not any(c.written for c in turn.changes.values()):
            self._discard(self._turns.pop())
        return UndoReport(
            restored=tuple(sorted(restored)),
            removed=tuple(sorted(removed)),
            failed=tuple(sorted(failed)),
            turns_left=self.turns,
        )

    def close(self) -> None:
        """Forget everything and remove the previous states kept on disk."""
        for turn in self._turns:
            self._discard(turn)
        self._turns.clear()
        if self._spill_dir is not None and self._owns_dir:
            with suppress(OSError):
                os.rmdir(self._spill_dir)
        self._spill_dir = None

    # ------------------------------------------------------------------------------- insides

    def _restore(self, path: Path, change: _Change) -> None:
        """Put the previous content and mode back atomically: a temporary file beside path, then rename."""
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".corral-undo")
        try:
            with os.fdopen(fd, "wb") as out:
                if change.spill is not None:
                    with open(change.spill, "rb") as src:
                        while chunk := src.read(1 << 20):
                            out.write(chunk)
                else:
                    out.write(change.data or b"")
                out.flush()
                os.fchmod(out.fileno(), change.mode)
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise

    def _spill(self, path: Path, current: bytes | None) -> Path:
        """Copy a large previous state into the private directory; its path there."""
        import tempfile

        directory = self._directory()
        fd, name = tempfile.mkstemp(dir=directory, prefix="pre-", suffix=".bin")
        try:
            with os.fdopen(fd, "wb") as out:
                if current is not None:
                    out.write(current)
                else:
                    with open(path, "rb") as src:
                        while chunk := src.read(1 << 20):
                            out.write(chunk)
        except BaseException:
            with suppress(OSError):
                os.unlink(name)
            raise
        return Path(name)

    def _directory(self) -> Path:
        if self._spill_dir is None:
            if self._spill_parent is not None:
                self._spill_parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(self._spill_parent, 0o700)
                self._spill_dir = self._spill_parent
            else:
                import tempfile

                from agent.xdg import cache_dir

                parent = cache_dir() / "undo"
                parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._spill_dir = Path(tempfile.mkdtemp(dir=parent, prefix="session-"))  # 0700
                self._owns_dir = True
        return self._spill_dir

    def _discard(self, turn: _Turn) -> None:
        for change in turn.changes.values():
            self._discard_change(change)
        turn.changes.clear()

    @staticmethod
    def _discard_change(change: _Change) -> None:
        if change.spill is not None:
            with suppress(OSError):
                os.unlink(change.spill)


def _changed_since(path: Path, change: _Change) -> str | None:
    """Why path no longer holds what the agent wrote, or None when it does."""
    from agent.tools._files import sha256_file

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return "it is no longer a regular file"
        digest = sha256_file(path)
    except FileNotFoundError:
        return None if not change.existed else "it was deleted"
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    return None if digest == change.written else "its content differs from what the agent wrote"


def _missing_parents(path: Path) -> tuple[Path, ...]:
    """The ancestors of path that do not exist yet, outermost first (atomic_write will create them)."""
    missing: list[Path] = []
    parent = path.parent
    while parent != parent.parent and not parent.exists():
        missing.append(parent)
        parent = parent.parent
    return tuple(reversed(missing))


def _remove_empty(directories: set[Path]) -> None:
    """Remove the directories that are empty now, deepest first (others hold files created since)."""
    for directory in sorted(directories, key=lambda d: len(d.parts), reverse=True):
        with suppress(OSError):
            os.rmdir(directory)
