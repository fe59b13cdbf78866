"""The raw shape of ``policies/commands.toml`` (see docs/CATALOG.md), read from parsed TOML with
plain typed checks.

This module only checks structure and spelling: every table's keys are known, every value has the
right type, every kind is a kind. ``policy/_catalog.py`` checks meaning (roles, references between
entries) and compiles the raw entries into the specs the classifier uses. Errors name the entry,
as ``commands.sed.option[1].value``.
"""

from __future__ import annotations

from dataclasses import field

from policy._values import frozen

KINDS = ("neutral", "read", "write", "build", "unknown", "network", "destructive", "privilege", "opaque")
STYLES = ("gnu", "posix", "single-dash", "none")


class SchemaError(Exception):
    def __init__(self, entry: str, message: str) -> None:
        super().__init__(message)
        self.entry = entry
        self.message = message


@frozen
class RawEffect:
    kind: str
    reason: str | None = None
    min: int = 1


@frozen
class RawOption:
    names: list[str]
    value: list[str] | None = None
    optional: bool = False
    kind: str | None = None
    base: str | None = None
    reason: str | None = None
    args: list[str] | None = None
    files: str | None = None
    unless: list[str] = field(default_factory=list)
    writes_cwd: bool = False
    reads_unknown: str | None = None
    writes_unknown: str | None = None


@frozen
class RawWord:
    match: list[str]
    kind: str
    index: int | None = None
    option: str | None = None
    reason: str | None = None


@frozen
class RawSpec:
    keys: frozenset[str]
    same_as: str | None
    aliases: list[str]
    patterns: list[str]
    kind: str | None
    reason: str | None
    style: str
    args: list[str]
    files: str
    info: list[str]
    ignore: list[str]
    operands: dict[str, str]
    include: list[str]
    option: list[RawOption]
    word: list[RawWord]
    sub: dict[str, RawSpec]
    default_sub: str | None
    unknown_sub: RawEffect | str | None
    with_args: RawEffect | None
    without_args: RawEffect | None
    dashdash: RawEffect | None
    writes_cwd: bool
    reads_unknown: str | None
    writes_unknown: str | None
    old_style: bool
    never_broaden: bool | None


@frozen
class RawEnv:
    names: list[str]
    except_: list[str]
    safe_values: list[str]
    kind: str
    reason: str


@frozen
class RawCatalog:
    max_shell_depth: int
    max_layers: int
    trusted_dirs: list[str]
    neutral: list[str]
    neutral_prefixes: list[str]
    network_prefixes: list[str]
    env: list[RawEnv]
    sets: dict[str, list[RawOption]]
    commands: dict[str, RawSpec]


# ---------------------------------------------------------------------------------------------
# Typed access to parsed TOML.


def _table(value: object, entry: str, allowed: frozenset[str]) -> dict[str, object]:
    if not isinstance(value, dict):
        raise SchemaError(entry, f"must be a table, not {type(value).__name__}")
    out: dict[str, object] = {}
    for key, item in value.items():
        if not isinstance(key, str) or key not in allowed:
            raise SchemaError(entry, f"unknown key {key!r} (known: {', '.join(sorted(allowed))})")
        out[key] = item
    return out


def _str(t: dict[str, object], key: str, entry: str, choices: tuple[str, ...] = ()) -> str | None:
    v = t.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise SchemaError(f"{entry}.{key}", "must be a string")
    if choices and v not in choices:
        raise SchemaError(f"{entry}.{key}", f"{v!r} is not one of {', '.join(choices)}")
    return v


def _strs(t: dict[str, object], key: str, entry: str, *, single: bool = False) -> list[str] | None:
    v = t.get(key)
    if v is None:
        return None
    if single and isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise SchemaError(f"{entry}.{key}", "must be a list of strings")
    return [x for x in v if isinstance(x, str)]


def _bool(t: dict[str, object], key: str, entry: str) -> bool | None:
    v = t.get(key)
    if v is not None and not isinstance(v, bool):
        raise SchemaError(f"{entry}.{key}", "must be true or false")
    return v


