"""File helpers shared by the tools: path resolution, stamps (read-before-write), atomic writes, binary sniffing.

Paths resolve the way the policy engine resolves them (`~`/`~/` against ctx.home, relative paths against
ctx.cwd, `.`/`..` folded), then symlinks are followed, so a tool touches exactly the file the engine
judged. Stamps are keyed by that resolved path.
"""

from __future__ import annotations

import os
import stat
import threading
import zlib
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TypeVar

from agent.tools.base import FileStamp, ToolContext, ToolResult

T = TypeVar("T")

SNIFF_BYTES = 8192
MAX_TEXT_BYTES = 10 * 1024 * 1024


class ToolFailure(Exception):
    """A failed call, reported to the model as ToolResult(is_error=True) with this message."""

    def result(self) -> ToolResult:
        return ToolResult(str(self), is_error=True)


def lexical_path(ctx: ToolContext, text: str) -> Path:
    """The path as the policy engine reads it: `~` expanded, joined to ctx.cwd, `.`/`..` folded."""
    if text == "~":
        text = str(ctx.home)
    elif text.startswith("~/"):
        text = str(ctx.home) + text[1:]
    return Path(os.path.normpath(os.path.join(ctx.cwd, text)))


def resolve_path(ctx: ToolContext, text: str) -> Path:
    """lexical_path with every existing symlink followed (a missing tail is kept as written)."""
    if not text:
        raise ToolFailure("argument 'path' must not be empty")
    if "\0" in text:
        raise ToolFailure("argument 'path' contains a NUL byte")
    return Path(os.path.realpath(lexical_path(ctx, text)))


def display(ctx: ToolContext, path: Path | str) -> str:
    """path relative to ctx.cwd when inside it, else absolute (what the model sees in messages)."""
    text = os.fspath(path)
    cwd = os.path.realpath(ctx.cwd)
    if text == cwd:
        return "."
    if text.startswith(cwd.rstrip("/") + "/"):
        return os.path.relpath(text, cwd)
    return text


def is_binary(head: bytes) -> bool:
    """Heuristic used by read and grep: a NUL byte in the first SNIFF_BYTES."""
    return b"\0" in head[:SNIFF_BYTES]


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


def sha256_file(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def record_stamp(ctx: ToolContext, path: Path, data: bytes | None = None, digest: str | None = None) -> FileStamp:
    """Remember what path looks like now (after a read or a write by this session)."""
    import hashlib

    st = os.stat(path)
    if digest is None:
        digest = hashlib.sha256(data).hexdigest() if data is not None else sha256_file(path)
    stamp = FileStamp(mtime_ns=st.st_mtime_ns, size=st.st_size, digest=digest)
    ctx.stamps[path] = stamp
    return stamp


def check_fresh(ctx: ToolContext, path: Path, verb: str) -> None:
    """Refuse to change an existing file this session has not read, or that changed since it was read."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    name = display(ctx, path)
    stamp = ctx.stamps.get(path)
    if stamp is None:
        raise ToolFailure(
            f"{name} already exists and has not been read in this session: read it first (read tool), then {verb} it"
        )
    if st.st_mtime_ns == stamp.mtime_ns and st.st_size == stamp.size:
        return
    if st.st_size == stamp.size and sha256_file(path) == stamp.digest:
        ctx.stamps[path] = FileStamp(st.st_mtime_ns, st.st_size, stamp.digest)
        return
    raise ToolFailure(
        f"{name} changed on disk since this session last read it (another process or a command modified it): "
        f"read it again, then {verb} it"
    )


def _umask() -> int:
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    """Write data to path atomically: a temporary file in the same directory, fsync, rename over path.
    An existing file keeps its permission bits; a new one gets 0666 minus the umask. Parents are created."""
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".corral-tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    with suppress(OSError):
        dfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def read_text_file(ctx: ToolContext, path: Path) -> tuple[bytes, str]:
    """The bytes and text of an existing UTF-8 text file (for edit); ToolFailure otherwise."""
    name = display(ctx, path)
    if path.is_dir():
        raise ToolFailure(f"{name} is a directory, not a file")
    try:
        size = os.stat(path).st_size
        if size > MAX_TEXT_BYTES:
            raise ToolFailure(f"{name} is {human_size(size)}: too large to edit (limit {human_size(MAX_TEXT_BYTES)})")
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise ToolFailure(f"{name} does not exist (use the write tool to create a file)") from None
    except OSError as exc:
        raise ToolFailure(f"cannot read {name}: {exc.strerror or exc}") from None
    if is_binary(data):
        raise ToolFailure(f"{name} is a binary file ({human_size(len(data))}); it cannot be edited as text")
    try:
        return data, data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolFailure(f"{name} is not valid UTF-8 (binary?, {human_size(len(data))})") from None


async def in_thread(fn: Callable[[threading.Event], T]) -> T:
    """Run a blocking walk in a worker thread; on cancellation return at once and tell the worker to stop
    (it polls the event between files)."""
    import trio

    stop = threading.Event()
    try:
        return await trio.to_thread.run_sync(fn, stop, abandon_on_cancel=True)
    finally:
        stop.set()


def split_lines(text: str) -> list[str]:
    """The lines of text without terminators ("\\n" or "\\r\\n"); a final newline does not start a line.
    read numbers lines this way, and edit's line/hash citations use the same numbering."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def line_hash(line: str) -> str:
    """The short tag read shows with hashes=true: 4 hex digits of the CRC-32 of the line (no terminator)."""
    return f"{zlib.crc32(line.encode('utf-8', 'surrogatepass')) & 0xFFFF:04x}"
