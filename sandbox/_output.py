"""Bounded output capture: the head and tail of a stream in memory, the whole stream in a log file.

Memory stays at most `cap` bytes (plus one chunk) however much the command prints.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path

_default_dir: Path | None = None


def new_log_path(log_dir: Path | None) -> Path:
    """A fresh, private (0600) log file path in log_dir or in this process's private temporary directory."""
    global _default_dir
    if log_dir is None:
        if _default_dir is None or not _default_dir.is_dir():
            _default_dir = Path(tempfile.mkdtemp(prefix="corral-sandbox-"))
        directory = _default_dir
    else:
        directory = log_dir
        directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return directory / f"cmd-{stamp}-{secrets.token_hex(4)}.log"


class Capture:
    """Accumulates chunks: head (first cap//2 bytes), tail (last cap - cap//2 bytes), full log on disk."""

    def __init__(self, cap: int, log_path: Path) -> None:
        self.cap = max(cap, 0)
        self.head_cap = self.cap // 2
        self.tail_cap = self.cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.log_path = log_path
        self._fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)

    def add(self, chunk: bytes) -> None:
        """Record one chunk (write-through to the log file)."""
        self.total += len(chunk)
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_cap > 0:
            if len(chunk) >= self.tail_cap:
                self.tail = bytearray(chunk[-self.tail_cap :])
            else:
                self.tail += chunk
                excess = len(self.tail) - self.tail_cap
                if excess > 0:
                    del self.tail[:excess]

    def close(self) -> None:
        """Close the log file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    @property
    def truncated(self) -> bool:
        """True when some bytes are only in the log file."""
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        """head + omission marker + tail, decoded leniently."""
        if not self.truncated:
            return (bytes(self.head) + bytes(self.tail)).decode("utf-8", errors="replace")
        omitted = self.total - len(self.head) - len(self.tail)
        head = bytes(self.head).decode("utf-8", errors="replace")
        tail = bytes(self.tail).decode("utf-8", errors="replace")
        return f"{head}\n… [{omitted} bytes omitted] …\n{tail}"
