"""Project trust: whether the user has accepted a project's own ``.corral/`` settings.

A repository can carry ``.corral/config.toml``, ``.corral/policy.toml`` and prompts. They come with the
code being worked on, which may be hostile, so until the user runs ``corral trust`` in the project they
can only tighten what the user configured (``agent/config.py``, ``policy.load_engine(trusted=...)``).

``corral trust`` records a digest of everything under ``<root>/.corral/`` in
``$XDG_DATA_HOME/corral/trust.json`` (``~/.local/share/corral/trust.json``); a project is trusted while
its ``.corral/`` still has exactly that digest, so any added, removed or changed file, directory or
symlink (a ``git pull`` included) makes it untrusted again until the user reviews it and trusts again.

The digest covers the relative path and the kind of every entry, the bytes of regular files and the link
text of symlinks (never followed; the ``.corral`` entry itself may be one). File modes and times are not
covered: they cannot loosen anything. A symlink that leads outside ``.corral/`` (or a ``.corral`` that is
itself a symlink) makes the project untrustable: the digest cannot cover what it points to, and that
could change without corral noticing. corral itself writes nothing inside ``.corral/``; everything there
(``plans/`` included) is the user's or the repository's content and counts.

The trust file is private (0600 in a 0700 directory), never read or written through a symlink, replaced
atomically under a lock, so concurrent ``corral trust`` runs never lose each other's entries. A damaged
trust file makes every project untrusted (never trusted by accident) with a message naming the file;
``corral trust`` keeps a copy of it and starts a new one. ``corral trust --revoke`` removes the project's
entry and notes the date under ``revoked``, so ``--status`` can say the trust was revoked rather than
never given (the note only words the status: it can never make a project trusted).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from agent.errors import CorralError
from agent.values import frozen

FORMAT = 1
CORRAL_DIR = ".corral"
_MAX_TRUST_FILE = 8 << 20

__all__ = [
    "CORRAL_DIR", "Entry", "Snapshot", "TrustError", "TrustRecord", "TrustStatus", "digest_corral_dir", "revoke",
    "rule_file_problem", "snapshot", "trust", "trust_file", "trust_status", "trusted_projects",
]


class TrustError(CorralError):
    """The trust file cannot be used (damaged, a symlink, not private) or a project cannot be trusted."""


@frozen
class Entry:
    """One entry under ``.corral/``: ``path`` relative to it ('' for ``.corral`` itself), ``kind`` one of
    file, dir, symlink, other; ``size`` in bytes (files); ``target`` the link text (symlinks)."""

    path: str
    kind: str
    size: int = 0
    target: str = ""


@frozen
class Snapshot:
    """What ``.corral/`` holds now. ``digest`` is None when there is no ``.corral``; ``problems`` lists what
    makes the project untrustable (symlinks leading outside); ``kept`` holds the bytes of the regular files
    asked for (``snapshot(keep=...)``), read in the same pass that hashed them."""

    root: Path
    digest: str | None
    entries: tuple[Entry, ...]
    problems: tuple[str, ...]
    kept: Mapping[str, bytes]


@frozen
class TrustRecord:
    """One trusted project in the trust file."""

    root: str
    digest: str
    trusted_at: str  # ISO 8601, UTC


@frozen
class TrustStatus:
    """Whether a project's ``.corral/`` settings may loosen corral's. ``state`` is one of: trusted, never
    (never trusted), revoked (``corral trust --revoke`` since), changed (changed since ``corral trust``), none
    (no ``.corral/``), unusable (it cannot be trusted: a symlink leading outside), damaged (the trust file
    cannot be read). ``reason`` is one line for the user."""

    trusted: bool
    reason: str
    state: str
    root: Path
    digest: str | None = None


# ---------------------------------------------------------------------------------------- the trust file


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/corral`` (an absolute XDG_DATA_HOME only), else ``~/.local/share/corral``."""
    from agent.xdg import data_dir as corral_data

    return corral_data(environ)


