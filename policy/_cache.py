"""The startup cache: results that are slow to compute and depend only on their inputs, kept in
``$XDG_CACHE_HOME/corral/`` (default ``~/.cache/corral/``) so that a fresh process need not redo them.

Two kinds of entries: a rule file that parsed and whose examples all passed (``_rulecache.py``), and
the parsed command catalog (``_catalog.py``). An entry's name is a hash of everything its content
depends on: its input (a rule file's bytes; the catalog file's path, size and times), the *code
fingerprint* (the Python version, the size and times of every ``policy/*.py`` source, like Python's
own ``.pyc`` check, and where pathspec and bashlex are installed) and a format number. A changed
input or changed code is another name, so a stale entry is never read, only pruned.

An entry is a magic line, a BLAKE2b digest of the payload and the payload as ``marshal`` data (plain
dicts, lists, tuples, strings and numbers; never pickle, never code). A truncated, corrupt or
garbage entry fails the digest check and reads as a miss. Only successful results are written,
atomically (a temporary file renamed into place). Nothing here raises: a cache directory that cannot
be created or written means the slow path every time. BLAKE2b, not SHA-256: ``hashlib`` loads
OpenSSL at import (5 ms here), ``_blake2`` is built in and as strong.
"""

from __future__ import annotations

import marshal
import os
import sys
from typing import TypeAlias

try:
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - every CPython has _blake2; hashlib's is the same function
    from hashlib import blake2b as _blake2b

# What an entry may hold (what tomllib produces, minus dates, plus tuples).
Plain: TypeAlias = "bool | int | float | str | bytes | tuple[Plain, ...] | list[Plain] | dict[str, Plain] | None"

FORMAT = 1
_MAGIC = b"corral-cache 1\n"
_DIGEST = 32
MAX_ENTRIES = 64  # per kind of entry; the oldest beyond this are removed when one is written
_fingerprint: str | None = None


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "corral")


def digest(*parts: str | bytes) -> str:
    """A hex digest of ``parts`` (length-prefixed, so that no two lists of parts collide)."""
    h = _blake2b(digest_size=_DIGEST)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        h.update(b"%d:" % len(data))
        h.update(data)
    return h.hexdigest()


def stamp(path: str) -> str:
    """A file's identity without reading it: path, size, modification and change times, inode.
    Raises OSError when it cannot be stat'ed."""
    st = os.stat(path)
    return f"{path}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def code_fingerprint() -> str:
    """What every entry depends on besides its own input (computed once per process)."""
    global _fingerprint
    if _fingerprint is None:
        here = os.path.dirname(os.path.abspath(__file__))
        parts = [str(FORMAT), sys.version, sys.implementation.cache_tag or "", str(marshal.version)]
        try:
            names = sorted(n for n in os.listdir(here) if n.endswith(".py"))
            parts.extend(stamp(os.path.join(here, n)) for n in names)
        except OSError:
            parts.append("unreadable")
        parts.extend(_installed(name) for name in ("pathspec", "bashlex"))
        _fingerprint = digest(*parts)
    return _fingerprint


def _installed(package: str) -> str:
    """Where ``package`` is installed, with the times of its directory and of the directory that
    holds it (an install, upgrade or removal changes both), without importing anything."""
    for entry in sys.path:
        try:
            base = entry or os.getcwd()
            where = os.path.join(base, package)
            if os.path.isdir(where):
                return f"{package}:{stamp(where)}:{stamp(base)}"
        except OSError:
            continue
    return f"{package}:missing"


def key(*parts: str | bytes) -> str:
    """An entry key: the digest of ``parts`` and the code fingerprint."""
    return digest(code_fingerprint(), *parts)


def catalog_entry(path: str) -> tuple[str, str] | None:
    """The entry name of the parsed command catalog at the absolute ``path`` (by its stamp, so the
    file is not read) and the prefix shared by its other versions; None when it cannot be stat'ed."""
    try:
        identity = stamp(path)
    except OSError:
        return None
    prefix = f"catalog-{key(path)[:16]}-"  # this file under this code
    return prefix + key(identity)[:40] + ".bin", prefix


def exists(name: str) -> bool:
    return os.path.isfile(os.path.join(cache_dir(), name))


def read(name: str) -> object:
    """The value stored under ``name``, or None when there is none or it is damaged."""
    try:
        with open(os.path.join(cache_dir(), name), "rb") as fh:
            blob = fh.read()
    except (OSError, ValueError):
        return None
    head = len(_MAGIC) + _DIGEST
    if len(blob) < head or not blob.startswith(_MAGIC):
        return None
    payload = blob[head:]
    if _blake2b(payload, digest_size=_DIGEST).digest() != blob[len(_MAGIC) : head]:
        return None
    try:
        value: object = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return value


def write(name: str, value: Plain, *, kind: str, replaces: str | None = None) -> None:
    """Store ``value`` under ``name`` (``kind`` is the name's first part, e.g. ``rules``), atomically.
    Entries whose names start with ``replaces`` (older versions of the same input under the same
    code) are removed, and the oldest entries of ``kind`` beyond MAX_ENTRIES too. Failures are
    ignored."""
    try:
        payload = marshal.dumps(value)
    except ValueError:  # a value marshal cannot store: just do not cache it
        return
    directory = cache_dir()
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + _blake2b(payload, digest_size=_DIGEST).digest() + payload)
        except BaseException:
            _remove(tmp)
            raise
        os.replace(tmp, os.path.join(directory, name))
    except OSError:
        return
    _prune(directory, name, kind, replaces)


def _prune(directory: str, keep: str, kind: str, replaces: str | None) -> None:
    try:
        names = [n for n in os.listdir(directory) if n.startswith(kind + "-") and n != keep]
    except OSError:
        return
    aged: list[tuple[int, str]] = []
    for n in names:
        path = os.path.join(directory, n)
        if replaces is not None and n.startswith(replaces):
            _remove(path)
            continue
        try:
            aged.append((os.stat(path).st_mtime_ns, path))
        except OSError:
            continue
    aged.sort(reverse=True)
    for _mtime, path in aged[MAX_ENTRIES - 1 :]:
        _remove(path)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