def _int(t: dict[str, object], key: str, entry: str, default: int, lo: int, hi: int) -> int:
    v = t.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise SchemaError(f"{entry}.{key}", f"must be a whole number from {lo} to {hi}")
    return v


def _list(t: dict[str, object], key: str, entry: str) -> list[object]:
    v = t.get(key, [])
    if not isinstance(v, list):
        raise SchemaError(f"{entry}.{key}", "must be a list")
    return v


def _required(value: str | list[str] | None, entry: str, key: str) -> None:
    if not value:
        raise SchemaError(f"{entry}.{key}", "is required")


# ---------------------------------------------------------------------------------------------

_EFFECT = frozenset({"kind", "reason", "min"})
_OPTION = frozenset({"names", "value", "optional", "kind", "base", "reason", "args", "files", "unless",
                     "writes_cwd", "reads_unknown", "writes_unknown"})
_WORD = frozenset({"match", "index", "option", "kind", "reason"})
_SPEC = frozenset({"same_as", "aliases", "patterns", "kind", "reason", "style", "args", "files", "info",
                   "ignore", "operands", "include", "option", "word", "sub", "default_sub", "unknown_sub",
                   "with_args", "without_args", "dashdash", "writes_cwd", "reads_unknown", "writes_unknown",
                   "old_style", "never_broaden"})
_ENV = frozenset({"names", "except", "safe_values", "kind", "reason"})
_TOP = frozenset({"version", "settings", "devices", "env", "sets", "commands"})
_SETTINGS = frozenset({"max_shell_depth", "max_layers", "trusted_dirs"})
_DEVICES = frozenset({"neutral", "neutral_prefixes", "network_prefixes"})


def _effect(value: object, entry: str) -> RawEffect | None:
    if value is None:
        return None
    t = _table(value, entry, _EFFECT)
    kind = _str(t, "kind", entry, KINDS)
    if kind is None:
        raise SchemaError(f"{entry}.kind", "is required")
    return RawEffect(kind, _str(t, "reason", entry), _int(t, "min", entry, 1, 1, 99))


def read_option(value: object, entry: str) -> RawOption:
    t = _table(value, entry, _OPTION)
    names = _strs(t, "names", entry)
    _required(names, entry, "names")
    return RawOption(
        names=names or [], value=_strs(t, "value", entry, single=True),
        optional=bool(_bool(t, "optional", entry)), kind=_str(t, "kind", entry, KINDS),
        base=_str(t, "base", entry, KINDS), reason=_str(t, "reason", entry), args=_strs(t, "args", entry),
        files=_str(t, "files", entry, ("read", "write")), unless=_strs(t, "unless", entry) or [],
        writes_cwd=bool(_bool(t, "writes_cwd", entry)), reads_unknown=_str(t, "reads_unknown", entry),
        writes_unknown=_str(t, "writes_unknown", entry),
    )


def _word(value: object, entry: str) -> RawWord:
    t = _table(value, entry, _WORD)
    match = _strs(t, "match", entry)
    _required(match, entry, "match")
    kind = _str(t, "kind", entry, KINDS)
    _required(kind, entry, "kind")
    index = None if t.get("index") is None else _int(t, "index", entry, 0, 0, 99)
    return RawWord(match or [], kind or "", index, _str(t, "option", entry), _str(t, "reason", entry))