def trust_file(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/corral/trust.json``."""
    return data_dir(environ) / "trust.json"


def _damaged(path: Path, why: str) -> TrustError:
    return TrustError(f"the trust file {path} {why}; every project is untrusted until it is fixed: remove it, "
                      "or run `corral trust` in a project (it keeps a copy of this file and writes a new one)")


Revoked = dict[str, str]
"""root -> when its trust was revoked (ISO 8601, UTC): words the status only, never trusts anything."""


def _read_records(path: Path) -> dict[str, TrustRecord]:
    """The records of the trust file ({} when it does not exist). Raises TrustError when it cannot be used."""
    return _read_file(path)[0]


def _read_file(path: Path) -> tuple[dict[str, TrustRecord], Revoked]:
    """The records and the revocations of the trust file (both empty when it does not exist). Raises
    TrustError when it cannot be used. Malformed revocation notes are skipped: they cannot loosen anything."""
    import json

    if os.path.islink(path.parent):
        raise _damaged(path, f"is in {path.parent}, a symlink (corral never follows one there)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return {}, {}
    except OSError as exc:
        if os.path.islink(path):
            raise _damaged(path, "is a symlink (corral never follows one there)") from None
        raise _damaged(path, f"cannot be read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise _damaged(path, "is not a regular file")
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise _damaged(path, f"is not private to you (owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}); "
                                 "others could mark projects trusted")
        data = fh.read(_MAX_TRUST_FILE + 1)
    if len(data) > _MAX_TRUST_FILE:
        raise _damaged(path, "is too large to be a trust file")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _damaged(path, f"is not valid JSON ({exc})") from None
    projects = doc.get("projects") if isinstance(doc, dict) and doc.get("format") == FORMAT else None
    if not isinstance(projects, dict):
        raise _damaged(path, f'is not a corral trust file (expected {{"format": {FORMAT}, "projects": {{...}}}})')
    records: dict[str, TrustRecord] = {}
    for root, item in projects.items():
        ok = (isinstance(item, dict) and root.startswith("/") and isinstance(item.get("digest"), str)
              and len(item["digest"]) == 64 and isinstance(item.get("trusted_at"), str))
        if not ok:
            raise _damaged(path, f"has a malformed entry for {root!r}")
        records[root] = TrustRecord(root, item["digest"], item["trusted_at"])
    notes = doc.get("revoked")
    revoked = {root: when for root, when in notes.items() if isinstance(when, str) and root not in records} \
        if isinstance(notes, dict) else {}
    return records, revoked


def trusted_projects(environ: Mapping[str, str] | None = None) -> dict[str, TrustRecord]:
    """Every project recorded as trusted (root -> record). Raises TrustError for a damaged trust file."""
    return _read_records(trust_file(environ))


def _private_dir(directory: Path) -> None:
    """Create directory (0700, parents too) unless it exists; refuse a symlink or a non-directory there."""
    from agent.linelog import private_dirs

    private_dirs(directory)
    st = os.lstat(directory)
    if not stat.S_ISDIR(st.st_mode):
        raise TrustError(f"{directory} is {'a symlink' if stat.S_ISLNK(st.st_mode) else 'not a directory'}; "
                         "corral keeps its trust file only in a real directory there: remove it and retry")


class _Locked:
    """An exclusive flock on ``trust.json.lock`` while the trust file is read, changed and replaced."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self.fd = -1

    def __enter__(self) -> _Locked:
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # releases the lock


def _write_records(path: Path, records: Mapping[str, TrustRecord], revoked: Revoked) -> None:
    """Replace the trust file atomically (a private temporary file in the same directory, then rename)."""
    import json
    import tempfile

    doc: dict[str, object] = {"format": FORMAT, "projects": {r: {"digest": rec.digest, "trusted_at": rec.trusted_at}
                                                             for r, rec in sorted(records.items())}}
    if revoked:
        doc["revoked"] = dict(sorted(revoked.items()))
    fd, tmp = tempfile.mkstemp(prefix=".trust-", suffix=".tmp", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # replaces a symlink itself, never its target
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _update(environ: Mapping[str, str] | None, change: Callable[[dict[str, TrustRecord], Revoked], bool],
            *, rewrite_damaged: bool) -> str | None:
    """Apply change to the records and revocations under the lock and write them back if it returns True. A
    damaged file is moved aside first when rewrite_damaged (the note returned says where), else its
    TrustError raised."""
    path = trust_file(environ)
    _private_dir(path.parent)
    note = None
    with _Locked(path):
        try:
            records, revoked = _read_file(path)
        except TrustError as exc:
            if not rewrite_damaged or not os.path.lexists(path):
                raise
            kept = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(path, kept)
            records, revoked = {}, {}
            note = (f"{exc}\n  kept the damaged file as {kept} and started a new trust file: other projects "
                    "recorded there need `corral trust` again")
        if change(records, revoked):
            _write_records(path, records, revoked)
    return note


# ----------------------------------------------------------------------------------------- the digest


def _walk(dir_fd: int, prefix: str) -> Iterator[tuple[str, os.stat_result, int]]:
    """(relative path, lstat, dir_fd) of every entry below dir_fd, depth first, without following symlinks."""
    with os.scandir(dir_fd) as it:
        names = sorted((e.name for e in it), key=os.fsencode)
    for name in names:
        rel = f"{prefix}{name}"
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        yield rel, st, dir_fd
        if stat.S_ISDIR(st.st_mode):
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                yield from _walk(child, rel + "/")
            finally:
                os.close(child)


def _file_digest(name: str, dir_fd: int, keep: bool) -> tuple[bytes, int, bytes | None]:
    """(sha256 of the bytes, size, the bytes if keep) of a regular file, opened without following links."""
    import hashlib

    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"{name} changed while it was read")
        digest = hashlib.sha256()
        chunks: list[bytes] = []
        size = 0
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
            if keep:
                chunks.append(block)
    return digest.digest(), size, (b"".join(chunks) if keep else None)


def _record(update: Callable[[bytes], None], tag: bytes, rel: str, payload: bytes) -> None:
    """Feed one entry to the digest: its kind, its path and its payload, each length-prefixed."""
    name = os.fsencode(rel)
    update(tag + len(name).to_bytes(4, "big") + name + len(payload).to_bytes(8, "big") + payload)


def snapshot(project_root: Path, *, keep: tuple[str, ...] = ()) -> Snapshot:
    """Hash ``<project_root>/.corral`` (see the module docstring); keep the bytes of the regular files named
    in keep (paths relative to ``.corral/``). Raises TrustError when it cannot be read completely."""
    import hashlib

    root = Path(project_root)
    top = root / CORRAL_DIR
    try:
        st = os.lstat(top)
    except FileNotFoundError:
        return Snapshot(root, None, (), (), {})
    except OSError as exc:
        raise TrustError(f"cannot read {top}: {exc.strerror or exc}; check its permissions") from None
    digest = hashlib.sha256(f"corral trust {FORMAT}\0".encode())
    feed = digest.update
    entries: list[Entry] = []
    problems: list[str] = []
    kept: dict[str, bytes] = {}
    try:
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(top)
            _record(feed, b"L", "", os.fsencode(target))
            entries.append(Entry("", "symlink", target=target))
            problems.append(f"{top} is a symlink to {target}: trust covers a real directory, whose contents it "
                            "hashes; replace the link with the directory")
        elif not stat.S_ISDIR(st.st_mode):
            _record(feed, b"O", "", f"{stat.S_IFMT(st.st_mode):o}".encode())
            entries.append(Entry("", "other"))
        else:
            entries.append(Entry("", "dir"))
            real_top = os.path.realpath(top)
            top_fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                for rel, est, dir_fd in _walk(top_fd, ""):
                    name = rel.rsplit("/", 1)[-1]
                    if stat.S_ISREG(est.st_mode):
                        file_hash, size, data = _file_digest(name, dir_fd, rel in keep)
                        _record(feed, b"F", rel, file_hash)
                        entries.append(Entry(rel, "file", size=size))
                        if data is not None:
                            kept[rel] = data
                    elif stat.S_ISDIR(est.st_mode):
                        _record(feed, b"D", rel, b"")
                        entries.append(Entry(rel, "dir"))
                    elif stat.S_ISLNK(est.st_mode):
                        target = os.readlink(name, dir_fd=dir_fd)
                        _record(feed, b"L", rel, os.fsencode(target))
                        entries.append(Entry(rel, "symlink", target=target))
                        resolved = os.path.realpath(top / rel)
                        if not (resolved + "/").startswith(real_top + "/"):
                            problems.append(f"{top / rel} is a symlink to {target}, outside {CORRAL_DIR}/: trust "
                                            "cannot cover what it points to; copy the file in instead")
                    else:
                        _record(feed, b"O", rel, f"{stat.S_IFMT(est.st_mode):o}".encode())
                        entries.append(Entry(rel, "other"))
            finally:
                os.close(top_fd)
    except OSError as exc:
        raise TrustError(f"cannot read {top} completely: {exc}; fix its permissions (corral must read "
                         "everything in it to know whether it changed)") from None
    return Snapshot(root, digest.hexdigest(), tuple(entries), tuple(problems), kept)


def digest_corral_dir(project_root: Path) -> str | None:
    """The sha256 (hex) of everything under ``<project_root>/.corral/``; None when there is none."""
    return snapshot(project_root).digest


# -------------------------------------------------------------------------------------------- status


def _key(project_root: Path) -> str:
    return str(Path(project_root).resolve())


def _date(record: TrustRecord) -> str:
    return record.trusted_at[:10]


def trust_status(project_root: Path, environ: Mapping[str, str] | None = None, *,
                 snap: Snapshot | None = None) -> TrustStatus:
    """Whether the project's ``.corral/`` may loosen corral's settings now (never raises for a damaged trust
    file or an unreadable ``.corral/``: those make the project untrusted, with the reason). snap is a
    snapshot of the project taken by the caller (so that the files it read are the files judged)."""
    root = Path(project_root).resolve()
    try:
        snap = snapshot(root) if snap is None else snap
    except TrustError as exc:
        return TrustStatus(False, f"untrusted: {exc}", "unusable", root)
    if snap.digest is None:
        return TrustStatus(False, f"nothing to trust: {root} has no {CORRAL_DIR}/ directory (a {CORRAL_DIR}/ added "
                                  "later is untrusted until you run `corral trust`)", "none", root)
    if snap.problems:
        return TrustStatus(False, f"untrusted: {snap.problems[0]}", "unusable", root, snap.digest)
    try:
        records, revoked = _read_file(trust_file(environ))
    except TrustError as exc:
        return TrustStatus(False, str(exc), "damaged", root, snap.digest)
    record = records.get(_key(root))
    if record is None and _key(root) in revoked:
        return TrustStatus(False, f"not trusted (revoked on {revoked[_key(root)][:10]} with `corral trust --revoke`): "
                                  f"the settings in {root / CORRAL_DIR}/ can only tighten; run `corral trust` there "
                                  "to trust it again after reviewing them", "revoked", root, snap.digest)
    if record is None:
        return TrustStatus(False, f"never trusted: the settings in {root / CORRAL_DIR}/ can only tighten; run "
                                  "`corral trust` there after reviewing them", "never", root, snap.digest)
    if record.digest != snap.digest:
        return TrustStatus(False, f"the {CORRAL_DIR}/ contents changed since `corral trust` on {_date(record)} — "
                                  "run `corral trust` again after reviewing them", "changed", root, snap.digest)
    return TrustStatus(True, f"trusted (`corral trust` on {_date(record)})", "trusted", root, snap.digest)


def trust(project_root: Path, environ: Mapping[str, str] | None = None, *,
          snap: Snapshot | None = None) -> tuple[TrustRecord, str | None]:
    """Record the project's current ``.corral/`` as trusted: (the record, a note when a damaged trust file
    was set aside). Raises TrustError when there is no ``.corral/`` or it cannot be trusted."""
    root = Path(project_root).resolve()
    snap = snapshot(root) if snap is None else snap
    if snap.digest is None:
        raise TrustError(f"nothing to trust: {root} has no {CORRAL_DIR}/ directory (a {CORRAL_DIR}/ added later "
                         "is untrusted until you run `corral trust`)")
    if snap.problems:
        raise TrustError(f"cannot trust {root}: {snap.problems[0]}")
    record = TrustRecord(_key(root), snap.digest, _now())

    def add(records: dict[str, TrustRecord], revoked: Revoked) -> bool:
        records[record.root] = record
        revoked.pop(record.root, None)
        return True

    return record, _update(environ, add, rewrite_damaged=True)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def revoke(project_root: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Forget the project's trust and note when (for ``--status``); False when it was not recorded. Raises
    TrustError for a damaged file."""
    key = _key(project_root)
    found: list[bool] = []

    def remove(records: dict[str, TrustRecord], revoked: Revoked) -> bool:
        found.append(records.pop(key, None) is not None)
        if found[0]:
            revoked[key] = _now()
        return found[0]

    if not os.path.lexists(trust_file(environ)):
        return False
    _update(environ, remove, rewrite_damaged=False)
    return found[0]



# ------------------------------------------------------------------------------------- rule file errors


def rule_file_problem(error: Exception, project_root: Path, trusted: bool) -> str:
    """The message for a rule file that does not load (``policy.RuleFileError``: it names the file, line and
    rule). When it is the project's own ``.corral/policy.toml`` the message says so, whether the project is
    trusted, and what to do: corral still refuses to start, as a broken file could hide a rule that asks or
    denies, but the user must not take a file that came with a repository for one of their own."""
    where = getattr(error, "path", None)
    own = Path(project_root) / CORRAL_DIR / "policy.toml"
    if not isinstance(where, str) or Path(where).absolute() != own.absolute():
        return str(error)
    if trusted:
        return (f"{error}\n  that is this project's own rule file ({own}, trusted with `corral trust`); fix what "
                "the line above says (docs/POLICY.md, \"Errors\"), or remove the file; then review .corral/ and run "
                "`corral trust` again")
    return (f"{error}\n  that is this project's own rule file ({own}): it came with the repository and is not "
            "trusted, so its rules could only tighten corral's; corral does not run without it, because the broken "
            "part could be a rule that asks or denies. Fix what the line above says (docs/POLICY.md, \"Errors\"), "
            "or remove or rename the file if you do not want its rules; `corral policy check -- true` shows whether "
            "it loads")
