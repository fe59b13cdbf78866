"""The session log's record format: one JSON object per line, and the side files large contents live in.

Every record is ``{"v": 1, "type": ..., "ts": <unix time>, ...}`` with ``v``, ``type`` and ``ts`` always the
first three keys (written compactly, so a line starts with ``{"v":1,"type":"message"``: counting messages in a
file needs no JSON parsing). ``v`` is the format version: a reader refuses a record whose ``v`` is newer than
``VERSION`` (it was written by a newer corral) and skips, with a warning, a record type it does not know.

A message is stored whole (role, content, reasoning and its signature, tool calls with id, name, arguments,
raw arguments, parse error and signature, tool_call_id, name, is_error); fields at their default value are
left out. A ``content`` or ``reasoning`` longer than ``BLOB_THRESHOLD`` bytes, or tool-call arguments that
serialise longer, goes to a side file ``blobs/<sha256>`` (written to a temporary name then renamed, 0600,
identical contents stored once) and the record keeps ``{"ref": "blobs/<sha256>", "size": N}`` instead
(``arguments_ref`` for arguments). Side files are read back only when a message is rebuilt.

Every line is valid UTF-8 whatever the content (``utf8``: lone surrogates become U+FFFD), so no content can
damage its line. Reading (``iter_records``) streams the log, opened only when it is a regular file (never
blocking on a FIFO): the header must be the first line; a torn or damaged line is skipped with a warning
naming its number; a newer ``v`` anywhere raises SessionError (upgrade corral).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from agent.errors import CorralError
from agent.providers.base import Message, ToolCall

VERSION = 1
LOG_NAME = "session.jsonl"  # the log's name inside its session directory
BLOB_THRESHOLD = 16 * 1024
BLOB_DIR = "blobs"
HEADER_BYTES = 64 * 1024  # a header line longer than this is not a session header
RECORD_TYPES = ("session", "message", "mode", "model", "prompt", "thinking", "todo", "approval", "usage", "name",
                "compaction", "note")
_ROLES = ("system", "user", "assistant", "tool")


class SessionError(CorralError):
    """A session that cannot be read or written: missing, not a session, damaged or from a newer corral.
    ``reason`` is the short why (``it is empty``), for listings that name the session themselves."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


def dumps(record: Mapping[str, object]) -> bytes:
    """One record as a compact JSON line (UTF-8, newline-terminated); unknown objects become strings.
    Always valid UTF-8 (see ``utf8``), so no content can make its line unreadable."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
    return utf8(text + "\n")


def utf8(text: str) -> bytes:
    """Text as valid UTF-8 whatever it holds: a lone surrogate (undecodable bytes from a terminal, a file
    name or a pipe, kept by Python as surrogate escapes) becomes U+FFFD instead of bytes no reader accepts."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 keeps a valid surrogate pair as one character and turns a lone surrogate into U+FFFD.
        fixed = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return fixed.encode("utf-8", "replace")


# ------------------------------------------------------------------------------------------------ side files


def write_blob(directory: Path, data: bytes) -> str:
    """Store data as ``blobs/<sha256>`` under the session directory (once: an existing side file of the same
    size is reused) and return the reference. Written to a private temporary name, then renamed, so a
    reader never sees half a side file. Raises OSError."""
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    ref = f"{BLOB_DIR}/{digest}"
    blobs = directory / BLOB_DIR
    target = blobs / digest
    try:
        st = os.lstat(target)
        if st.st_size == len(data) and not os.path.islink(target):
            return ref
    except FileNotFoundError:
        pass
    try:
        os.mkdir(blobs, 0o700)
    except FileExistsError:
        pass
    write_private(target, data)
    return ref


