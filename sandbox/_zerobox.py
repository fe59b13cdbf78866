"""zerobox backend: a pure function from a Spec to a zerobox command line.

zerobox (PyPI `zerobox`, which ships its binary) wraps its own bubblewrap on Linux: a new PID namespace
killed with its parent, no network unless --allow-net, an allowlist of readable paths. What it does not
do by itself, and how we compensate:
- its profiles make the host /tmp writable: we use the `deny-credentials` profile (no writes), make the
  whole filesystem readable like the bwrap backend (`--allow-read /`), hide the host /tmp
  (`--deny-read /tmp`) and give the command a private writable directory as TMPDIR instead;
- `--deny-write` fails on a path that does not exist: for missing protected paths we pass `--deny-read`,
  which binds an empty read-only placeholder over the name, so it cannot be created (and zerobox removes
  the placeholder afterwards); when the parent itself is missing, the shallowest missing component gets it;
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
    masked_paths,
    protected_paths,
    writable_roots,
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


def _self_protected(path: Path, roots: list[Path]) -> bool:
    return any(is_inside(path, r / name) for r in roots for name in SELF_PROTECTED)


def _missing_target(path: Path, roots: list[Path]) -> Path | None:
    missing = first_missing(path)
    if missing is None:
        return None if _self_protected(path, roots) else path
    if not os.path.isdir(missing.parent) or _self_protected(missing, roots):
        return None
    if any(is_inside(missing, r) and missing != r for r in roots):
        return missing
    return None


def zerobox_argv(
    spec: Spec,
    argv: Sequence[str],
    *,
    binary: str = "zerobox",
    tmpdir: Path | None = None,
    environ: dict[str, str] | None = None,
) -> list[str]:
    """The full command line. tmpdir is the private writable TMPDIR (the runner creates it per run)."""
    roots = writable_roots(spec)
    writes = [str(r) for r in roots]
    if tmpdir is not None:
        writes.append(str(tmpdir))
    deny_read: list[str] = []
    deny_write: list[str] = []
    for mask in masked_paths(spec):
        target = _missing_target(mask, roots)
        if target is not None and target == mask:
            deny_read.append(str(mask))
        elif target is not None:
            deny_read.append(str(target))
    for path in protected_paths(spec):
        if not any(is_inside(path, r) for r in roots):
            continue
        target = _missing_target(path, roots)
        if target is None:
            continue
        if os.path.lexists(target):
            deny_write.append(str(target))
        else:
            deny_read.append(str(target))
    # The host /tmp is hidden (writable roots inside it are bound over the mask), unless the project or
    # the zerobox binary itself lives there: zerobox's helper is exec'd from it inside the sandbox, and
    # the project must stay visible. /tmp then stays visible but read-only (docs/SANDBOX.md).
    found = shutil.which(binary) or binary
    tmp = Path("/tmp")
    if not is_inside(spec.project, tmp) and not is_inside(Path(os.path.realpath(found)), tmp):
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
