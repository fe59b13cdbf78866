"""Verified rule files, cached: a rule file whose bytes parsed and whose examples all passed before,
under the same code and command catalog, is rebuilt from the startup cache (``_cache.py``) instead of
being parsed and verified again.

Verifying examples runs every bash example through the real shell analysis (bashlex) and the
catalog, and parsing needs tomllib; both cost more than the rest of a cold start. The cache entry of
a file is keyed by its path, source, trust, bytes, the catalog's identity and the code fingerprint,
so editing the file, the catalog or the code means verifying again. Only files that loaded without
error are stored: a broken file fails on every load. An entry holds what the parser produced (ids,
tools, decisions, matchers with their validated path regexes, examples, lines, warnings), and
matchers rebuilt from it compile on first use, without pathspec. An entry that does not have the
expected shape is ignored and the file parsed again.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from policy import _cache
from policy._errors import RuleFileError
from policy._matchers import HOME, PROJECT, ROOT, ArgvMatcher, Matcher, PathPart, PathsMatcher, RegexMatcher
from policy._rule import SOURCES, Rule, Source
from policy._rules import ExampleChecker, parse_rule_bytes, read_rule_file
from policy._ruleset import DoomAction, DoomLoopSettings, RuleFile
from policy._types import Decision, Mode

_DOOM_ACTIONS = ("coach", "ask", "deny")


def load_rule_file_cached(
    path: Path, source: Source, *, context: str, check_example: ExampleChecker, trusted: bool = True,
    required: bool = True,
) -> RuleFile | None:
    """Like ``load_rule_file`` (``optional_rule_file`` when not ``required``), through the cache.
    ``context`` names what verification depends on besides the file and the code (the catalog)."""
    data = read_rule_file(path)
    if data is None:
        if required:
            raise RuleFileError("the policy file does not exist; create it or stop naming it", path=str(path))
        return None
    trusted = trusted or source != "project"
    prefix = f"rules-{_cache.key(str(path), source)[:16]}-"  # this file under this code
    name = prefix + _cache.key(context, str(path), source, str(trusted), data)[:40] + ".bin"
    stored = _cache.read(name)
    if stored is not None:
        try:
            return _load(stored, str(path), source)
        except (TypeError, ValueError, RuleFileError):
            pass  # not what this code writes: parse the file again, and overwrite the entry
    loaded = parse_rule_bytes(data, path=path, source=source, trusted=trusted, check_example=check_example)
    _cache.write(name, _dump(loaded), kind="rules", replaces=prefix)
    return loaded


# ---------------------------------------------------------------------------------------------
# RuleFile <-> plain data


def _dump(f: RuleFile) -> _cache.Plain:
    doom = None if f.doom_loop is None else (f.doom_loop.action, f.doom_loop.threshold)
    return (f.path, f.source, tuple(_dump_rule(r) for r in f.rules), f.disable, doom, f.warnings,
            f.disable_line)


def _dump_rule(r: Rule) -> _cache.Plain:
    m = r.matcher
    matcher: _cache.Plain
    if isinstance(m, ArgvMatcher):
        matcher = (m.kind, m.words)
    elif isinstance(m, RegexMatcher):
        matcher = ("regex", m.pattern)
    else:
        matcher = ("paths", m.patterns, tuple((p.base, p.regex, p.include, p.dir_only) for p in m.parts))
    modes = None if r.modes is None else tuple(sorted(md.value for md in r.modes))
    return (r.id, r.tools, r.decision.label, r.reason, matcher, r.source, r.file, r.line, modes, r.match,
            r.not_match)


def _load(value: object, path: str, source: Source) -> RuleFile:
    fpath, fsource, rules, disable, doom, warnings, disable_line = _tuple(value, 7)
    if fpath != path or fsource != source:
        raise ValueError("an entry for another file")
    settings = None
    if doom is not None:
        action, threshold = _tuple(doom, 2)
        if action is not None and action not in _DOOM_ACTIONS:
            raise ValueError("bad doom_loop action")
        settings = DoomLoopSettings(cast("DoomAction | None", action), _opt_int(threshold))
    return RuleFile(path, source, tuple(_load_rule(r) for r in _tuple(rules)), _strs(disable), settings,
                    _strs(warnings), _opt_int(disable_line))


def _load_rule(value: object) -> Rule:
    rule_id, tools, decision, reason, matcher, source, file, line, modes, match, not_match = _tuple(value, 11)
    if source not in SOURCES:
        raise ValueError("bad source")
    return Rule(
        id=_str(rule_id), tools=_strs(tools), decision=Decision.parse(_str(decision)),
        matcher=_load_matcher(matcher), reason=None if reason is None else _str(reason),
        source=source, file=_str(file), line=_opt_int(line),
        modes=None if modes is None else frozenset(Mode(_str(m)) for m in _tuple(modes)),
        match=_strs(match), not_match=_strs(not_match),
    )


def _load_matcher(value: object) -> Matcher:
    kind, *rest = _tuple(value)
    if kind in ("argv", "prefix") and len(rest) == 1:
        return ArgvMatcher("argv" if kind == "argv" else "prefix", _strs(rest[0]))
    if kind == "regex" and len(rest) == 1:
        return RegexMatcher(_str(rest[0]), checked=True)
    if kind == "paths" and len(rest) == 2:
        patterns = _strs(rest[0])
        parts = []
        for item in _tuple(rest[1]):
            base, regex, include, dir_only = _tuple(item, 4)
            if type(base) is not int or base not in (ROOT, PROJECT, HOME):
                raise TypeError("bad path base")
            if type(include) is not bool or type(dir_only) is not bool:
                raise TypeError("bad path part")
            parts.append(PathPart(base, _str(regex), include, dir_only))
        if len(parts) != len(patterns):
            raise ValueError("one part per pattern")
        return PathsMatcher(patterns, tuple(parts))
    raise ValueError("bad matcher")


def _tuple(value: object, n: int | None = None) -> tuple[object, ...]:
    if not isinstance(value, tuple) or (n is not None and len(value) != n):
        raise TypeError("bad entry")
    return cast("tuple[object, ...]", value)


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("bad entry")
    return value


def _strs(value: object) -> tuple[str, ...]:
    return tuple(_str(v) for v in _tuple(value))


def _opt_int(value: object) -> int | None:
    if value is not None and type(value) is not int:
        raise TypeError("bad entry")
    return value
