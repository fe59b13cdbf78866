"""bubblewrap backend: a pure function from a Spec to a bwrap command line.

Layout inside the sandbox (mount order matters, later mounts cover earlier ones):
1. the host root read-only, a fresh /dev, a fresh /proc of a new PID namespace, a private /tmp;
2. masks that contain a writable root (e.g. another user's home holding the project);
3. writable roots bound read-write (workspace profile), or the project re-bound read-only (read-only profile);
4. protected project paths re-bound read-only; a protected path that does not exist yet gets an empty
   read-only tmpfs at its shallowest missing component, so the name cannot be created;
5. the other masks: an empty tmpfs over directories, /dev/null over files, an empty read-only tmpfs over
   missing paths inside a writable root (outside writable roots nothing can create them);
   with the network off, host Unix sockets too (/run/user, docker's and podman's sockets), right after 1.;
6. every tmpfs used as a mask or placeholder remounted read-only.

The runner creates the placeholders for missing names inside writable roots on the host before the run
(sandbox/_placeholders.py) and passes them as `readonly`; the tmpfs-at-a-missing-name branches below are
only a fallback should a name disappear in between (bwrap then creates the mount point itself).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ._spec import (
    Profile,
    Spec,
    filter_env,
    first_missing,
    masked_strs,
    parents,
    protected_strs,
    under,
    writable_strs,
)

HOST_SOCKET_DIRS = ("/run/user",)
"""Per-user runtime dirs: the session D-Bus, systemd --user, pipewire, a rootless docker/podman socket.
Hidden (empty read-only tmpfs) when the network is off: a Unix socket is reachable across namespaces."""

HOST_SOCKETS = ("/run/docker.sock", "/var/run/docker.sock", "/run/podman/podman.sock")
"""Daemon sockets that grant root-equivalent control of the host; masked with /dev/null when network is off."""


def _socket_masks(visible: list[str]) -> tuple[list[str], list[str]]:
    """The mount arguments hiding host Unix sockets, and the tmpfs among them to remount read-only.
    Skipped for a directory holding the project or a writable root (it must stay visible)."""
    out: list[str] = []
    tmpfs: list[str] = []
    for directory in HOST_SOCKET_DIRS:
        if os.path.isdir(directory) and not any(under(v, directory) for v in visible):
            out += ["--tmpfs", directory]
            tmpfs.append(directory)
    seen: set[str] = set()
    for sock in HOST_SOCKETS:
        real = os.path.realpath(sock)  # /var/run is usually a symlink to /run
        if real not in seen and os.path.exists(real) and not os.path.isdir(real):
            seen.add(real)
            if not any(under(real, d) for d in tmpfs):
                out += ["--ro-bind", "/dev/null", real]
    return out, tmpfs


def _mask_args(path: str) -> list[str]:
    if os.path.isdir(path) and not os.path.islink(path):
        return ["--tmpfs", path, "--chmod", "0000", path]
    return ["--ro-bind", "/dev/null", path]


def _below_any(path: str, holders: set[str]) -> bool:
    parent = os.path.dirname(path)
    while parent != path:  # a few ancestors against a short list beats every holder against every path
        if parent in holders:
            return True
        path, parent = parent, os.path.dirname(parent)
    return False


def _strictly_in_root(path: str, roots: list[str]) -> bool:
    return any(path != r and under(path, r) for r in roots)


def bwrap_argv(
    spec: Spec,
    argv: Sequence[str],
    *,
    helper: list[str],
    environ: dict[str, str] | None = None,
    readonly: Sequence[str] = (),
) -> list[str]:
    """The full command line: helper (the bwrap executable, e.g. ["bwrap"]) + options + "--" + argv.

    environ overrides the filtered environment (default: filter_env(spec) of os.environ). readonly lists
    the placeholders the runner created (sandbox/_placeholders.py): each is bound read-only, and the
    protected or masked paths below one need nothing more.
    """
    roots = writable_strs(spec)
    project = os.path.abspath(spec.project)
    holders = [os.path.abspath(p) for p in readonly]
    holder_set = set(holders)
    masks = [m for m in masked_strs(spec) if not _below_any(m, holder_set)]
    protected = [p for p in protected_strs(spec) if not _below_any(p, holder_set)]
    out: list[str] = [*helper]
    out += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    out += ["--unshare-all"]
    if spec.network:
        out += ["--share-net"]
    out += ["--die-with-parent", "--new-session"]

    visible = [*roots, project]
    ro_tmpfs: list[str] = []
    if not spec.network:
        socket_args, ro_tmpfs = _socket_masks(visible)
        out += socket_args
    early = [m for m in masks if any(under(v, m) for v in visible)]
    late = [m for m in masks if m not in early]
    for mask in early:
        if os.path.lexists(mask):
            out += _mask_args(mask)
    # Writable roots under /tmp must come after the private /tmp; binds always after early masks.
    for root in roots:
        out += ["--bind", root, root]
    if spec.profile == Profile.READ_ONLY:  # visible even under the private /tmp or a mask
        out += ["--ro-bind", project, project]

    created: list[str] = []
    pinned: set[str] = set()
    for path in protected:
        if not any(under(path, r) for r in roots):
            continue  # read-only already (host root is read-only)
        # Pin existing intermediate directories (e.g. .git) as mount points: a mount point cannot be
        # renamed (EBUSY), so `mv .git .git-old; mkdir -p .git/hooks` cannot sidestep the protection.
        for parent in reversed(parents(path)):
            if parent != project and under(parent, project) and parent not in pinned and os.path.isdir(parent):
                pinned.add(parent)
                out += ["--bind", parent, parent]
        missing = first_missing(path)
        if missing is None:
            out += ["--ro-bind", path, path]
        elif missing not in created and os.path.isdir(os.path.dirname(missing)):
            created.append(missing)
            out += ["--tmpfs", missing]
            ro_tmpfs.append(missing)

    # Placeholders after the pins above (a later bind of a parent would hide them), masks after that.
    for holder in holders:
        if holder not in masks and holder not in protected and os.path.lexists(holder):
            out += ["--ro-bind", holder, holder]
    for mask in late:
        if os.path.lexists(mask):
            if any(under(mask, c) for c in created):
                continue
            args = _mask_args(mask)
            out += args
            if args[0] == "--tmpfs":
                ro_tmpfs.append(mask)
            continue
        missing = first_missing(mask)
        if missing is None or any(under(missing, c) for c in created):
            continue
        if not os.path.isdir(os.path.dirname(missing)):
            continue
        if _strictly_in_root(missing, roots):
            created.append(missing)
            out += ["--tmpfs", missing, "--chmod", "0000", missing]
            ro_tmpfs.append(missing)
    for mask in early:
        if os.path.isdir(mask) and not os.path.islink(mask):
            ro_tmpfs.append(mask)
    for path in ro_tmpfs:
        out += ["--remount-ro", path]

    env = filter_env(spec) if environ is None else environ
    env = {**env, "TMPDIR": "/tmp"}
    out += ["--clearenv"]
    for name in sorted(env):
        out += ["--setenv", name, env[name]]
    out += ["--chdir", str(spec.cwd), "--", *argv]
    return out
