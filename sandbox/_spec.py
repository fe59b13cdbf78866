"""What a sandboxed command may do: the Spec, its Result, the built-in secret list and the env filter.

Everything here is pure data and pure functions: no I/O except reading the process environment and
checking whether paths exist (to compute masks), so each backend can turn a Spec into arguments.
"""

from __future__ import annotations

import enum
import fnmatch
import os
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
"""Project-relative paths kept read-only (secret-like ones, see SECRET_PROTECTED, are masked instead)."""

SECRET_PROTECTED: frozenset[str] = frozenset({".env", ".env.local", ".env.production", ".env.development", ".envrc"})

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


@dataclass(frozen=True)
class BackendStatus:
    """Whether a backend works here; detail says why not and what to do."""

    name: str
    works: bool
    detail: str


def is_secret_name(name: str) -> bool:
    """True for environment variable names that look like credentials: they never reach a command."""
    upper = name.upper()
    return upper in PROVIDER_KEYS or any(fnmatch.fnmatchcase(upper, p) for p in SECRET_NAME_PATTERNS)


def filter_env(spec: Spec, source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a command sees: allowlisted names from source, then extra_env; secrets dropped."""
    environ = os.environ if source is None else source
    out: dict[str, str] = {}
    for name, value in environ.items():
        if any(fnmatch.fnmatchcase(name, pat) for pat in spec.env_allow) and not is_secret_name(name):
            out[name] = value
    for name, value in spec.extra_env.items():
        if not is_secret_name(name) and "=" not in name and name:
            out[name] = value
    return out


def _xdg(var: str, home: Path, default: str) -> Path:
    value = os.environ.get(var, "")
    return Path(value) if value.startswith("/") else home / default


def corral_dirs(home: Path) -> list[Path]:
    """corral's own config/data/state/cache directories, honouring XDG_* variables."""
    return [
        _xdg("XDG_CONFIG_HOME", home, ".config") / "corral",
        _xdg("XDG_DATA_HOME", home, ".local/share") / "corral",
        _xdg("XDG_STATE_HOME", home, ".local/state") / "corral",
        _xdg("XDG_CACHE_HOME", home, ".cache") / "corral",
        home / ".corral",
    ]


def other_homes(home: Path) -> list[Path]:
    """Every home but ours: entries of /home, and /root unless it is ours."""
    out: list[Path] = []
    try:
        entries = sorted(Path("/home").iterdir())
    except OSError:
        entries = []
    mine = _real(home)
    for entry in entries:
        if _real(entry) != mine and not _is_inside(mine, _real(entry)):
            out.append(entry)
    if _real(Path("/root")) != mine:
        out.append(Path("/root"))
    return out


def masked_paths(spec: Spec) -> list[Path]:
    """Every path hidden from the command: built-in secrets, corral's dirs, other homes, spec.masked."""
    home = spec.home
    paths = [home / rel for rel in HOME_SECRETS]
    paths += corral_dirs(home)
    paths += other_homes(home)
    paths += list(spec.masked)
    paths += [spec.project / rel for rel in spec.protected_in_project if rel in SECRET_PROTECTED]
    seen: set[Path] = set()
    unique: list[Path] = []
    for p in paths:
        p = Path(os.path.abspath(p))
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


def protected_paths(spec: Spec) -> list[Path]:
    """Project paths kept read-only (not masked): protected_in_project minus the secret-like ones."""
    return [
        Path(os.path.abspath(spec.project / rel))
        for rel in spec.protected_in_project
        if rel not in SECRET_PROTECTED and not Path(rel).is_absolute() and ".." not in Path(rel).parts
    ]


def writable_roots(spec: Spec) -> list[Path]:
    """Host paths the command may write (besides its private /tmp): none in the read-only profile."""
    if spec.profile == Profile.READ_ONLY:
        return []
    return [Path(os.path.abspath(p)) for p in (spec.project, *spec.writable)]


def first_missing(path: Path) -> Path | None:
    """The shallowest component of path that does not exist (None when path exists)."""
    if os.path.lexists(path):
        return None
    current = path
    while not os.path.lexists(current.parent) and current.parent != current:
        current = current.parent
    return current


def _real(p: Path) -> Path:
    try:
        return p.resolve()
    except OSError:
        return p


def _is_inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def is_inside(path: Path, root: Path) -> bool:
    """Whole-component containment of absolute paths."""
    return _is_inside(Path(os.path.abspath(path)), Path(os.path.abspath(root)))
