"""zerobox backend: a pure function from a Spec to a zerobox command line.

zerobox (PyPI `zerobox`, which ships its binary) wraps its own bubblewrap on Linux: a new PID namespace
killed with its parent, no network unless --allow-net, an allowlist of readable paths. What it does not
do by itself, and how we compensate:
- its profiles make the host /tmp writable: we use the `deny-credentials` profile (no writes), make the
  whole filesystem readable like the bwrap backend (`--allow-read /`), hide the host /tmp
  (`--deny-read /tmp`) and give the command a private writable directory as TMPDIR instead;
- zerobox creates (and at exit removes) its own mount points for missing names, which would detach them
  inside a concurrent run; the runner therefore creates every placeholder beforehand and shares them
  between runs (sandbox/_placeholders.py), including `.git`, `.codex` and `.agents` below. Should a name
  still be missing, `--deny-write` fails on it, so we pass `--deny-read`, which binds an empty read-only
  placeholder over the name; when the parent itself is missing, the shallowest missing component gets it;
- zerobox itself makes `.git`, `.codex` and `.agents` read-only in every writable root (an empty read-only
  mount when missing), so `.git/hooks` and `.git/config` need nothing more (and the whole `.git` is
  read-only: `git commit` fails under zerobox, unlike under bwrap);
- `--deny-read` of a missing path whose parent is missing is silently skipped; that is harmless outside
  writable roots (the filesystem is read-only there), and inside them we use the shallowest missing
  component as above.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
from collections.abc import Sequence
from pathlib import Path

from ._spec import (
    SandboxError,
    Spec,
    filter_env,
    first_missing,
    is_inside,
    masked_strs,
    protected_strs,
    under,
    writable_strs,
)


def zerobox_binary() -> str | None:
    """The zerobox executable: $ZEROBOX_BIN, the scripts dir of this Python, or PATH."""
    override = os.environ.get("ZEROBOX_BIN")
    if override:
        return override
    scripts = sysconfig.get_path("scripts")
    if scripts and os.access(os.path.join(scripts, "zerobox"), os.X_OK):
        return os.path.join(scripts, "zerobox")
    return shutil.which("zerobox")


SELF_PROTECTED = (".git", ".codex", ".agents")
"""Names zerobox itself keeps read-only (an empty read-only mount when missing) in every writable root."""


def _self_protected(path: str, roots: list[str]) -> bool:
    return any(under(path, os.path.join(r, name)) for r in roots for name in SELF_PROTECTED)


def _below_any(path: str, holders: set[str]) -> bool:
    parent = os.path.dirname(path)
    while parent != path:  # a few ancestors against a short list beats every holder against every path
        if parent in holders:
            return True
        path, parent = parent, os.path.dirname(parent)
    return False


def _missing_target(path: str, roots: list[str]) -> str | None:
    missing = first_missing(path)
    if missing is None:
        return None if _self_protected(path, roots) else path
    if not os.path.isdir(os.path.dirname(missing)) or _self_protected(missing, roots):
        return None
    if any(under(missing, r) and missing != r for r in roots):
        return missing
    return None


def zerobox_argv(
    spec: Spec,
    argv: Sequence[str],
    *,
    binary: str = "zerobox",
    tmpdir: Path | None = None,
    environ: dict[str, str] | None = None,
    readonly: Sequence[str] = (),
) -> list[str]:
    """The full command line. tmpdir is the private writable TMPDIR (the runner creates it per run).

    readonly lists the placeholders the runner created (sandbox/_placeholders.py): each is made read-only
    (unless masked), and the protected or masked paths below one need nothing more.
    """
    roots = writable_strs(spec)
    holders = [os.path.abspath(p) for p in readonly]
    holder_set = set(holders)
    masks = [m for m in masked_strs(spec) if not _below_any(m, holder_set)]
    protected = [p for p in protected_strs(spec) if not _below_any(p, holder_set)]
    writes = list(roots)
    if tmpdir is not None:
        writes.append(str(tmpdir))
    deny_read: list[str] = []
    deny_write: list[str] = []
    for mask in masks:
        target = _missing_target(mask, roots)
        if target is not None:
            deny_read.append(target)
    for holder in holders:
        if holder not in masks and holder not in protected and not _self_protected(holder, roots):
            deny_write.append(holder)
    for path in protected:
        if not any(under(path, r) for r in roots):
            continue
        target = _missing_target(path, roots)
        if target is None:
            continue
        if os.path.lexists(target):
            deny_write.append(target)
        else:
            deny_read.append(target)
    # The host /tmp is hidden (writable roots inside it are bound over the mask), unless the project or
    # the zerobox binary itself lives there: zerobox's helper is exec'd from it inside the sandbox, and
    # the project must stay visible. /tmp then stays visible but read-only (docs/SANDBOX.md).
    found = shutil.which(binary) or binary
    if not is_inside(spec.project, "/tmp") and not is_inside(os.path.realpath(found), "/tmp"):
        deny_read.insert(0, "/tmp")
    for item in (*writes, *deny_read, *deny_write):
        if "," in item:
            raise SandboxError(f"zerobox cannot express a path containing a comma: {item!r}; use --sandbox bwrap")
    out = [binary, "--profile", "deny-credentials", "--allow-read=/"]
    if writes:
        out.append("--allow-write=" + ",".join(_dedupe(writes)))
    if deny_write:
        out.append("--deny-write=" + ",".join(_dedupe(deny_write)))
    if deny_read:
        out.append("--deny-read=" + ",".join(_dedupe(deny_read)))
    if spec.network:
        out.append("--allow-net")
    env = filter_env(spec) if environ is None else dict(environ)
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    for name in sorted(env):
        out += ["--env", f"{name}={env[name]}"]
    out += ["-C", str(spec.cwd), "--", *argv]
    return out


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
