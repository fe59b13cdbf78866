"""Which backends work here: each is tried once per process by running `true` inside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ._bwrap import bwrap_argv
from ._spec import BackendName, BackendStatus, NoBackendError, Profile, Spec
from ._zerobox import zerobox_argv, zerobox_binary

_cache: dict[str, BackendStatus] = {}

NO_BACKEND_HELP = (
    "no sandbox backend works here. Install one: `apt-get install bubblewrap` (and enable user namespaces: "
    "`sysctl kernel.unprivileged_userns_clone=1` / `sysctl user.max_user_namespaces=15000`), or "
    "`pip install zerobox`; run `corral sandbox doctor` for details. To run commands without any isolation, "
    "opt out explicitly with `--sandbox none`."
)


def _probe(cmd: list[str], env: dict[str, str]) -> tuple[bool, str]:
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=10, check=False, env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    err = done.stderr.decode(errors="replace").strip()
    return done.returncode == 0, err


def _userns_hint(err: str) -> str:
    lowered = err.lower()
    if "namespace" in lowered or "operation not permitted" in lowered or "permission denied" in lowered:
        return (
            f"{err}: user namespaces look disabled: `sysctl kernel.unprivileged_userns_clone=1`, "
            "`sysctl user.max_user_namespaces=15000`, or on Ubuntu 24.04+ "
            "`sysctl kernel.apparmor_restrict_unprivileged_userns=0` (or an AppArmor profile for bwrap)"
        )
    return err or "failed without a message"


def _probe_spec(tmp: Path) -> Spec:
    return Spec(project=tmp, cwd=tmp, profile=Profile.READ_ONLY, protected_in_project=(), env_allow=("PATH",))


def _check_bwrap() -> BackendStatus:
    exe = shutil.which("bwrap")
    if exe is None:
        return BackendStatus(
            "bwrap", False, "bwrap not found: `apt-get install bubblewrap` (or dnf/pacman: bubblewrap)"
        )
    with tempfile.TemporaryDirectory(prefix="corral-probe-") as tmp:
        spec = _probe_spec(Path(tmp))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        ok, err = _probe(bwrap_argv(spec, ["true"], helper=[exe], environ=env), env)
    if ok:
        return BackendStatus("bwrap", True, f"works ({exe})")
    return BackendStatus("bwrap", False, _userns_hint(err))


def _check_zerobox() -> BackendStatus:
    exe = zerobox_binary()
    if exe is None:
        return BackendStatus("zerobox", False, "zerobox binary missing: `pip install zerobox`")
    with tempfile.TemporaryDirectory(prefix="corral-probe-") as tmp:
        spec = _probe_spec(Path(tmp))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        ok, err = _probe(zerobox_argv(spec, ["true"], binary=exe, environ=env), env)
    if ok:
        return BackendStatus("zerobox", True, f"works ({exe})")
    return BackendStatus("zerobox", False, _userns_hint(err))


def _status(name: str) -> BackendStatus:
    if name not in _cache:
        if name == "bwrap":
            _cache[name] = _check_bwrap()
        elif name == "zerobox":
            _cache[name] = _check_zerobox()
        else:
            _cache[name] = BackendStatus("none", True, "no isolation at all: only when explicitly requested")
    return _cache[name]


def doctor() -> list[BackendStatus]:
    """The status of bwrap, zerobox and none (each probed once per process, then cached)."""
    return [_status("bwrap"), _status("zerobox"), _status("none")]


def choose_backend(requested: BackendName = "auto") -> str:
    """The backend to use: the requested one if it works, or the first working of bwrap, zerobox.

    Raises NoBackendError with an actionable message otherwise. `none` is never chosen automatically.
    """
    if requested == "none":
        return "none"
    if requested in ("bwrap", "zerobox"):
        status = _status(requested)
        if not status.works:
            others = "; or use `--sandbox auto` to take whichever backend works"
            raise NoBackendError(
                f"sandbox backend {requested} does not work here: {status.detail}{others}; "
                "`corral sandbox doctor` explains; to run without any isolation, opt out with `--sandbox none`"
            )
        return requested
    if requested != "auto":
        raise NoBackendError(f"unknown sandbox backend {requested!r}: use auto, bwrap, zerobox or none")
    for name in ("bwrap", "zerobox"):
        if _status(name).works:
            return name
    details = "; ".join(f"{s.name}: {s.detail}" for s in doctor()[:2])
    raise NoBackendError(f"{NO_BACKEND_HELP} ({details})")
