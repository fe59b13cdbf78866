"""The cache of validated config files: validate a file's content once, load it as plain data afterwards.

Validating a config file needs pydantic and corral's models (``agent/config_schema.py``), which cost more
than the rest of a one-shot run's configuration. So after a file validates, its normalised layer
(``FileLayer``, plain JSON) is stored in ``$XDG_CACHE_HOME/corral/`` (an absolute XDG_CACHE_HOME only, else
``~/.cache/corral/``), named by a key: the sha256 of the file's bytes, the source of every
``agent/config*.py`` module (the code that validates and interprets it) and the Python version. A later
run that reads the same bytes loads the entry instead of validating again. A changed file, or changed
config code, gives another key; an invalid file is never stored, so it is validated (and reported) on
every run.

The cache is only ever an optimisation: an entry that is unreadable, corrupt, not ours (another key
inside, another owner, readable by others) or of an unexpected shape is ignored, and a cache directory
that cannot be written just means validating every time. Entries are written atomically (a temporary
file, then ``os.replace``), mode 0600 (the directory, shared with corral's other caches, is created 0700); at most
``MAX_ENTRIES`` ``config-*.json`` entries are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from agent.config_check import layer_from_json
from agent.config_data import FileLayer

FORMAT = 1
MAX_ENTRIES = 16
_PREFIX = "config-"
_SUFFIX = ".json"
_code_digest: bytes | None = None


def cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/corral`` (an absolute XDG_CACHE_HOME only), else ``$HOME/.cache/corral``."""
    from agent.xdg import cache_dir as corral_cache

    return corral_cache(environ)


def _code() -> bytes:
    """The digest of the Python version and the source of every agent/config*.py module (once a process)."""
    global _code_digest
    if _code_digest is None:
        digest = hashlib.sha256(f"corral config cache {FORMAT}\0{sys.version}\0".encode())
        here = os.path.dirname(os.path.abspath(__file__))
        for name in sorted(os.listdir(here)):
            if name.startswith("config") and name.endswith(".py"):
                with open(os.path.join(here, name), "rb") as fh:
                    source = fh.read()
                digest.update(f"{name}\0{len(source)}\0".encode() + source)
        _code_digest = digest.digest()
    return _code_digest


def cache_key(content: bytes, *, project: bool = False) -> str | None:
    """The key of a config file's content, or None when the config source cannot be read (no caching). A
    project file (``.corral/config.toml``) gets keys of its own: it is validated a little differently
    (``FileLayer.reserved``)."""
    try:
        code = _code()
    except OSError:
        return None
    return hashlib.sha256(code + (b"project\0" if project else b"user\0") + content).hexdigest()


def entry_path(environ: Mapping[str, str], key: str) -> Path:
    return cache_dir(environ) / f"{_PREFIX}{key}{_SUFFIX}"


def load(environ: Mapping[str, str], key: str) -> FileLayer | None:
    """The layer stored under key, or None (no entry, or one to ignore)."""
    try:
        fd = os.open(entry_path(environ, key), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_uid != os.geteuid() or st.st_mode & 0o077 or st.st_size > 1 << 20:
                return None
            entry = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("key") != key:
        return None
    return layer_from_json(entry.get("layer"))


def store(environ: Mapping[str, str], key: str, layer: FileLayer) -> None:
    """Store layer under key; silently does nothing when the cache directory cannot be written."""
    import tempfile

    directory = cache_dir(environ)
    data: dict[str, object] = {"settings": layer.settings, "providers": layer.providers}
    if layer.reserved:
        data["reserved"] = list(layer.reserved)
    entry = {"format": FORMAT, "key": key, "layer": data}
    try:
        text = json.dumps(entry, allow_nan=False, indent=1)
    except (TypeError, ValueError):
        return
    tmp: str | None = None
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{_PREFIX}", suffix=".tmp", dir=directory)  # mode 0600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, entry_path(environ, key))
        tmp = None
        _prune(directory)
    except OSError:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _prune(directory: Path) -> None:
    """Keep the MAX_ENTRIES most recently written entries."""
    entries = []
    for path in directory.glob(f"{_PREFIX}*{_SUFFIX}"):
        try:
            entries.append((path.stat().st_mtime_ns, path))
        except OSError:
            continue
    entries.sort(reverse=True)
    for _, path in entries[MAX_ENTRIES:]:
        try:
            path.unlink()
        except OSError:
            pass
