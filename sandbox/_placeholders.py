"""Placeholders for protected names that do not exist yet, shared safely between concurrent runs.

A protected or masked path inside a writable root that does not exist must still be impossible to create
from inside the sandbox, and the only way to do that is a read-only mount over the name, which needs a
mount point on the host. The runner creates those mount points itself before the backend starts: an
empty directory at the shallowest missing component (directories, not files: git ignores empty
directories, so `git add -A` cannot pick them up). The backend then only ever sees existing paths and
never creates or removes anything in the project.

Removing a placeholder while another run still has it mounted would detach that mount inside the other
run (Linux lazily unmounts a mount point removed in another namespace), and the name could then be
planted there. So every process running commands in a project holds a shared flock on a per-project lock
file while it has runs there (plus `Spec.linger` seconds, so a burst of commands reuses the
placeholders), and placeholders are removed only by a process that can take the lock exclusively, i.e.
when no run of any process is active in that project. Every placeholder is recorded in a registry file
next to the lock before it is created, so a killed corral leaves a record and the next run in that
project cleans up. The lock and registry live in corral's cache directory, masked inside the sandbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile

import trio

from ._spec import SandboxError, Spec, first_missing, masked_strs, protected_strs, under, writable_strs

ZEROBOX_SELF_PROTECTED = (".git", ".codex", ".agents")
"""Names zerobox itself mounts read-only in every writable root, creating (and removing) them when missing."""


def state_dir(spec: Spec) -> str:
    """Where the lock and registry files live: corral's cache dir (masked in the sandbox), else a 0700 temp dir."""
    cache = os.environ.get("XDG_CACHE_HOME", "")
    base = cache if cache.startswith("/") else os.path.join(os.path.abspath(spec.home), ".cache")
    directory = os.path.join(base, "corral", "sandbox")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        return directory
    except OSError:
        pass
    fallback = os.path.join(tempfile.gettempdir(), f"corral-sandbox-{os.getuid()}")
    try:
        os.makedirs(fallback, mode=0o700, exist_ok=True)
        info = os.lstat(fallback)
    except OSError as exc:
        raise SandboxError(f"cannot create a lock directory in {directory} or {fallback}: {exc}") from exc
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise SandboxError(f"{fallback} is not a private directory owned by you; remove it and retry")
    return fallback


def needed(spec: Spec, *, zerobox: bool = False) -> list[str]:
    """Every placeholder this spec needs now: shallowest missing components of protected and masked
    paths strictly inside a writable root whose parent exists."""
    roots = writable_strs(spec)
    if not roots:
        return []
    targets = [*protected_strs(spec), *masked_strs(spec)]
    if zerobox:
        targets += [os.path.join(r, name) for r in roots for name in ZEROBOX_SELF_PROTECTED]
    out: dict[str, None] = {}
    for path in targets:
        if not any(path != r and under(path, r) for r in roots):
            continue  # outside writable roots nothing can be created anyway
        missing = first_missing(path)
        if missing is None or missing in out:
            continue
        if not any(missing != r and under(missing, r) for r in roots):
            continue
        if not os.path.isdir(os.path.dirname(missing)):
            continue
        out[missing] = None
    return list(out)


class _Project:
    """This process's hold on one project's placeholders: one shared flock, counted users."""

    def __init__(self, key: str, fd: int, registry: str) -> None:
        self.key = key
        self.fd = fd
        self.registry = registry
        self.users = 0
        self.generation = 0

    def close(self) -> None:
        """Drop the shared lock; if no run of any process holds one, remove every recorded placeholder."""
        if _projects.get(self.key) is self:
            del _projects[self.key]
        if self.fd < 0:
            return
        try:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another process still uses them; the last one out cleans up
            _clean(self.registry)
        finally:
            os.close(self.fd)
            self.fd = -1


_projects: dict[str, _Project] = {}


async def _linger(project: _Project, generation: int, seconds: float) -> None:
    try:
        await trio.sleep(seconds)
    finally:  # also when trio shuts down (system tasks are cancelled then)
        if project.users == 0 and project.generation == generation:
            project.close()


class Lease:
    """A run's share of the project's placeholders; release() when the run is over."""

    def __init__(self, project: _Project, made: list[str], holders: list[str], linger: float) -> None:
        self.project = project
        self.made = made
        self.holders = holders
        """Every placeholder in the project now, this run's and concurrent runs': the backend binds them
        read-only (a placeholder `.git` made by another run must not be treated as a real `.git`)."""
        self.linger = linger
        self.released = False

    def release(self) -> None:
        """Give the share back. The last user in this process keeps the placeholders for `linger` seconds
        (a burst of commands reuses them), then they go if no other process uses them either."""
        if self.released:
            return
        self.released = True
        project = self.project
        project.users -= 1
        if project.users > 0:
            return
        if self.linger <= 0:
            project.close()
            return
        try:
            trio.lowlevel.spawn_system_task(_linger, project, project.generation, self.linger)
        except RuntimeError:  # not inside trio: no timer to wait on
            project.close()


def _entries(registry: str) -> list[str]:
    try:
        with open(registry, encoding="utf-8", errors="surrogateescape") as fh:
            return list(dict.fromkeys(line.rstrip("\n") for line in fh if line.strip()))
    except FileNotFoundError:
        return []


def _is_placeholder(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode) and not os.listdir(path)
    except OSError:
        return False


def _clean(registry: str) -> None:
    for path in sorted(_entries(registry), key=lambda p: p.count("/"), reverse=True):
        with contextlib.suppress(OSError):
            if stat.S_ISDIR(os.lstat(path).st_mode):
                os.rmdir(path)  # only when still empty
    with contextlib.suppress(OSError):
        os.unlink(registry)


def _open(spec: Spec) -> tuple[str, int, str]:
    directory = state_dir(spec)
    key = _project_key(spec)
    fd = os.open(os.path.join(directory, key + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return key, fd, os.path.join(directory, key + ".placeholders")


def _try_shared(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _populate(registry: str, spec: Spec, zerobox: bool) -> tuple[list[str], list[str]]:
    made: list[str] = []
    todo = needed(spec, zerobox=zerobox)
    if todo:
        reg = os.open(registry, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(reg, os.fsencode("".join(path + "\n" for path in todo)))
        finally:
            os.close(reg)
        for path in todo:
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                continue
            except OSError as exc:
                raise SandboxError(f"cannot create the placeholder {path} that protects a name: {exc}") from exc
            made.append(path)
    return made, [p for p in _entries(registry) if _is_placeholder(p)]


def _project_key(spec: Spec) -> str:
    return hashlib.sha256(os.fsencode(os.path.abspath(spec.project))).hexdigest()[:24]


async def acquire(spec: Spec, *, zerobox: bool = False, linger: float = 0.0) -> Lease:
    """Join the project's placeholders (taking its shared lock if this process does not hold it yet) and
    create the ones the spec needs, each recorded in the registry before it is created."""
    project = _projects.get(_project_key(spec))
    if project is None or project.fd < 0:
        key, fd, registry = _open(spec)
        try:
            # Another process's exclusive holder only ever cleans up, for a millisecond or so: poll for it.
            while not _try_shared(fd):  # noqa: ASYNC110 -- a flock has no event to wait on
                await trio.sleep(0.001)
        except BaseException:
            os.close(fd)
            raise
        project = _projects[key] = _Project(key, fd, registry)
    project.users += 1
    project.generation += 1
    lease = Lease(project, [], [], linger)
    try:
        lease.made, lease.holders = _populate(project.registry, spec, zerobox)
    except BaseException:
        lease.release()
        raise
    return lease