def read_spec(value: object, entry: str) -> RawSpec:
    t = _table(value, entry, _SPEC)
    operands = _table(t.get("operands", {}), f"{entry}.operands", frozenset(_operand_keys(t)))
    subs = _table(t.get("sub", {}), f"{entry}.sub", frozenset(_keys(t.get("sub", {}))))
    unknown = t.get("unknown_sub")
    if unknown is not None and not (isinstance(unknown, str) and unknown == "data"):
        if isinstance(unknown, str):
            raise SchemaError(f"{entry}.unknown_sub", "must be \"data\" or a table { kind, reason }")
        unknown = _effect(unknown, f"{entry}.unknown_sub")
    return RawSpec(
        keys=frozenset(t), same_as=_str(t, "same_as", entry), aliases=_strs(t, "aliases", entry) or [],
        patterns=_strs(t, "patterns", entry) or [], kind=_str(t, "kind", entry, KINDS),
        reason=_str(t, "reason", entry), style=_str(t, "style", entry, STYLES) or "gnu",
        args=_strs(t, "args", entry) or (["file..."] if "args" not in t else []),
        files=_str(t, "files", entry, ("read", "write")) or "read", info=_strs(t, "info", entry) or [],
        ignore=_strs(t, "ignore", entry) or [],
        operands={k: _str(operands, k, f"{entry}.operands") or "" for k in operands},
        include=_strs(t, "include", entry) or [],
        option=[read_option(o, f"{entry}.option[{i}]") for i, o in enumerate(_list(t, "option", entry))],
        word=[_word(w, f"{entry}.word[{i}]") for i, w in enumerate(_list(t, "word", entry))],
        sub={k: read_spec(v, f"{entry}.sub.{k}") for k, v in subs.items()},
        default_sub=_str(t, "default_sub", entry),
        unknown_sub=unknown if isinstance(unknown, (RawEffect, str)) else None,
        with_args=_effect(t.get("with_args"), f"{entry}.with_args"),
        without_args=_effect(t.get("without_args"), f"{entry}.without_args"),
        dashdash=_effect(t.get("dashdash"), f"{entry}.dashdash"),
        writes_cwd=bool(_bool(t, "writes_cwd", entry)), reads_unknown=_str(t, "reads_unknown", entry),
        writes_unknown=_str(t, "writes_unknown", entry), old_style=bool(_bool(t, "old_style", entry)),
        never_broaden=_bool(t, "never_broaden", entry),
    )


def _keys(value: object) -> list[str]:
    return [k for k in value if isinstance(k, str)] if isinstance(value, dict) else []


def _operand_keys(t: dict[str, object]) -> list[str]:
    return _keys(t.get("operands", {}))


def read_catalog(data: dict[str, object]) -> RawCatalog:
    t = _table(data, "(top level)", _TOP)
    if t.get("version") != 1:
        raise SchemaError("version", "must be 1 (the only catalog format this corral understands)")
    settings = _table(t.get("settings", {}), "settings", _SETTINGS)
    devices = _table(t.get("devices", {}), "devices", _DEVICES)
    env: list[RawEnv] = []
    for i, item in enumerate(_list(t, "env", "(top level)")):
        e = _table(item, f"env[{i}]", _ENV)
        names, reason = _strs(e, "names", f"env[{i}]"), _str(e, "reason", f"env[{i}]")
        _required(names, f"env[{i}]", "names")
        _required(reason, f"env[{i}]", "reason")
        env.append(RawEnv(names or [], _strs(e, "except", f"env[{i}]") or [],
                          _strs(e, "safe_values", f"env[{i}]") or [],
                          _str(e, "kind", f"env[{i}]", KINDS) or "privilege", reason or ""))
    sets_t = _table(t.get("sets", {}), "sets", frozenset(_keys(t.get("sets", {}))))
    sets = {
        name: [read_option(o, f"sets.{name}[{i}]") for i, o in enumerate(_list(sets_t, name, "sets"))]
        for name in sets_t
    }
    if "commands" not in t:
        raise SchemaError("commands", "is required")
    cmds = _table(t["commands"], "commands", frozenset(_keys(t["commands"])))
    return RawCatalog(
        max_shell_depth=_int(settings, "max_shell_depth", "settings", 3, 0, 10),
        max_layers=_int(settings, "max_layers", "settings", 8, 1, 32),
        trusted_dirs=_strs(settings, "trusted_dirs", "settings") or ["/bin", "/usr/bin"],
        neutral=_strs(devices, "neutral", "devices") or [],
        neutral_prefixes=_strs(devices, "neutral_prefixes", "devices") or [],
        network_prefixes=_strs(devices, "network_prefixes", "devices") or [],
        env=env, sets=sets,
        commands={name: read_spec(spec, f"commands.{name}") for name, spec in cmds.items()},
    )
