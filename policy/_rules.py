"""Rule files: load and validate one TOML file and verify its examples. Re-exports the rule-set API
(``RuleSet``, ``merge`` …) so the engine imports rule handling from one place.

Format and semantics are documented for users in docs/POLICY.md. Malformed input raises
``RuleFileError`` naming the file, the line and the rule. A project file the user has not trusted
can only tighten: its allow rules, ``disable`` list and ``[doom_loop]`` table are dropped with a
warning. Reading the file is the only I/O.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import NoReturn, cast

from policy._errors import RuleFileError
from policy._matchers import ArgvMatcher, Matcher, MatcherError, PathsMatcher, RegexMatcher
from policy._rule import ID_RE, SOURCES, Rule, Source
from policy._ruleset import DoomAction, DoomLoop, DoomLoopSettings, RuleFile, RuleSet, merge
from policy._types import Decision, Mode

__all__ = [
    "EXAMPLE_HOME",
    "EXAMPLE_PROJECT",
    "DoomAction",
    "DoomLoop",
    "DoomLoopSettings",
    "ExampleChecker",
    "Rule",
    "RuleFile",
    "RuleSet",
    "Source",
    "default_example_check",
    "example_path",
    "load_rule_file",
    "merge",
    "optional_rule_file",
    "parse_rule_bytes",
    "parse_rule_text",
    "read_rule_file",
]

# Checks one example of a rule; None means "not mine", and the loader checks it with
# ``default_example_check``.
ExampleChecker = Callable[[Rule, str], bool | None]

# Where examples are placed when checked without a filesystem: "~/x" under EXAMPLE_HOME, a relative
# example under EXAMPLE_PROJECT.
EXAMPLE_HOME = PurePosixPath("/home/user")
EXAMPLE_PROJECT = PurePosixPath("/home/user/project")

_TOP_KEYS = ("disable", "doom_loop", "rule")
_RULE_KEYS = ("id", "tool", "decision", "reason", "argv", "prefix", "regex", "paths", "modes", "match",
              "not_match")
_MATCHER_KEYS = ("argv", "prefix", "regex", "paths")
_DOOM_KEYS = ("action", "threshold")
_HEADER_RE = re.compile(r"^\s*\[\[\s*rule\s*\]\]\s*(#.*)?$")
_TOML_LINE_RE = re.compile(r"at line (\d+)")


# ---------------------------------------------------------------------------------------------
# loading


def load_rule_file(
    path: Path, source: Source, *, trusted: bool = True, check_example: ExampleChecker | None = None
) -> RuleFile:
    """Load and validate one rule file; a missing file is an error (see ``optional_rule_file``).
    ``trusted`` matters only for ``source="project"``."""
    found = optional_rule_file(path, source, trusted=trusted, check_example=check_example)
    if found is None:
        raise RuleFileError("the policy file does not exist; create it or stop naming it", path=str(path))
    return found


def optional_rule_file(
    path: Path, source: Source, *, trusted: bool = True, check_example: ExampleChecker | None = None
) -> RuleFile | None:
    """Like ``load_rule_file``, but None when the file does not exist (the default user and project
    files are optional)."""
    data = read_rule_file(path)
    if data is None:
        return None
    return parse_rule_bytes(data, path=path, source=source, trusted=trusted, check_example=check_example)


def read_rule_file(path: Path) -> bytes | None:
    """The bytes of a rule file; None when it does not exist."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise RuleFileError(f"cannot read the policy file ({exc.strerror or exc}); fix its permissions",
                            path=str(path)) from None


