"""bubblewrap backend: a pure function from a Spec to a bwrap command line.

Layout inside the sandbox (mount order matters, later mounts cover earlier ones):
1. the host root read-only, a fresh /dev, a fresh /proc of a new PID namespace, a private /tmp;
2. masks that contain a writable root (e.g. another user's home holding the project);
3. writable roots bound read-write (workspace profile), or the project re-bound read-only (read-only profile);
4. protected project paths re-bound read-only; a protected path that does not exist yet gets an empty
   read-only tmpfs at its shallowest missing component, so the name cannot be created;
5. the other masks: an empty tmpfs over directories, /dev/null over files, an empty read-only tmpfs over
   missing paths inside a writable root (outside writable roots nothing can create them);
6. every tmpfs used as a mask or placeholder remounted read-only.

A placeholder created inside a writable bind leaves an empty directory on the host; the runner removes
the ones returned by `placeholders` after the run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ._spec import (
    Profile,
    Spec,
    filter_env,
    first_missing,
    is_inside,
    masked_paths,
    protected_paths,
    writable_roots,
)


def _mask_args(path: Path) -> list[str]:
    if os.path.isdir(path) and not os.path.islink(path):
        return ["--tmpfs", str(path), "--chmod", "0000", str(path)]
    return ["--ro-bind", "/dev/null", str(path)]


def placeholders(spec: Spec) -> list[Path]:
    """Missing paths inside writable roots that bwrap will create on the host as mount points."""
    roots = writable_roots(spec)
    out: list[Path] = []
    candidates = [*protected_paths(spec), *masked_paths(spec)] if roots else []
    for path in candidates:
        missing = first_missing(path)
        if missing is None or not any(is_inside(missing, r) and missing != r for r in roots):
            continue
        if not os.path.isdir(missing.parent):
            continue
        if missing not in out:
            out.append(missing)
    return out


def bwrap_argv(
    spec: Spec, argv: Sequence[str], *, helper: list[str], environ: dict[str, str] | None = None
) -> list[str]:
    """The full command line: helper (the bwrap executable, e.g. ["bwrap"]) + options + "--" + argv.

    environ overrides the filtered environment (default: filter_env(spec) of os.environ).
    """
    roots = writable_roots(spec)
    project = Path(os.path.abspath(spec.project))
    masks = masked_paths(spec)
    out: list[str] = [*helper]
    out += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    out += ["--unshare-all"]
    if spec.network:
        out += ["--share-net"]
    out += ["--die-with-parent", "--new-session"]

    ro_tmpfs: list[Path] = []
    visible = [*roots, project]
    early = [m for m in masks if any(is_inside(v, m) for v in visible)]
    late = [m for m in masks if m not in early]
    for mask in early:
        if os.path.lexists(mask):
            out += _mask_args(mask)
    # Writable roots under /tmp must come after the private /tmp; binds always after early masks.
    for root in roots:
        out += ["--bind", str(root), str(root)]
    if spec.profile == Profile.READ_ONLY:  # visible even under the private /tmp or a mask
        out += ["--ro-bind", str(project), str(project)]

    created: set[Path] = set()
    pinned: set[Path] = set()
    for path in protected_paths(spec):
        if not any(is_inside(path, r) for r in roots):
            continue  # read-only already (host root is read-only)
        # Pin existing intermediate directories (e.g. .git) as mount points: a mount point cannot be
        # renamed (EBUSY), so `mv .git .git-old; mkdir -p .git/hooks` cannot sidestep the protection.
        for parent in reversed(path.parents):
            if is_inside(parent, project) and parent != project and parent not in pinned and os.path.isdir(parent):
                pinned.add(parent)
                out += ["--bind", str(parent), str(parent)]
        missing = first_missing(path)
        if missing is None:
            out += ["--ro-bind", str(path), str(path)]
        elif missing not in created and os.path.isdir(missing.parent):
            created.add(missing)
            out += ["--tmpfs", str(missing)]
            ro_tmpfs.append(missing)

    for mask in late:
        if os.path.lexists(mask):
            if any(is_inside(mask, c) for c in created):
                continue
            args = _mask_args(mask)
            out += args
            if args[0] == "--tmpfs":
                ro_tmpfs.append(mask)
            continue
        missing = first_missing(mask)
        if missing is None or missing in created or any(is_inside(missing, c) for c in created):
            continue
        if not os.path.isdir(missing.parent):
            continue
        if any(is_inside(missing, r) and missing != r for r in roots):
            created.add(missing)
            out += ["--tmpfs", str(missing), "--chmod", "0000", str(missing)]
            ro_tmpfs.append(missing)
    for mask in early:
        if os.path.isdir(mask) and not os.path.islink(mask):
            ro_tmpfs.append(mask)
    for path in ro_tmpfs:
        out += ["--remount-ro", str(path)]

    env = filter_env(spec) if environ is None else environ
    env = {**env, "TMPDIR": "/tmp"}
    out += ["--clearenv"]
    for name in sorted(env):
        out += ["--setenv", name, env[name]]
    out += ["--chdir", str(spec.cwd), "--", *argv]
    return out
