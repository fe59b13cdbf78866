"""The compiled form of the command catalog: immutable specs of programs, options and roles.

``policy/_catalog.py`` builds these from ``policies/commands.toml``; the classifier
(``policy/_commands*.py``) reads them. See docs/CATALOG.md for what each field means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from policy._types import Kind
from policy._values import frozen

# Roles an argument (a positional, or an option's value) can play. See docs/CATALOG.md.
VALUE_ROLES = frozenset({
    "data", "file", "read", "write", "cd", "var", "assign", "kv", "arith", "shell", "data-file",
    "placeholder", "script:sed", "script:awk", "script:jq", "script:yq",
})
TERMINAL_ROLES = frozenset({"command", "input-command", "shell-joined", "rest", "sub", "assign-command"})
OPTION_ONLY_ROLES = frozenset({"exec", "execdir", "sub"})
INERT_ROLES = frozenset({"data", "file", "read", "write"})
RUNS_CODE = frozenset({
    "command", "input-command", "shell-joined", "assign-command", "shell", "exec", "execdir",
})
_RISKY_VALUES = RUNS_CODE | {"write", "sub", "var", "assign"}


@frozen
class Effect:
    kind: Kind
    reason: str | None = None
    min: int = 1


@frozen
class Roles:
    """Roles of positional arguments: fixed ones in front, an optional repeated one, fixed ones at
    the back (``["file...", "write"]``: the last argument is written, the others read)."""

    front: tuple[str, ...]
    repeat: str | None = None
    back: tuple[str, ...] = ()

    @property
    def terminal(self) -> int | None:
        """Index of the role that takes every remaining word (``command``, ``rest`` …), if any."""
        if self.front and self.front[-1] in TERMINAL_ROLES:
            return len(self.front) - 1
        return None

    def role_at(self, i: int, n: int) -> str:
        """The role of positional ``i`` of ``n``."""
        if self.repeat is None:
            if i < len(self.front):
                return self.front[i]
            return self.front[-1] if self.front else "file"
        if i < len(self.front):
            return self.front[i]
        m, j, b = n - len(self.front), i - len(self.front), len(self.back)
        if m <= b:
            return self.back[b - m + j]
        if j >= m - b:
            return self.back[j - (m - b)]
        return self.repeat

    def from_index(self, i: int) -> frozenset[str]:
        """Every role a positional at index ``i`` or later may get (a glob there may shift them)."""
        rest = self.front[i:] if i < len(self.front) else () if self.repeat else self.front[-1:]
        return frozenset(rest) | frozenset(self.back) | ({self.repeat} if self.repeat else set())

    def all(self) -> frozenset[str]:
        return frozenset(self.front) | frozenset(self.back) | ({self.repeat} if self.repeat else set())


@frozen
class OptionSpec:
    names: tuple[str, ...]
    values: tuple[str, ...] = ()
    optional: bool = False
    kind: Kind | None = None
    base: Kind | None = None
    reason: str | None = None
    args: Roles | None = None
    files: str | None = None
    unless: tuple[str, ...] = ()
    writes_cwd: bool = False
    reads_unknown: str | None = None
    writes_unknown: str | None = None

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def dangerous(self) -> bool:
        """Whether an injected or abbreviated form of this option could change what is judged."""
        return (
            self.kind is not None or self.base is not None or self.args is not None
            or self.files is not None or self.writes_cwd or any(v != "data" for v in self.values)
            or self.reads_unknown is not None or self.writes_unknown is not None
        )

    @property
    def risky(self) -> bool:
        """Whether an injected form of this option could write files or run code."""
        return (self.kind is not None and self.kind >= Kind.WRITE) or self.files == "write" or bool(
            set(self.values) & _RISKY_VALUES
        )


@frozen
class WordRule:
    match: tuple[str, ...]
    kind: Kind
    reason: str | None = None
    index: int | None = None
    option: str | None = None


@dataclass(frozen=True, eq=False)
class CommandSpec:
    """What the catalog says about one program (or one subcommand of it)."""

    name: str
    kind: Kind
    reason: str | None
    style: str
    args: Roles
    files: str
    info: frozenset[tuple[str, ...]]
    ignore: tuple[str, ...]
    operands: Mapping[str, str]
    options: Mapping[str, OptionSpec]
    prefixable: tuple[str, ...]
    words: tuple[WordRule, ...]
    subs: Mapping[str, CommandSpec]
    default_sub: str | None
    unknown_sub: Effect | None
    with_args: Effect | None
    without_args: Effect | None
    dashdash: Effect | None
    writes_cwd: bool
    reads_unknown: str | None
    writes_unknown: str | None
    old_style: bool
    inert: bool
    risky: bool  # an injected option could write files or run code (xargs feeds it input words)
    never_broaden: bool


@frozen
class EnvRule:
    names: tuple[str, ...]
    exceptions: tuple[str, ...]
    safe_values: frozenset[str]
    kind: Kind
    reason: str

    def matches(self, name: str) -> bool:
        return any(fnmatchcase(name, p) for p in self.names) and not any(
            fnmatchcase(name, p) for p in self.exceptions
        )
