"""What a sandboxed command may do: the Spec, its Result, the built-in secret list and the env filter.

Everything here is pure data and pure functions: no I/O except reading the process environment, checking
whether paths exist and listing the project root once (to compute masks, e.g. every root `.env*`), so each
backend can turn a Spec into arguments.
"""

from __future__ import annotations

import enum
import fnmatch
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

BackendName = Literal["auto", "bwrap", "zerobox", "none"]


class SandboxError(Exception):
    """Base of every error raised by the sandbox package."""


class NoBackendError(SandboxError):
    """No sandbox backend works here (or the requested one does not)."""


class Profile(enum.StrEnum):
    """What the command may write: the project (workspace) or nothing (read-only)."""

    WORKSPACE = "workspace"
    READ_ONLY = "read-only"


DEFAULT_ENV_ALLOW: tuple[str, ...] = (
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "USER",
    "LOGNAME",
    "SHELL",
    "TZ",
    "PAGER",
    "EDITOR",
)
"""Names (fnmatch patterns) inherited from corral's environment. TMPDIR is set by the backend."""

DEFAULT_PROTECTED: tuple[str, ...] = (
    ".git/hooks",
    ".git/config",
    ".git/modules",
    ".git/worktrees",
    ".git/info",
    ".gitmodules",
    ".corral",
    ".claude",
    ".cursor",
    ".vscode",
    ".idea",
    ".mcp.json",
    ".envrc",
    ".env",
    ".env.local",
    ".env.production",
    ".env.development",
)
"""Project-relative paths kept read-only (secret-like ones, see SECRET_PROTECTED, are masked instead).
`.git/modules`, `.git/worktrees` and `.git/info` hold git directories, configs, hooks and attributes that
git on the host reads and runs; empty placeholders for them are harmless to git."""

SECRET_PROTECTED: frozenset[str] = frozenset({".env", ".env.local", ".env.production", ".env.development", ".envrc"})
"""Secret-like names masked even when missing (a placeholder keeps them from being planted). Every other
existing `.env*` at the project root is masked too (root_dotenv_strs)."""

GIT_TRIPWIRE: tuple[str, ...] = (".git/commondir", ".git/config.worktree")
"""Files that would make host git read another configuration (and run its code) but cannot be guarded by a
placeholder (git dies on an empty or directory `commondir`): the runner records them before a command and
restores them after it (sandbox/_tripwire.py)."""

SECRET_NAME_PATTERNS: tuple[str, ...] = (
    "*KEY*",
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*CREDENTIAL*",
    "*_AUTH*",
    "*AUTH_*",
    "*COOKIE*",
    "*SESSION*",
    "*PRIVATE*",
)
PROVIDER_KEYS: frozenset[str] = frozenset(
    {
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "OPENROUTER_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "MISTRAL_API_KEY",
        "GROQ_API_KEY",
        "DEEPSEEK_API_KEY",
        "XAI_API_KEY",
        "TOGETHER_API_KEY",
        "HF_TOKEN",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AZURE_OPENAI_API_KEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
    }
)

HOME_SECRETS: tuple[str, ...] = (
    ".ssh",
    ".aws",
    ".gnupg",
    ".config/gh",
    ".netrc",
    ".docker",
    ".kube",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".azure",
    ".config/gcloud",
    ".vault-token",
    ".password-store",
    ".local/share/keyrings",
)
"""Home-relative secrets masked in every run, besides corral's own dirs and other users' homes."""


@dataclass(frozen=True)
class Spec:
    """What one command may do. Paths are absolute host paths, identical inside the sandbox."""

    project: Path
    cwd: Path
    profile: Profile = Profile.WORKSPACE
    network: bool = False
    home: Path = field(default_factory=Path.home)
    writable: tuple[Path, ...] = ()
    masked: tuple[Path, ...] = ()
    protected_in_project: tuple[str, ...] = DEFAULT_PROTECTED
    env_allow: tuple[str, ...] = DEFAULT_ENV_ALLOW
    extra_env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 120.0
    output_cap: int = 256 * 1024
    log_dir: Path | None = None
    linger: float = 1.0
    """Seconds the placeholders for missing protected names outlive this process's last run in the project
    (a burst of commands reuses them; 0 removes them as soon as the run ends). docs/SANDBOX.md."""


@dataclass(frozen=True)
class Result:
    """The outcome of one command. exit_code is 124 on timeout and 128+N when killed by signal N."""

    exit_code: int
    timed_out: bool
    output: str
    truncated: bool
    total_bytes: int
    log_path: Path
    backend: str
    duration: float
    notes: tuple[str, ...] = ()
    """What corral undid after the command (e.g. a planted .git/commondir), one sentence each: show them."""


@dataclass(frozen=True)
class BackendStatus:
    """Whether a backend works here; detail says why not and what to do."""

    name: str
    works: bool
    detail: str


_SECRET_RE = re.compile("|".join(fnmatch.translate(p) for p in SECRET_NAME_PATTERNS))


@functools.lru_cache(maxsize=32)
def _allow_re(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(fnmatch.translate(p) for p in patterns) or "(?!)")


def is_secret_name(name: str) -> bool:
    """True for environment variable names that look like credentials: they never reach a command."""
    upper = name.upper()
    return upper in PROVIDER_KEYS or _SECRET_RE.match(upper) is not None


