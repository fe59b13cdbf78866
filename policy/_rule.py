"""One policy rule: which tools it covers, its matcher, its decision, and where it came from.

A ``Rule`` validates itself when built (whether from a rule file or programmatically for a session
approval) and raises ``RuleFileError`` naming its file, line and id. Matching is cheap: tool
patterns and the matcher are compiled once. ``policy/_rules.py`` loads rule files into rules.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import field
from pathlib import PurePath
from typing import Literal, NoReturn

from policy._errors import RuleFileError
from policy._matchers import (
    ArgvMatcher,
    Matcher,
    MatcherError,
    PathsMatcher,
    RegexMatcher,
    escape_path,
    escape_word,
)
from policy._types import READ_TOOLS, TOOL_GROUPS, WRITE_TOOLS, Decision, Mode
from policy._values import frozen

Source = Literal["builtin", "user", "project", "cli", "session"]
SOURCES: tuple[Source, ...] = ("builtin", "user", "project", "cli", "session")
SESSION_FILE = "<session>"

# Tool names a rule may name (besides groups, "*" and "mcp:<server>:<tool>" patterns). A typo in a
# tool name would silently disable a deny rule, so an unknown name is an error.
KNOWN_TOOLS: frozenset[str] = frozenset(
    {"bash", "read", "write", "edit", "grep", "find_files", "list_dir", "web_fetch", "todo"}
)
PATH_TOOLS: frozenset[str] = READ_TOOLS | WRITE_TOOLS
# In these modes rules that loosen (decision allow) are ignored.
LOOSENING_IGNORED: frozenset[Mode] = frozenset({Mode.RESTRICTIVE, Mode.READ_ONLY})

ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_MCP_RE = re.compile(r"mcp:[^:\s]+:[^:\s]+")


@frozen
class Rule:
    """A rule. ``tools`` holds the tool patterns as written; ``match``/``not_match`` the examples."""

    id: str
    tools: tuple[str, ...]
    decision: Decision
    matcher: Matcher
    reason: str | None = None
    source: Source = "session"
    file: str = SESSION_FILE
    line: int | None = None
    modes: frozenset[Mode] | None = None
    match: tuple[str, ...] = ()
    not_match: tuple[str, ...] = ()
    _all_tools: bool = field(init=False, compare=False, repr=False)
    _names: frozenset[str] = field(init=False, compare=False, repr=False)
    _globs: tuple[re.Pattern[str], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not ID_RE.fullmatch(self.id):
            self._fail(f"invalid id {self.id!r}: use lowercase letters, digits, '.', '_' and '-', "
                       "starting with a letter or digit")
        if self.source not in SOURCES:
            self._fail(f"unknown source {self.source!r}")
        if not self.tools:
            self._fail('tool is empty; name at least one tool, e.g. tool = "bash"')
        names: set[str] = set()
        globs: list[re.Pattern[str]] = []
        for tool in self.tools:
            if tool in TOOL_GROUPS:
                names |= TOOL_GROUPS[tool]
            elif tool in KNOWN_TOOLS:
                names.add(tool)
            elif _MCP_RE.fullmatch(tool):
                globs.append(re.compile(fnmatch.translate(tool)))
            elif tool != "*":
                self._fail(_bad_tool(tool))
        object.__setattr__(self, "_all_tools", "*" in self.tools)
        object.__setattr__(self, "_names", frozenset(names))
        object.__setattr__(self, "_globs", tuple(globs))
        if self.modes is not None and not self.modes:
            self._fail("modes is empty; remove the key to apply the rule in every mode")
        if self.decision is Decision.ALLOW and self.modes is not None and self.modes <= LOOSENING_IGNORED:
            self._fail("an allow rule never applies in restrictive or read-only mode; change modes")
        if isinstance(self.matcher, ArgvMatcher) and set(self.tools) != {"bash"}:
            self._fail(f"{self.matcher.kind} matches shell words and works only with tool = \"bash\"; "
                       "use regex for other tools")
        if isinstance(self.matcher, PathsMatcher):
            bad = [t for t in self.tools if not (t in PATH_TOOLS or t in TOOL_GROUPS)]
            if bad:
                self._fail(f"paths works only with path tools ({', '.join(sorted(PATH_TOOLS))} or "
                           f"@read/@write/@path), not {', '.join(map(repr, bad))}; bash reads and "
                           "writes are judged as read and write, so a paths rule covers them")
        if (self.match or self.not_match) and len(self.example_kinds()) > 1:
            self._fail("the examples are ambiguous: this rule covers tools whose arguments differ "
                       "(a command, a path, other values); split it into one rule per kind")

    def _fail(self, message: str) -> NoReturn:
        raise RuleFileError(message, path=self.file, line=self.line, rule=self.id)

    # -- which requests the rule covers ------------------------------------------------------

    def names_tool(self, tool: str) -> bool:
        """Whether ``tool`` is one of the rule's tools (ignoring modes)."""
        return self._all_tools or tool in self._names or any(g.match(tool) for g in self._globs)

    def applies_to(self, tool: str, mode: Mode) -> bool:
        """Whether the rule is in force for ``tool`` in ``mode``: it names the tool, lists the mode
        (when it has ``modes``), and, in restrictive and read-only mode, does not loosen."""
        if self.modes is not None and mode not in self.modes:
            return False
        if self.decision is Decision.ALLOW and mode in LOOSENING_IGNORED:
            return False
        return self.names_tool(tool)

    def applies_to_bash(self) -> bool:
        return self.names_tool("bash")

    def example_kinds(self) -> frozenset[Literal["command", "path", "value"]]:
        """How the examples are read: as commands (bash), paths (path tools) or plain values."""
        if isinstance(self.matcher, ArgvMatcher):
            return frozenset({"command"})
        if isinstance(self.matcher, PathsMatcher):
            return frozenset({"path"})
        if self._all_tools:
            return frozenset({"command", "path", "value"})
        kinds: set[Literal["command", "path", "value"]] = set()
        if "bash" in self._names:
            kinds.add("command")
        if self._names & PATH_TOOLS:
            kinds.add("path")
        if self._globs or self._names - PATH_TOOLS - {"bash"}:
            kinds.add("value")
        return frozenset(kinds)

    # -- matching ----------------------------------------------------------------------------

    def matches_command(self, layers: Sequence[Sequence[str]], text: str) -> bool:
        """Whether one simple command matches. ``layers`` holds its argv from the outermost wrapper
        to the innermost command, ``text`` the command as one line. A rule that asks or denies is
        tested against every layer (and a program written as a path also by its name); an allow
        rule only against the command as written, so that ``sudo x`` is not allowed by a rule for
        ``x`` and ``./git`` not by a rule for ``git``."""
        tighten = self.decision > Decision.ALLOW
        considered = layers if tighten else layers[:1]
        m = self.matcher
        if isinstance(m, ArgvMatcher):
            return any(m.matches(layer, program_basename=tighten) for layer in considered)
        if isinstance(m, RegexMatcher):
            if m.search(text):
                return True
            for layer in considered:
                if m.search(" ".join(layer)):
                    return True
                if tighten and layer and "/" in layer[0] and m.search(
                    " ".join((layer[0].rsplit("/", 1)[1], *layer[1:]))
                ):
                    return True
        return False

    def matches_path(self, path: PurePath, project_root: PurePath, home: PurePath) -> bool:
        """Whether an absolute, resolved path matches (``paths`` globs, or ``regex`` on the path)."""
        m = self.matcher
        if isinstance(m, PathsMatcher):
            return m.matches(path, project_root, home)
        if isinstance(m, RegexMatcher):
            return m.search(path.as_posix())
        return False

    def matches_value(self, text: str) -> bool:
        """Whether a URL (web_fetch) or the JSON of a tool's arguments matches a ``regex`` rule."""
        return isinstance(self.matcher, RegexMatcher) and self.matcher.search(text)

    # -- rendering ---------------------------------------------------------------------------

    def to_toml(self) -> str:
        """The rule as a ``[[rule]]`` table that loads back into an equivalent rule."""
        out = ["[[rule]]", f"id = {toml_str(self.id)}"]
        out.append(f"tool = {toml_str(self.tools[0]) if len(self.tools) == 1 else toml_list(self.tools)}")
        out.append(f"decision = {toml_str(self.decision.label)}")
        if self.reason is not None:
            out.append(f"reason = {toml_str(self.reason)}")
        m = self.matcher
        if isinstance(m, ArgvMatcher):
            out.append(f"{m.kind} = {toml_list(m.words)}")
        elif isinstance(m, RegexMatcher):
            out.append(f"regex = {toml_str(m.pattern)}")
        else:
            out.append(f"paths = {toml_list(m.patterns)}")
        if self.modes is not None:
            out.append(f"modes = {toml_list([md.value for md in Mode if md in self.modes])}")
        if self.match:
            out.append(f"match = {toml_list(self.match)}")
        if self.not_match:
            out.append(f"not_match = {toml_list(self.not_match)}")
        return "\n".join(out) + "\n"

    # -- programmatic rules (session approvals) ----------------------------------------------

    @classmethod
    def exact_command(
        cls, argv: Sequence[str], *, id: str, reason: str | None = None,
        decision: Decision = Decision.ALLOW, source: Source = "session",
    ) -> Rule:
        """Exactly this argv: every word literal (``*`` in an approved command stays a ``*``)."""
        return cls._build(id, ("bash",), decision, reason, source,
                          lambda: ArgvMatcher("argv", tuple(escape_word(w) for w in argv)))

    @classmethod
    def command_prefix(
        cls, words: Sequence[str], *, id: str, reason: str | None = None,
        decision: Decision = Decision.ALLOW, source: Source = "session",
    ) -> Rule:
        """These literal words followed by anything (``cargo build **``)."""
        return cls._build(id, ("bash",), decision, reason, source,
                          lambda: ArgvMatcher("prefix", tuple(escape_word(w) for w in words)))

    @classmethod
    def for_path(
        cls, tool: str | Sequence[str], path: str | PurePath, *, id: str, reason: str | None = None,
        decision: Decision = Decision.ALLOW, source: Source = "session",
    ) -> Rule:
        """This absolute path (and, when it is a directory, what is under it) for ``tool``."""
        tools = (tool,) if isinstance(tool, str) else tuple(tool)
        text = path if isinstance(path, str) else path.as_posix()
        return cls._build(id, tools, decision, reason, source,
                          lambda: PathsMatcher((escape_path(text),)))

    @classmethod
    def for_tool(
        cls, tool: str, *, id: str, reason: str | None = None,
        decision: Decision = Decision.ALLOW, source: Source = "session",
    ) -> Rule:
        """Every call of one tool (an MCP tool, web_fetch …). Refuses to allow every bash command or
        every path: those approvals must be narrow."""
        broad = tool in ("bash", "*") or tool in PATH_TOOLS or tool in TOOL_GROUPS
        if decision is Decision.ALLOW and broad:
            raise RuleFileError(f"refusing to allow every call of {tool!r}; approve a narrower rule",
                                path=SESSION_FILE, rule=id)
        return cls._build(id, (tool,), decision, reason, source, lambda: RegexMatcher(""))

    @classmethod
    def _build(
        cls, id: str, tools: tuple[str, ...], decision: Decision, reason: str | None, source: Source,
        matcher: Callable[[], Matcher],
    ) -> Rule:
        try:
            built = matcher()
        except MatcherError as exc:
            raise RuleFileError(str(exc), path=SESSION_FILE, rule=id) from None
        return cls(id=id, tools=tools, decision=decision, matcher=built, reason=reason, source=source)


def _bad_tool(tool: str) -> str:
    import difflib

    valid = sorted(KNOWN_TOOLS) + sorted(TOOL_GROUPS)
    close = difflib.get_close_matches(tool, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (f"unknown tool {tool!r}{hint}; use one of {', '.join(valid)}, \"*\", "
            "or \"mcp:<server>:<tool>\" (wildcards allowed)")


def toml_str(text: str) -> str:
    """``text`` as a TOML basic string."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(toml_str(i) for i in items) + "]"
