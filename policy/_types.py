"""Value types shared by the policy engine's modules: decisions, modes, requests, verdicts, shell facts.

Everything here is immutable and free of I/O. The engine's other modules exchange only these types,
so each can be tested on its own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path

from policy._values import frozen


class Decision(enum.IntEnum):
    """What the engine says about a request. Ordered: combining decisions is ``max``."""

    ALLOW = 0
    ASK = 1
    DENY = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Decision:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown decision {text!r}: use allow, ask or deny") from None


class Mode(enum.StrEnum):
    """The five permission modes, from the strictest to the loosest."""

    RESTRICTIVE = "restrictive"
    READ_ONLY = "read-only"
    GUARDED = "guarded"
    STANDARD = "standard"
    YOLO = "yolo"

    @classmethod
    def parse(cls, text: str) -> Mode:
        norm = text.strip().lower().replace("_", "-")
        if norm == "readonly":
            norm = "read-only"
        try:
            return cls(norm)
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown mode {text!r}: use one of {names}") from None


class Kind(enum.IntEnum):
    """What a single action does, from the engine's point of view; higher is more dangerous.

    The mode table (``policy/_modes.py``) maps a kind, plus whether the action stays inside the
    project and runs sandboxed, to a fallback decision.
    """

    NEUTRAL = 0  # no effect outside the shell itself: echo, true, cd, a variable assignment
    READ = 1  # reads files (read-only command, read tool)
    WRITE = 2  # writes files (redirection, cp, write tool)
    BUILD = 3  # build/test commands that run project code (pytest, cargo test, make test)
    UNKNOWN = 4  # a program the catalog does not know, an interpreter, an MCP tool
    NETWORK = 5  # talks to the network (curl, git push, web_fetch, /dev/tcp)
    DESTRUCTIVE = 6  # deletes or rewrites data in bulk, or is hard to undo (rm, dd, git reset --hard)
    PRIVILEGE = 7  # changes privileges or injects code into other programs (sudo, LD_PRELOAD=, chmod u+s)
    OPAQUE = 8  # the engine cannot see what it does: never allowed


# Tool-name groups usable in rule files and by callers.
READ_TOOLS: frozenset[str] = frozenset({"read", "grep", "find_files", "list_dir"})
WRITE_TOOLS: frozenset[str] = frozenset({"write", "edit"})
TOOL_GROUPS: Mapping[str, frozenset[str]] = {
    "@read": READ_TOOLS,
    "@write": WRITE_TOOLS,
    "@path": READ_TOOLS | WRITE_TOOLS,
}


@frozen
class Request:
    """One tool call to judge.

    ``args`` carries the tool's arguments as the model sent them; the engine looks at ``command``
    (bash), ``path`` (path tools), ``url`` (web_fetch). ``sandboxed`` says whether a bash command will
    run inside a sandbox; ``read_only_sandbox`` whether that sandbox makes everything read-only.
    """

    tool: str
    args: Mapping[str, object]
    cwd: Path
    project_root: Path
    mode: Mode = Mode.STANDARD
    sandboxed: bool = True
    read_only_sandbox: bool = False

    def key(self) -> str:
        """A stable identity used by doom-loop detection."""
        items = sorted((k, repr(v)) for k, v in self.args.items())
        return f"{self.tool}|{self.cwd}|{items!r}"


# ---------------------------------------------------------------------------------------------
# Shell facts: what the bash analysis extracts from a command string (policy/_shell.py).


@frozen
class Word:
    """One shell word.

    ``value`` is the word after quote removal when ``literal`` is true. A word is not literal when it
    contains anything the shell would expand at run time: parameter or command substitution,
    arithmetic, process substitution, an unquoted glob (``*``, ``?``, ``[``), brace expansion, or a
    ``~user`` tilde. A leading ``~`` or ``~/`` is literal with ``tilde`` set (the engine expands it).
    ``glob`` is set when the only non-literal part is an unquoted glob pattern; ``value`` then holds
    the pattern with quoting removed, so the engine can expand it itself.
    """

    raw: str
    value: str
    literal: bool
    glob: bool = False
    tilde: bool = False


@frozen
class Redirect:
    """A redirection. ``op`` is the operator as written (``>``, ``>>``, ``<``, ``>|``, ``&>``, ``<>``,
    ``>&``, ``<<<``, ``<<``). ``target`` is None for fd duplications such as ``2>&1``."""

    op: str
    target: Word | None
    fd: int | None = None

    @property
    def writes(self) -> bool:
        return self.op in {">", ">>", ">|", "&>", "&>>", "<>", ">&"}

    @property
    def reads(self) -> bool:
        return self.op in {"<", "<>"}


@frozen
class SimpleCommand:
    """One simple command found anywhere in the script (top level, pipeline, substitution, loop …).

    ``argv`` is empty for a bare assignment (``X=1``) or bare redirection (``> file``).
    ``context`` names where it was found: ``top``, ``pipeline``, ``substitution``,
    ``process-substitution``, ``subshell``, ``function``, ``loop``, ``condition``, ``heredoc``.
    """

    argv: tuple[Word, ...]
    assignments: tuple[tuple[str, Word], ...] = ()
    redirects: tuple[Redirect, ...] = ()
    context: str = "top"
    text: str = ""


@frozen
class ShellAnalysis:
    """The result of analysing a script. ``opaque`` lists why parts of it cannot be seen through
    (a parse error, ``$'…'``, a non-literal command name, ``eval`` …); any entry there means the script
    is never allowed. ``functions`` are names defined in the script (their bodies are in
    ``commands``), so calling one is not an unknown program."""

    source: str
    commands: tuple[SimpleCommand, ...]
    opaque: tuple[str, ...] = ()
    functions: frozenset[str] = frozenset()


# ---------------------------------------------------------------------------------------------
# Classified commands: what the catalog says one simple command does (policy/_commands.py).


@frozen
class CommandFacts:
    """What one simple command does.

    ``argv`` is the innermost command after wrappers (``sudo``, ``timeout``, ``env`` …) are unwrapped;
    ``layers`` holds every argv from outermost to innermost (rules are matched against each layer).
    ``reads``/``writes`` are path words the command reads or writes (including redirections), not yet
    resolved. ``cd`` is the literal target when the command changes the working directory.
    """

    text: str
    argv: tuple[str, ...]
    layers: tuple[tuple[str, ...], ...]
    kind: Kind
    reasons: tuple[str, ...]
    reads: tuple[Word, ...] = ()
    writes: tuple[Word, ...] = ()
    cd: Word | None = None


# ---------------------------------------------------------------------------------------------
# Verdicts.


@frozen
class CommandVerdict:
    """The decision for one simple command of a bash request."""

    command: str
    decision: Decision
    reason: str
    rule: str | None
    kind: Kind

    def as_dict(self) -> dict[str, str | None]:
        return {
            "command": self.command,
            "decision": self.decision.label,
            "reason": self.reason,
            "rule": self.rule,
            "kind": self.kind.name.lower(),
        }


@frozen
class Verdict:
    """The engine's answer: a decision, why, which rule decided (None for the mode fallback), and for
    bash the per-command breakdown. ``note`` carries a coaching message (doom loops)."""

    decision: Decision
    reason: str
    rule: str | None = None
    commands: tuple[CommandVerdict, ...] = field(default=())
    note: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "decision": self.decision.label,
            "reason": self.reason,
            "rule": self.rule,
            "commands": [c.as_dict() for c in self.commands],
        }
        if self.note:
            out["note"] = self.note
        return out