def filter_env(spec: Spec, source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a command sees: allowlisted names from source, then extra_env; secrets dropped."""
    environ = os.environ if source is None else source
    allow = _allow_re(tuple(spec.env_allow))
    out: dict[str, str] = {}
    for name, value in environ.items():
        if allow.match(name) is not None and not is_secret_name(name):
            out[name] = value
    for name, value in spec.extra_env.items():
        if not is_secret_name(name) and "=" not in name and name:
            out[name] = value
    return out


def _xdg(var: str, home: str, default: str) -> str:
    value = os.environ.get(var, "")
    return value if value.startswith("/") else os.path.join(home, default)


def corral_dirs(home: Path) -> list[Path]:
    """corral's own config/data/state/cache directories, honouring XDG_* variables."""
    return [Path(p) for p in _corral_dirs(str(home))]


def _corral_dirs(home: str) -> list[str]:
    return [
        os.path.join(_xdg("XDG_CONFIG_HOME", home, ".config"), "corral"),
        os.path.join(_xdg("XDG_DATA_HOME", home, ".local/share"), "corral"),
        os.path.join(_xdg("XDG_STATE_HOME", home, ".local/state"), "corral"),
        os.path.join(_xdg("XDG_CACHE_HOME", home, ".cache"), "corral"),
        os.path.join(home, ".corral"),
    ]


def other_homes(home: Path) -> list[Path]:
    """Every home but ours: entries of /home, and /root unless it is ours."""
    return [Path(p) for p in _other_homes(str(home))]


def _other_homes(home: str) -> list[str]:
    try:
        entries = sorted(os.path.join("/home", name) for name in os.listdir("/home"))
    except OSError:
        entries = []
    mine = os.path.realpath(home)
    out: list[str] = []
    for entry in entries:
        real = os.path.realpath(entry)
        if real != mine and not under(mine, real):
            out.append(entry)
    if os.path.realpath("/root") != mine:
        out.append("/root")
    return out


def masked_paths(spec: Spec) -> list[Path]:
    """Every path hidden from the command: built-in secrets, corral's dirs, other homes, spec.masked."""
    return [Path(p) for p in masked_strs(spec)]


def masked_strs(spec: Spec) -> list[str]:
    """masked_paths as normalised absolute strings (what the backends work with)."""
    home = os.path.abspath(spec.home)
    project = os.path.abspath(spec.project)
    paths = [os.path.join(home, rel) for rel in HOME_SECRETS]
    paths += _corral_dirs(home)
    paths += _other_homes(home)
    paths += [os.fspath(p) for p in spec.masked]
    paths += [os.path.join(project, rel) for rel in spec.protected_in_project if rel in SECRET_PROTECTED]
    if any(rel in SECRET_PROTECTED for rel in spec.protected_in_project):
        paths += root_dotenv_strs(project)
    return list(dict.fromkeys(os.path.abspath(p) for p in paths))


def is_dotenv_name(name: str) -> bool:
    """`.env`, `.env.<anything>`, `.env-<anything>` and `.envrc`: the names dotenv tools and direnv read."""
    return name in (".env", ".envrc") or name.startswith((".env.", ".env-", ".env_"))


def root_dotenv_strs(project: str) -> list[str]:
    """Every existing dotenv-like entry directly in the project (one scandir: cheap at every start).
    Nested ones (api/.env) are not listed: walking the tree would cost too much per command."""
    try:
        with os.scandir(project) as entries:
            return sorted(os.path.join(project, e.name) for e in entries if is_dotenv_name(e.name))
    except OSError:
        return []


def protected_paths(spec: Spec) -> list[Path]:
    """Project paths kept read-only (not masked): protected_in_project minus the secret-like ones."""
    return [Path(p) for p in protected_strs(spec)]


def protected_strs(spec: Spec) -> list[str]:
    """protected_paths as normalised absolute strings."""
    project = os.path.abspath(spec.project)
    return [
        os.path.abspath(os.path.join(project, rel))
        for rel in spec.protected_in_project
        if rel not in SECRET_PROTECTED and not rel.startswith("/") and ".." not in rel.split("/")
    ]


def writable_roots(spec: Spec) -> list[Path]:
    """Host paths the command may write (besides its private /tmp): none in the read-only profile."""
    return [Path(p) for p in writable_strs(spec)]


def writable_strs(spec: Spec) -> list[str]:
    """writable_roots as normalised absolute strings."""
    if spec.profile == Profile.READ_ONLY:
        return []
    return [os.path.abspath(p) for p in (spec.project, *spec.writable)]


def first_missing(path: str) -> str | None:
    """The shallowest component of a normalised absolute path that does not exist (None when it exists)."""
    if os.path.lexists(path):
        return None
    current = path
    parent = os.path.dirname(current)
    while parent != current and not os.path.lexists(parent):
        current, parent = parent, os.path.dirname(parent)
    return current


def parents(path: str) -> list[str]:
    """The ancestors of a normalised absolute path, nearest first, "/" last."""
    out: list[str] = []
    parent = os.path.dirname(path)
    while parent != path:
        out.append(parent)
        path, parent = parent, os.path.dirname(parent)
    return out


def under(path: str, root: str) -> bool:
    """Whole-component containment of normalised absolute paths (path == root counts)."""
    return path == root or path.startswith(root if root.endswith("/") else root + "/")


def is_inside(path: Path | str, root: Path | str) -> bool:
    """Whole-component containment of absolute paths (lexical: `..` resolved, symlinks not)."""
    return under(os.path.abspath(path), os.path.abspath(root))