def write_private(path: Path, data: bytes) -> None:
    """Write a file of the session (0600) whole or not at all: a temporary file renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_blob(directory: Path, ref: object) -> str:
    """The text of a side file named by a ``{"ref": ..., "size": ...}`` object. Raises SessionError for a
    reference that leaves the blobs directory or a side file that is missing or unreadable."""
    if not isinstance(ref, Mapping) or not isinstance(ref.get("ref"), str):
        raise SessionError(f"bad side-file reference {ref!r} in {directory}")
    name = str(ref["ref"])
    parts = name.split("/")
    if len(parts) != 2 or parts[0] != BLOB_DIR or not parts[1] or parts[1].startswith("."):
        raise SessionError(f"bad side-file reference {name!r} in {directory}")
    path = directory / BLOB_DIR / parts[1]
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise SessionError(f"the side file {path} is missing or unreadable ({exc.strerror or exc}); "
                           "the session directory is incomplete") from None
    with os.fdopen(fd, "rb") as fh:
        return fh.read().decode("utf-8", "replace")


def _maybe_blob(directory: Path, text: str, threshold: int) -> object:
    if len(text) * 4 <= threshold:  # cheap pre-check: at most 4 bytes per character
        return text
    data = utf8(text)
    if len(data) <= threshold:
        return text
    return {"ref": write_blob(directory, data), "size": len(data)}


# ---------------------------------------------------------------------------------------------- messages


def encode_message(message: Message, directory: Path, threshold: int = BLOB_THRESHOLD) -> dict[str, object]:
    """The fields of a message record (without v/type/ts); large texts go to side files (raises OSError)."""
    out: dict[str, object] = {"role": message.role}
    if message.content:
        out["content"] = _maybe_blob(directory, message.content, threshold)
    if message.reasoning:
        out["reasoning"] = _maybe_blob(directory, message.reasoning, threshold)
    if message.reasoning_signature is not None:
        out["reasoning_signature"] = message.reasoning_signature
    if message.tool_calls:
        out["tool_calls"] = [_encode_call(call, directory, threshold) for call in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    if message.is_error:
        out["is_error"] = True
    return out


def _encode_call(call: ToolCall, directory: Path, threshold: int) -> dict[str, object]:
    out: dict[str, object] = {"id": call.id, "name": call.name}
    args = json.dumps(call.arguments, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(args) * 4 > threshold and len(data := utf8(args)) > threshold:
        out["arguments_ref"] = {"ref": write_blob(directory, data), "size": len(data)}
    else:
        out["arguments"] = call.arguments
    if call.raw_arguments:
        out["raw_arguments"] = _maybe_blob(directory, call.raw_arguments, threshold)
    if call.parse_error is not None:
        out["parse_error"] = call.parse_error
    if call.signature is not None:
        out["signature"] = call.signature
    return out


def check_message(record: Mapping[str, object]) -> str | None:
    """Why a message record cannot be rebuilt (checked when the log is loaded), else None."""
    if record.get("role") not in _ROLES:
        return f"unknown role {record.get('role')!r}"
    for key in ("content", "reasoning"):
        value = record.get(key, "")
        if not isinstance(value, str) and not _is_ref(value):
            return f"{key} is neither text nor a side-file reference"
    calls = record.get("tool_calls", [])
    if not isinstance(calls, list) or not all(
            isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("name"), str) for c in calls):
        return "tool_calls is not a list of calls with an id and a name"
    if any("arguments_ref" in c and not _is_ref(c["arguments_ref"]) for c in calls):
        return "a tool call's arguments_ref is not a side-file reference"
    return None


def _is_ref(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("ref"), str)


def _text(directory: Path, value: object, lost: list[str] | None) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return read_blob(directory, value)
    except SessionError as exc:
        if lost is None:
            raise
        lost.append(str(exc))
        return f"[corral: this content was lost: {exc}]"


def decode_message(record: Mapping[str, object], directory: Path, lost: list[str] | None = None) -> Message:
    """A Message from a message record that passed check_message, side files read now. A missing side file
    raises SessionError, or with ``lost`` given becomes a placeholder text and a warning appended to it."""
    calls = []
    raw_calls = record.get("tool_calls") or []
    assert isinstance(raw_calls, list)
    for raw in raw_calls:
        assert isinstance(raw, dict)
        arguments = raw.get("arguments", {})
        raw_arguments = _text(directory, raw.get("raw_arguments", ""), lost)
        if "arguments_ref" in raw:
            text = _text(directory, raw["arguments_ref"], lost)
            try:
                arguments = json.loads(text)
            except ValueError:
                arguments, raw_arguments = {}, text
        calls.append(ToolCall(
            id=str(raw["id"]), name=str(raw["name"]),
            arguments=arguments if isinstance(arguments, dict) else {},
            raw_arguments=raw_arguments,
            parse_error=_opt_str(raw.get("parse_error")), signature=_opt_str(raw.get("signature")),
        ))
    role = record["role"]
    assert role in _ROLES
    return Message(
        role=role,  # type: ignore[arg-type]
        content=_text(directory, record.get("content", ""), lost),
        reasoning=_text(directory, record.get("reasoning", ""), lost),
        reasoning_signature=_opt_str(record.get("reasoning_signature")),
        tool_calls=calls,
        tool_call_id=_opt_str(record.get("tool_call_id")),
        name=_opt_str(record.get("name")),
        is_error=bool(record.get("is_error", False)),
    )


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def excerpt_of(record: Mapping[str, object], limit: int = 100) -> str:
    """A one-line excerpt of a message record's text, without reading side files."""
    content = record.get("content", "")
    if isinstance(content, dict):
        return f"[{content.get('size', '?')} bytes]"
    text = " ".join(str(content).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------- reading


def not_a_session(path: Path, why: str) -> SessionError:
    """A log that cannot be a session. Inside a session directory that means a damaged session: say how to
    remove it; any other path was probably given by mistake."""
    if path.name == LOG_NAME:
        hint = f"it cannot be resumed; `corral sessions rm {path.parent.name}` removes it"
    else:
        hint = "give a session id or name from `corral sessions list --all`"
    return SessionError(f"{path} is not a corral session ({why}); {hint}", why)


def newer(path: Path, lineno: int, version: object) -> SessionError:
    return SessionError(f"{path} line {lineno} was written by a newer corral (session format v{version}, this "
                        f"corral reads up to v{VERSION}): upgrade corral to open this session",
                        f"written by a newer corral (format v{version}): upgrade corral to open it")


def open_log(path: Path) -> BinaryIO:
    """A session log opened for reading: never through a symlink, only a regular file. Raises SessionError.

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer (listing must never
    hang on one broken session directory); the type is checked on the descriptor before anything reads
    it, so a directory, FIFO or device is refused with a message, never an OSError from the first read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SessionError(f"cannot open the session {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise SessionError(f"cannot open the session {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise not_a_session(path, f"it is {_kind_of(mode)}, not a regular file")
    os.set_blocking(fd, True)  # a regular file: reads never block anyway; keep the descriptor ordinary
    return os.fdopen(fd, "rb")


def _kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a file"


def read_header(path: Path) -> dict[str, object]:
    """The header of a session log, reading only its first line. Raises SessionError."""
    with open_log(path) as fh:
        head = fh.readline(HEADER_BYTES)
    return parse_header(path, head)


def parse_header(path: Path, line: bytes) -> dict[str, object]:
    if not line.strip():
        raise not_a_session(path, "it is empty")
    if not line.endswith(b"\n"):
        raise not_a_session(path, "its first line is incomplete: the session was interrupted as it started")
    try:
        header = json.loads(line)
    except ValueError:
        raise not_a_session(path, "its first line is not JSON") from None
    if not isinstance(header, dict):
        raise not_a_session(path, "its first line is not a JSON object")
    if isinstance(header.get("v"), int) and header["v"] > VERSION:
        raise newer(path, 1, header["v"])
    if header.get("type") != "session" or not isinstance(header.get("v"), int):
        raise not_a_session(path, "its first line is not a session header")
    return header


def iter_records(path: Path, warnings: list[str]) -> Iterator[tuple[int, dict[str, object]]]:
    """(line number, record) for every readable record of a log, the header first. Torn or damaged lines and
    records without a version are skipped with a warning; a newer version raises SessionError."""
    with open_log(path) as fh:
        yield 1, parse_header(path, fh.readline())
        lineno = 1
        for raw in fh:
            lineno += 1
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw.decode("utf-8"))  # str is faster than bytes (no encoding detection)
            except ValueError:  # UnicodeDecodeError included
                rec = None
            if not isinstance(rec, dict) or not isinstance(rec.get("v"), int) or not isinstance(rec.get("type"), str):
                if not raw.endswith(b"\n"):
                    warnings.append(f"{path}: line {lineno} is incomplete (the session was interrupted while "
                                    "writing it); skipped")
                else:
                    warnings.append(f"{path}: line {lineno} is damaged (not a session record); skipped")
                continue
            if rec["v"] > VERSION:
                raise newer(path, lineno, rec["v"])
            yield lineno, rec
