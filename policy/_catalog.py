"""The command catalog: ``policies/commands.toml`` loaded, validated and compiled into immutable specs.

The catalog is data: which programs read, write, build, talk to the network …, which of their
options and arguments change that, which arguments are paths, which programs wrap another command,
and which environment variables are dangerous to set. ``policy/_commands.py`` reads it to classify
commands. The file format is documented at the top of the file and in docs/CATALOG.md.

    catalog = load_catalog()                # <repo>/policies/commands.toml, cached per path
    spec = catalog.lookup("git")            # CommandSpec | None

A malformed file raises ``CatalogError`` naming the file and the entry (``commands.sed.option[1]``).
Nothing is read at import time. Parsing the TOML is the slow part: once a file has loaded without
error, its parsed data is kept in the startup cache (``_cache.py``, keyed by the file's path, size and
times and the code fingerprint) and later processes read that instead.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from policy import _cache
from policy._catalog_schema import RawCatalog, RawEffect, RawOption, RawSpec, SchemaError, read_catalog
from policy._catalog_specs import (
    INERT_ROLES,
    OPTION_ONLY_ROLES,
    RUNS_CODE,
    TERMINAL_ROLES,
    VALUE_ROLES,
    CommandSpec,
    Effect,
    EnvRule,
    OptionSpec,
    Roles,
    WordRule,
)
from policy._errors import RuleFileError
from policy._types import Kind


class CatalogError(RuleFileError):
    """The command catalog is malformed. Names the file and, when known, the entry."""

    def __init__(self, message: str, *, path: str, entry: str | None = None) -> None:
        super().__init__(message, path=path, rule=entry)
        self.entry = entry
        where = path if entry is None else f"{path} (entry {entry})"
        self.args = (f"{where}: {message}",)


@dataclass(frozen=True, eq=False)
class Catalog:
    """The compiled catalog. Immutable; share it freely."""

    path: Path
    commands: Mapping[str, CommandSpec]
    patterns: tuple[tuple[str, CommandSpec], ...]
    env: tuple[EnvRule, ...]
    neutral_devices: frozenset[str]
    neutral_prefixes: tuple[str, ...]
    network_prefixes: tuple[str, ...]
    trusted_dirs: frozenset[str]
    max_shell_depth: int
    max_layers: int

    def lookup(self, program: str) -> CommandSpec | None:
        """The spec for a program name as written. A path finds a catalog entry only when it names
        a trusted system directory (``/usr/bin/git``) or is itself an entry (``./gradlew``)."""
        if program in self.commands:
            return self.commands[program]
        if "/" in program:
            head, _, base = program.rpartition("/")
            if (head or "/") in self.trusted_dirs and base and "/" not in base:
                return self.lookup(base)
            return None
        for pattern, spec in self.patterns:
            if fnmatchcase(program, pattern):
                return spec
        return None

    def env_rule(self, name: str) -> EnvRule | None:
        """The rule that makes setting variable ``name`` dangerous, if any."""
        return next((r for r in self.env if r.matches(name)), None)

    def never_broaden(self, program: str) -> bool:
        """Whether a session approval for ``program`` must stay the exact argv (interpreters,
        wrappers, shells, ``rm``, unknown programs …) rather than ``program subcommand **``."""
        spec = self.lookup(program)
        return spec is None or spec.never_broaden


def default_catalog_path() -> Path:
    return Path(__file__).resolve().parent.parent / "policies" / "commands.toml"


def load_catalog(path: Path | None = None) -> Catalog:
    """Load (or reuse) the catalog at ``path`` (default: the built-in one). Raises CatalogError."""
    target = (path if path is not None else default_catalog_path()).absolute()
    try:
        st = target.stat()
    except OSError as exc:
        raise CatalogError(f"cannot read the command catalog: {exc.strerror}", path=str(target)) from None
    return _load(str(target), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _load(path: str, _mtime: int, _size: int) -> Catalog:
    entry = _cache.catalog_entry(path)  # stat'ed before the file is read
    stored = _cache.read(entry[0]) if entry is not None else None
    if isinstance(stored, dict):
        try:
            return _compile(stored, path)
        except (CatalogError, LookupError, TypeError, ValueError, AttributeError):
            pass  # not what this code stored: read the file again
    import tomllib

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise CatalogError(f"cannot read the command catalog: {exc.strerror}", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"not valid TOML: {exc}", path=path) from None
    catalog = _compile(data, path)
    if entry is not None:
        _cache.write(entry[0], data, kind="catalog", replaces=entry[1])
    return catalog


def _compile(data: dict[str, object], path: str) -> Catalog:
    try:
        raw = read_catalog(data)
    except SchemaError as exc:
        raise CatalogError(exc.message, path=path, entry=exc.entry) from None
    return _Compiler(raw, path).catalog()


def _kind(name: str | None) -> Kind | None:
    return None if name is None else Kind[name.upper()]


class _Compiler:
    def __init__(self, raw: RawCatalog, path: str) -> None:
        self.raw = raw
        self.path = path
        self.done: dict[str, CommandSpec] = {}
        self.busy: set[str] = set()
        self.owner = {alias: name for name, rs in raw.commands.items() for alias in rs.aliases}

    def fail(self, entry: str, message: str) -> CatalogError:
        return CatalogError(message, path=self.path, entry=entry)

    def catalog(self) -> Catalog:
        raw = self.raw
        commands: dict[str, CommandSpec] = {}
        patterns: list[tuple[str, CommandSpec]] = []
        for name in raw.commands:
            commands[name] = self.top(name, f"commands.{name}")
        for name, rs in raw.commands.items():
            for alias in rs.aliases:
                if alias in commands:
                    raise self.fail(f"commands.{name}.aliases", f"alias {alias!r} is already an entry")
                commands[alias] = commands[name]
            patterns.extend((p, commands[name]) for p in rs.patterns)
        env = tuple(
            EnvRule(tuple(e.names), tuple(e.except_), frozenset(e.safe_values), Kind[e.kind.upper()],
                    e.reason)
            for e in raw.env
        )
        return Catalog(
            path=Path(self.path), commands=commands, patterns=tuple(patterns), env=env,
            neutral_devices=frozenset(raw.neutral), neutral_prefixes=tuple(raw.neutral_prefixes),
            network_prefixes=tuple(raw.network_prefixes), trusted_dirs=frozenset(raw.trusted_dirs),
            max_shell_depth=raw.max_shell_depth, max_layers=raw.max_layers,
        )

    def top(self, name: str, entry: str) -> CommandSpec:
        name = name if name in self.raw.commands else self.owner.get(name, name)
        if name in self.done:
            return self.done[name]
        if name in self.busy:
            raise self.fail(entry, f"same_as forms a cycle through {name!r}")
        rs = self.raw.commands.get(name)
        if rs is None:
            raise self.fail(entry, f"same_as names {name!r}, which is not an entry of [commands]")
        self.busy.add(name)
        spec = self.spec(rs, name, f"commands.{name}", top=True)
        self.busy.discard(name)
        self.done[name] = spec
        return spec

    def spec(self, rs: RawSpec, display: str, entry: str, *, top: bool) -> CommandSpec:
        if rs.same_as is not None:
            extra = rs.keys - {"same_as", "aliases", "patterns"}
            if extra:
                raise self.fail(entry, f"same_as cannot be combined with {', '.join(sorted(extra))}")
            return self.top(rs.same_as, entry)
        if rs.kind is None:
            raise self.fail(entry, "needs a kind (or same_as)")
        if not top and rs.patterns:
            raise self.fail(entry, "patterns are only allowed on top-level commands")
        options = self.options(rs, entry)
        roles = self.roles(rs.args, f"{entry}.args")
        subs: dict[str, CommandSpec] = {}
        for sname, srs in rs.sub.items():
            sub = self.spec(srs, f"{display} {sname}", f"{entry}.sub.{sname}", top=False)
            for key in (sname, *srs.aliases):
                if key in subs:
                    raise self.fail(f"{entry}.sub.{sname}", f"subcommand {key!r} is defined twice")
                subs[key] = sub
        if rs.default_sub is not None and rs.default_sub not in subs:
            raise self.fail(f"{entry}.default_sub", f"{rs.default_sub!r} is not a subcommand of this entry")
        needs_subs = "sub" in roles.all() or any("sub" in o.values for o in options.values())
        if needs_subs != bool(subs) and rs.default_sub is None:
            raise self.fail(entry, "a 'sub' role needs [sub] entries, and [sub] entries need a 'sub' role")
        for key, role in rs.operands.items():
            if role not in VALUE_ROLES:
                raise self.fail(f"{entry}.operands.{key}", f"unknown role {role!r}")
        words = []
        for i, w in enumerate(rs.word):
            if w.option is not None and w.option not in options:
                raise self.fail(f"{entry}.word[{i}]", f"option {w.option!r} is not an option of this entry")
            words.append(WordRule(tuple(w.match), Kind[w.kind.upper()], w.reason, w.index, w.option))
        unknown_sub = None if isinstance(rs.unknown_sub, str) else (
            _effect(rs.unknown_sub) or Effect(Kind.UNKNOWN, None)
        )
        kind = Kind[rs.kind.upper()]
        inert = (
            not subs and not words and rs.with_args is None and rs.without_args is None
            and rs.dashdash is None and not rs.writes_cwd and rs.reads_unknown is None
            and rs.writes_unknown is None and roles.all() <= INERT_ROLES
            and not any(o.dangerous for o in options.values())
        )
        runs_code = bool(roles.all() & RUNS_CODE) or any(
            set(o.values) & RUNS_CODE for o in options.values()
        )
        never = rs.never_broaden if rs.never_broaden is not None else (
            runs_code or kind >= Kind.UNKNOWN
        )
        prefixable = tuple(sorted({n for o in options.values() if o.dangerous for n in o.names
                                   if n.startswith("--")}))
        return CommandSpec(
            name=display, kind=kind, reason=rs.reason, style=rs.style, args=roles, files=rs.files,
            info=frozenset(tuple(i.split()) for i in rs.info), ignore=tuple(rs.ignore),
            operands=dict(rs.operands), options=options, prefixable=prefixable, words=tuple(words),
            subs=subs, default_sub=rs.default_sub, unknown_sub=unknown_sub,
            with_args=_effect(rs.with_args), without_args=_effect(rs.without_args),
            dashdash=_effect(rs.dashdash), writes_cwd=rs.writes_cwd, reads_unknown=rs.reads_unknown,
            writes_unknown=rs.writes_unknown, old_style=rs.old_style, inert=inert,
            risky=any(o.risky for o in options.values()), never_broaden=never,
        )

    def options(self, rs: RawSpec, entry: str) -> dict[str, OptionSpec]:
        out: dict[str, OptionSpec] = {}
        for set_name in rs.include:
            if set_name not in self.raw.sets:
                raise self.fail(f"{entry}.include", f"there is no option set {set_name!r} in [sets]")
            for i, ro in enumerate(self.raw.sets[set_name]):
                opt = self.option(ro, f"sets.{set_name}[{i}]")
                out.update(dict.fromkeys(opt.names, opt))
        own: set[str] = set()
        for i, ro in enumerate(rs.option):
            opt = self.option(ro, f"{entry}.option[{i}]")
            for name in opt.names:
                if name in own:
                    raise self.fail(f"{entry}.option[{i}]", f"option {name!r} is defined twice")
                own.add(name)
                out[name] = opt
        return out

    def option(self, ro: RawOption, entry: str) -> OptionSpec:
        values = () if ro.value is None else tuple(ro.value)
        for name in ro.names:
            if not name.startswith("-") or name in ("-", "--"):
                raise self.fail(entry, f"option name {name!r} must start with '-'")
        for v in values:
            if v not in VALUE_ROLES and v not in OPTION_ONLY_ROLES:
                raise self.fail(f"{entry}.value", f"unknown role {v!r}")
        if len(values) > 1 and set(values) & OPTION_ONLY_ROLES:
            raise self.fail(f"{entry}.value", "exec, execdir and sub must be an option's only value")
        if ro.optional and len(values) != 1:
            raise self.fail(f"{entry}.optional", "only an option with exactly one value can be optional")
        if ro.unless and not values:
            raise self.fail(f"{entry}.unless", "unless needs an option that takes a value")
        return OptionSpec(
            names=tuple(ro.names), values=values, optional=ro.optional, kind=_kind(ro.kind),
            base=_kind(ro.base), reason=ro.reason,
            args=None if ro.args is None else self.roles(ro.args, f"{entry}.args"),
            files=ro.files, unless=tuple(u.lower() for u in ro.unless), writes_cwd=ro.writes_cwd,
            reads_unknown=ro.reads_unknown, writes_unknown=ro.writes_unknown,
        )

    def roles(self, items: list[str], entry: str) -> Roles:
        front: list[str] = []
        back: list[str] = []
        repeat: str | None = None
        for i, item in enumerate(items):
            role = item.removesuffix("...")
            if role not in VALUE_ROLES and role not in TERMINAL_ROLES:
                raise self.fail(entry, f"unknown role {role!r}")
            if role in TERMINAL_ROLES and (i != len(items) - 1 or item.endswith("...") or repeat):
                raise self.fail(entry, f"role {role!r} takes every remaining word: it must come last, once")
            if item.endswith("..."):
                if repeat is not None:
                    raise self.fail(entry, "only one role may repeat ('...')")
                repeat = role
            elif repeat is None:
                front.append(role)
            else:
                back.append(role)
        return Roles(tuple(front), repeat, tuple(back))


def _effect(raw: RawEffect | None) -> Effect | None:
    return None if raw is None else Effect(Kind[raw.kind.upper()], raw.reason, raw.min)
