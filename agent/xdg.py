"""corral's own directories under the XDG base directories.

`$XDG_CONFIG_HOME/corral`, `$XDG_CACHE_HOME/corral` and `$XDG_DATA_HOME/corral`; a variable counts only
when it holds an absolute path (as the XDG specification says), else the default under `$HOME`
(`~/.config`, `~/.cache`, `~/.local/share`). `environ` defaults to `os.environ`; tests pass their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_DEFAULTS = {"XDG_CONFIG_HOME": ".config", "XDG_CACHE_HOME": ".cache", "XDG_DATA_HOME": ".local/share"}


def corral_dir(variable: str, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get(variable, "")
    if not base.startswith("/"):
        base = os.path.join(env.get("HOME") or str(Path.home()), _DEFAULTS[variable])
    return Path(base) / "corral"


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    return corral_dir("XDG_CONFIG_HOME", environ)


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    return corral_dir("XDG_CACHE_HOME", environ)


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    return corral_dir("XDG_DATA_HOME", environ)
