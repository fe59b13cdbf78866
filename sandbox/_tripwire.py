"""A tripwire on the git files that cannot be protected by a mount: record before a command, restore after.

`.git/commondir` and `.git/config.worktree` make git read another git directory's configuration (or an
extra one), whose `core.fsmonitor`, `core.hooksPath` and the like run commands: a command that writes
them would make the user's next plain `git status` on the host run code of its choosing. Unlike
`.git/hooks`, they cannot get a read-only placeholder while missing: git dies ("failed to read
.git/commondir") when `commondir` exists as an empty file or a directory, on the host too. So the runner
records each one (absent, or its bytes / symlink target) before the command starts, and once the command
and its whole process tree are gone, puts back whatever changed and says so in `Result.notes`.

The window while the command runs remains: a host git run during the command can see a planted file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from dataclasses import dataclass

from ._spec import GIT_TRIPWIRE, Spec, writable_strs

MAX_BYTES = 1 << 16
"""These files are a line or a few; a bigger one is compared by its first 64 KiB plus size and mtime."""

_WHY = {
    ".git/commondir": "it would make git on your machine read another configuration (and run its code)",
    ".git/config.worktree": "git on your machine reads it as configuration, which can run commands",
}


@dataclass(frozen=True)
class _State:
    kind: str  # "absent", "file", "link" or "other"
    data: bytes = b""
    mode: int = 0o644
    fingerprint: tuple[int, int] = (0, 0)


def _state(path: str) -> _State:
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return _State("absent")
    except OSError:
        return _State("other")
    if stat.S_ISLNK(info.st_mode):
        return _State("link", os.fsencode(os.readlink(path)))
    if not stat.S_ISREG(info.st_mode):
        return _State("other", fingerprint=(info.st_ino, info.st_mtime_ns))
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES)
    except OSError:
        return _State("other", fingerprint=(info.st_ino, info.st_mtime_ns))
    big = (info.st_size, info.st_mtime_ns) if len(data) >= MAX_BYTES else (0, 0)
    return _State("file", data, stat.S_IMODE(info.st_mode), big)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def _restore(path: str, before: _State) -> None:
    _remove(path)
    if before.kind == "link":
        os.symlink(os.fsdecode(before.data), path)
    elif before.kind == "file":
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, before.mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(before.data)


class Tripwire:
    """The recorded state of the guarded files of one run (only in writable roots: elsewhere nothing can
    change them)."""

    def __init__(self, spec: Spec) -> None:
        project = os.path.abspath(spec.project)
        guarded = project in writable_strs(spec)
        self.before = {rel: _state(os.path.join(project, rel)) for rel in GIT_TRIPWIRE} if guarded else {}
        self.project = project

    def restore(self) -> tuple[str, ...]:
        """Put back every guarded file the command created, changed or removed; one note per file."""
        notes: list[str] = []
        for rel, before in self.before.items():
            path = os.path.join(self.project, rel)
            if _state(path) == before:
                continue
            if before.kind == "other":  # a socket or device we cannot recreate: remove nothing, just say so
                notes.append(f"{rel} changed during the command and corral could not restore it: check it")
                continue
            if before.kind == "absent":
                action = f"corral removed {rel}, which the command created"
            else:
                action = f"corral restored {rel}, which the command changed or removed"
            try:
                _restore(path, before)
            except OSError as exc:
                notes.append(
                    f"the command changed {rel} and corral could not restore it ({exc}): fix it "
                    f"before running git here, because {_WHY[rel]}"
                )
                continue
            notes.append(f"{action}: {_WHY[rel]}")
        return tuple(notes)
