"""The mode table: what each permission mode decides when no rule matches.

One pure function, ``fallback``, maps (mode, kind of action, inside the project?, how it runs) to a
decision and a reason. docs/POLICY.md shows the same table to users; tests/policy/test_modes.py checks
every cell.
"""

from __future__ import annotations

from policy._types import Decision, Kind, Mode
from policy._values import frozen

ALLOW, ASK, DENY = Decision.ALLOW, Decision.ASK, Decision.DENY


@frozen
class Outcome:
    """One judged piece of a request (a command, a path, a rule match) before pieces are combined."""

    decision: Decision
    reason: str
    rule: str | None
    kind: Kind


@frozen
class Situation:
    """How an action runs. ``bash`` is True for shell commands (and the paths they touch), False for
    the in-process path tools; ``sandboxed`` and ``read_only_sandbox`` describe the bash sandbox."""

    bash: bool
    sandboxed: bool
    read_only_sandbox: bool


def fallback(mode: Mode, kind: Kind, inside: bool, how: Situation) -> tuple[Decision, str]:
    """The mode's decision for one action no rule matched."""
    if mode is Mode.RESTRICTIVE:
        return ASK, "restrictive mode asks before every tool call"

    if kind >= Kind.DESTRUCTIVE:
        if mode is Mode.READ_ONLY:
            return DENY, f"read-only mode denies {_what(kind)}"
        return ASK, f"{_what(kind)} always asks"

    if mode is Mode.READ_ONLY:
        if kind > Kind.READ:
            return DENY, f"read-only mode denies {_what(kind)}"
        if not inside:
            return DENY, "read-only mode denies access outside the project"
        if how.bash and not how.read_only_sandbox:
            return DENY, "read-only mode runs commands only inside a read-only sandbox"
        return ALLOW, "read-only mode allows reading the project"

    if mode is Mode.YOLO:
        return ALLOW, "yolo mode allows everything but destructive commands"

    if kind <= Kind.READ:
        if inside:
            return ALLOW, f"{mode.value} mode allows reading inside the project"
        return ASK, "reading outside the project asks"

    if mode is Mode.GUARDED:
        return ASK, f"guarded mode asks before {_what(kind)}"

    # standard
    if kind in (Kind.WRITE, Kind.BUILD):
        if not inside:
            return ASK, "writing outside the project asks"
        if how.bash and not how.sandboxed:
            return ASK, f"{_what(kind)} outside a sandbox asks"
        if kind is Kind.BUILD:
            return ALLOW, "standard mode allows build and test commands inside the sandbox"
        return ALLOW, "standard mode allows writing inside the project"
    return ASK, f"{_what(kind)} asks in standard mode"


def _what(kind: Kind) -> str:
    return {
        Kind.NEUTRAL: "a command",
        Kind.READ: "reading",
        Kind.WRITE: "writing",
        Kind.BUILD: "a build or test command",
        Kind.UNKNOWN: "an unknown or code-running command",
        Kind.NETWORK: "network access",
        Kind.DESTRUCTIVE: "a destructive command",
        Kind.PRIVILEGE: "a privilege or code-injection change",
        Kind.OPAQUE: "a command the engine cannot see through",
    }[kind]