def parse_rule_bytes(
    data: bytes, *, path: Path, source: Source, trusted: bool = True, check_example: ExampleChecker | None = None
) -> RuleFile:
    """Parse the bytes read from the rule file at ``path``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleFileError(f"the policy file is not UTF-8 ({exc.reason} at byte {exc.start}); save it "
                            "as UTF-8", path=str(path)) from None
    return parse_rule_text(text, path=str(path), source=source, trusted=trusted, check_example=check_example)


def parse_rule_text(
    text: str, *, path: str, source: Source, trusted: bool = True,
    check_example: ExampleChecker | None = None,
) -> RuleFile:
    """Parse the text of a rule file; ``path`` is only used in messages."""
    import tomllib  # here: importing it costs more than reading a cached file (policy/_rulecache.py)

    if source not in SOURCES:
        raise ValueError(f"unknown rule source {source!r}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE_RE.search(str(exc))
        raise RuleFileError(f"not valid TOML: {exc}; fix the syntax (docs/POLICY.md shows the format)",
                            path=path, line=int(found.group(1)) if found else None) from None
    doc = _Doc(path, text.splitlines())
    for key in data:
        if key not in _TOP_KEYS:
            doc.fail(_unknown("top-level key", key, _TOP_KEYS), line=doc.top_line(key))
    tables = data.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        doc.fail("'rule' must be an array of tables: start each rule with [[rule]] (two brackets)",
                 line=doc.top_line("rule"))
    headers = [i + 1 for i, line in enumerate(doc.lines) if _HEADER_RE.match(line)]
    if len(headers) != len(tables):
        headers = []
    rules: list[Rule] = []
    seen: dict[str, int | None] = {}
    for index, table in enumerate(cast("list[dict[str, object]]", tables)):
        line = headers[index] if headers else None
        next_header = headers[index + 1] if index + 1 < len(headers) else None
        rule = _parse_rule(doc, table, source, line, next_header)
        if rule.id in seen:
            first = f" (first defined at line {seen[rule.id]})" if seen[rule.id] else ""
            doc.fail(f"duplicate rule id{first}; rule ids must be unique, rename one",
                     line=line, rule=rule.id)
        seen[rule.id] = line
        _verify_examples(doc, rule, check_example, next_header)
        rules.append(rule)
    disable = _parse_disable(doc, data.get("disable"))
    doom = _parse_doom(doc, data.get("doom_loop"))
    disable_line = doc.top_line("disable")
    if source != "project" or trusted:
        return RuleFile(path, source, tuple(rules), disable, doom, (), disable_line)
    warnings: list[str] = []
    suffix = "a project file can only tighten until you run `corral trust`"
    kept = []
    for rule in rules:
        if rule.decision is Decision.ALLOW:
            warnings.append(f"ignored rule {rule.id!r} from untrusted project file {doc.at(rule.line)}: "
                            f"{suffix}")
        else:
            kept.append(rule)
    if disable:
        warnings.append(f"ignored `disable` from untrusted project file {doc.at(disable_line)}: {suffix}")
    if doom is not None:
        where = doc.at(doc.top_line("doom_loop"))
        warnings.append(f"ignored [doom_loop] from untrusted project file {where}: {suffix}")
    return RuleFile(path, source, tuple(kept), (), None, tuple(warnings), None)


class _Doc:
    """The raw text of a rule file, for locating keys and raising errors."""

    def __init__(self, path: str, lines: list[str]) -> None:
        self.path = path
        self.lines = lines

    def fail(self, message: str, *, line: int | None = None, rule: str | None = None) -> NoReturn:
        raise RuleFileError(message, path=self.path, line=line, rule=rule)

    def at(self, line: int | None) -> str:
        return self.path if line is None else f"{self.path}:{line}"

    def top_line(self, key: str) -> int | None:
        """The line of a top-level key or table header (before the first [[rule]])."""
        pattern = re.compile(rf'^\s*(\[{{1,2}}\s*)?"?{re.escape(key)}"?\s*(=|\]|\.)')
        return next((i + 1 for i, line in enumerate(self.lines) if pattern.match(line)), None)

    def key_line(self, key: str, start: int | None, end: int | None) -> int | None:
        """The line of ``key = …`` inside the rule whose header is at ``start``; else ``start``."""
        if start is None:
            return None
        pattern = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
        stop = len(self.lines) if end is None else end - 1
        return next((i + 1 for i in range(start, stop) if pattern.match(self.lines[i])), start)


def _parse_rule(doc: _Doc, table: Mapping[str, object], source: Source, line: int | None,
                next_header: int | None) -> Rule:
    raw_id = table.get("id")
    rule_id = raw_id if isinstance(raw_id, str) else None

    def fail(message: str, key: str | None = None) -> NoReturn:
        doc.fail(message, line=doc.key_line(key, line, next_header) if key else line, rule=rule_id)

    for key in table:
        if key not in _RULE_KEYS:
            fail(_unknown("key", key, _RULE_KEYS), key)
    if raw_id is None:
        fail('the rule has no id; add one, e.g. id = "ask-git-push"')
    if rule_id is None:
        fail(f"id must be a string, not {_type(raw_id)}", "id")
    if not ID_RE.fullmatch(rule_id):
        fail(f"invalid id {rule_id!r}: use lowercase letters, digits, '.', '_' and '-', starting with a "
             "letter or digit", "id")
    decision_raw = table.get("decision")
    if not isinstance(decision_raw, str):
        fail('the rule has no decision; add decision = "allow", "ask" or "deny"' if decision_raw is None
             else f"decision must be a string, not {_type(decision_raw)}", "decision")
    try:
        decision = Decision.parse(decision_raw)
    except ValueError as exc:
        fail(str(exc), "decision")
    if "tool" not in table:
        fail('the rule has no tool; add one, e.g. tool = "bash" (docs/POLICY.md lists the tools)')
    tools = _strings(table, "tool", fail)
    present = [k for k in _MATCHER_KEYS if k in table]
    if not present:
        fail("the rule has no matcher; add exactly one of argv, prefix, regex, paths "
             '(regex = "" matches every call)')
    if len(present) > 1:
        fail(f"the rule has {' and '.join(present)}; a rule takes exactly one matcher, split it in two",
             present[1])
    kind = present[0]
    matcher: Matcher
    try:
        if kind in ("argv", "prefix"):
            words = table[kind]
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                fail(f'{kind} must be a list of words, e.g. {kind} = ["git", "push"]', kind)
            matcher = ArgvMatcher("argv" if kind == "argv" else "prefix", tuple(cast("list[str]", words)))
        elif kind == "regex":
            pattern = table["regex"]
            if not isinstance(pattern, str):
                fail(f"regex must be a string, not {_type(pattern)}", "regex")
            matcher = RegexMatcher(pattern)
        else:
            matcher = PathsMatcher(_strings(table, "paths", fail))
    except MatcherError as exc:
        fail(str(exc), kind)
    reason = table.get("reason")
    if reason is not None and not isinstance(reason, str):
        fail(f"reason must be a string, not {_type(reason)}", "reason")
    modes: frozenset[Mode] | None = None
    if "modes" in table:
        try:
            modes = frozenset(Mode.parse(m) for m in _strings(table, "modes", fail, empty_ok=True))
        except ValueError as exc:
            fail(str(exc), "modes")
    match = _strings(table, "match", fail) if "match" in table else ()
    not_match = _strings(table, "not_match", fail) if "not_match" in table else ()
    return Rule(id=rule_id, tools=tools, decision=decision, matcher=matcher, reason=reason, source=source,
                file=doc.path, line=line, modes=modes, match=match, not_match=not_match)


def _strings(table: Mapping[str, object], key: str, fail: Callable[[str, str], NoReturn], *,
             empty_ok: bool = False) -> tuple[str, ...]:
    """A string or a list of strings."""
    value = table.get(key)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and (value or empty_ok):
        return tuple(cast("list[str]", value))
    fail(f"{key} must be a string or a non-empty list of strings, not {_type(value)}", key)


def _parse_disable(doc: _Doc, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    line = doc.top_line("disable")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        doc.fail('disable must be a list of rule ids, e.g. disable = ["protect-env-files"]', line=line)
    ids = tuple(cast("list[str]", value))
    for rule_id in ids:
        if not ID_RE.fullmatch(rule_id):
            doc.fail(f"disable lists {rule_id!r}, which is not a rule id; copy the id from the rule",
                     line=line)
    return ids


def _parse_doom(doc: _Doc, value: object) -> DoomLoopSettings | None:
    if value is None:
        return None
    line = doc.top_line("doom_loop")
    if not isinstance(value, dict):
        doc.fail("doom_loop must be a table: [doom_loop] with action and threshold", line=line)
    table = cast("dict[str, object]", value)
    for key in table:
        if key not in _DOOM_KEYS:
            doc.fail(_unknown("key in [doom_loop]", key, _DOOM_KEYS), line=line)
    action = table.get("action")
    if action is not None and action not in ("coach", "ask", "deny"):
        doc.fail(f"doom_loop action must be \"coach\", \"ask\" or \"deny\", not {action!r}", line=line)
    threshold = table.get("threshold")
    if threshold is not None and (type(threshold) is not int or threshold < 2):
        doc.fail(f"doom_loop threshold must be a whole number of at least 2, not {threshold!r}", line=line)
    return DoomLoopSettings(action, threshold)


def _unknown(what: str, key: str, allowed: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {key!r}{hint}; allowed: {', '.join(allowed)}"


def _type(value: object) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "a list",
             dict: "a table"}
    return next((n for t, n in names.items() if type(value) is t), type(value).__name__)


# ---------------------------------------------------------------------------------------------
# examples


def _verify_examples(doc: _Doc, rule: Rule, checker: ExampleChecker | None, next_header: int | None) -> None:
    for expected, key, examples in ((True, "match", rule.match), (False, "not_match", rule.not_match)):
        line = doc.key_line(key, rule.line, next_header)
        for example in examples:
            try:
                got = checker(rule, example) if checker is not None else None
                if got is None:
                    got = default_example_check(rule, example)
            except MatcherError as exc:
                doc.fail(f"example {example!r}: {exc}", line=line, rule=rule.id)
            if got != expected:
                verb = "does not match" if expected else "matches"
                doc.fail(f"example {example!r} is listed under {key} but {verb}; fix the matcher or the "
                         "example", line=line, rule=rule.id)


def default_example_check(rule: Rule, example: str) -> bool:
    """Check an example without the shell analysis or the filesystem: a command is split with
    shlex and tested as one layer; a path is placed textually (``~/`` under EXAMPLE_HOME, relative
    under EXAMPLE_PROJECT); anything else is tested as written. Raises MatcherError for an example
    that cannot be read."""
    kinds = rule.example_kinds()
    if "command" in kinds:
        import shlex

        try:
            words = shlex.split(example)
        except ValueError as exc:
            raise MatcherError(f"cannot split the command ({exc}); fix its quoting") from None
        if not words:
            raise MatcherError("the example is empty")
        return rule.matches_command([words], " ".join(words))
    if "path" in kinds:
        return rule.matches_path(example_path(example), EXAMPLE_PROJECT, EXAMPLE_HOME)
    return rule.matches_value(example)


def example_path(text: str) -> PurePosixPath:
    """Where a path example lies, textually: ``~/x`` in EXAMPLE_HOME, ``x`` in EXAMPLE_PROJECT."""
    if not text.strip():
        raise MatcherError("the example is empty")
    if text == "~" or text.startswith("~/"):
        full = EXAMPLE_HOME.as_posix() + text[1:]
    elif text.startswith("/"):
        full = text
    else:
        full = f"{EXAMPLE_PROJECT.as_posix()}/{text}"
    return PurePosixPath(posixpath.normpath(full))
