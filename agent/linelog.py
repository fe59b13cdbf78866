"""Append-only line logs: the audit log (audit.py) and the session log (session.py).

Both keep corral's records of a session, so both are written the same careful way: the directories are
created 0700 (parents too: `os.makedirs` would give them the umask's mode), each line goes out in one
`os.write` on a descriptor opened with O_APPEND (lines of concurrent writers never interleave; a SIGKILL
can cut only the line being written), and once the log is open, writing never raises into the caller:
a failed write returns False and is reported once, through `on_error` and `error`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


def private_dirs(path: Path) -> None:
    """Create path and its missing parents with mode 0700."""
    missing: list[Path] = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass


class LineLog:
    """An open append-only log file. Subclasses name themselves in messages with `label`."""

    label = "log"

    def __init__(self, path: Path, fd: int, *, on_error: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.on_error = on_error
        self.error: str | None = None
        self._fd: int | None = fd
        self._lock = threading.Lock()

    def write_line(self, line: bytes) -> bool:
        """Append one whole line (it ends with a newline). False when it could not be written."""
        with self._lock:
            if self._fd is None:
                self._report(f"the {self.label} {self.path} is already closed")
                return False
            try:
                written = os.write(self._fd, line)
                while written < len(line):  # only on a nearly full disk: finish the line rather than leave it cut
                    more = os.write(self._fd, line[written:])
                    if more <= 0:
                        self._report(f"cannot write the {self.label} {self.path}: short write")
                        return False
                    written += more
            except OSError as exc:
                self._report(f"cannot write the {self.label} {self.path}: {exc.strerror or exc}")
                return False
        return True

    def _report(self, message: str) -> None:
        if self.error is not None:
            return
        self.error = message
        if self.on_error is not None:
            try:
                self.on_error(message)
            except Exception:  # a broken callback must not break the caller either
                pass

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __enter__(self) -> LineLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
