"""The merged view of rule files: ``RuleFile`` (one loaded file), ``RuleSet`` (every rule in force)
and ``merge``, which checks ids across files, applies ``disable`` and settles the doom-loop settings.

Loading a file is ``policy/_rules.py``; this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import field
from typing import Literal

from policy._errors import RuleFileError
from policy._rule import Rule, Source
from policy._types import Mode
from policy._values import frozen

DoomAction = Literal["coach", "ask", "deny"]


@frozen
class DoomLoop:
    """What to do when the same tool call repeats ``threshold`` times in a row."""

    action: DoomAction = "coach"
    threshold: int = 3


@frozen
class DoomLoopSettings:
    """A ``[doom_loop]`` table as written; unset keys keep the value of an earlier file."""

    action: DoomAction | None = None
    threshold: int | None = None

    def apply(self, base: DoomLoop) -> DoomLoop:
        return DoomLoop(self.action or base.action, self.threshold or base.threshold)


@frozen
class RuleFile:
    """One loaded rule file. ``disable_line`` locates the ``disable`` key for error messages."""

    path: str
    source: Source
    rules: tuple[Rule, ...] = ()
    disable: tuple[str, ...] = ()
    doom_loop: DoomLoopSettings | None = None
    warnings: tuple[str, ...] = ()
    disable_line: int | None = None


@frozen
class RuleSet:
    """Every rule in force, in load order, plus the effective doom-loop settings and warnings."""

    rules: tuple[Rule, ...] = ()
    doom_loop: DoomLoop = DoomLoop()
    disabled: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    _by_tool: dict[tuple[str, Mode], tuple[Rule, ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def for_tool(self, tool: str, mode: Mode) -> tuple[Rule, ...]:
        """The rules in force for ``tool`` in ``mode`` (see ``Rule.applies_to``), cached."""
        key = (tool, mode)
        found = self._by_tool.get(key)
        if found is None:
            found = tuple(r for r in self.rules if r.applies_to(tool, mode))
            self._by_tool[key] = found
        return found

    def with_rules(self, extra: Iterable[Rule]) -> RuleSet:
        """A copy with more rules (session approvals); ids must stay unique."""
        rules = list(self.rules)
        ids = {r.id for r in rules}
        for rule in extra:
            if rule.id in ids:
                raise RuleFileError("a rule with this id already exists; choose another id",
                                    path=rule.file, line=rule.line, rule=rule.id)
            ids.add(rule.id)
            rules.append(rule)
        return RuleSet(tuple(rules), self.doom_loop, self.disabled, self.warnings, self.files)



def merge(files: Sequence[RuleFile]) -> RuleSet:
    """All rules of all files (ids unique across files), minus the built-in rules that a file
    disables; later files' ``[doom_loop]`` settings override earlier ones."""
    seen: dict[str, Rule] = {}
    for f in files:
        for rule in f.rules:
            other = seen.get(rule.id)
            if other is not None:
                where = other.file if other.line is None else f"{other.file}:{other.line}"
                raise RuleFileError(f"rule id already used in {where}; ids must be unique across all "
                                    "policy files, rename one (to replace a built-in rule, disable it "
                                    "and give yours a new id)", path=rule.file, line=rule.line, rule=rule.id)
            seen[rule.id] = rule
    disabled: list[str] = []
    for f in files:
        for rule_id in f.disable:
            target = seen.get(rule_id)
            if target is None:
                raise RuleFileError(f"disable lists {rule_id!r}, but no loaded rule has that id; check the "
                                    "spelling against the built-in ids (docs/POLICY.md)",
                                    path=f.path, line=f.disable_line)
            if target.source != "builtin":
                raise RuleFileError(f"disable lists {rule_id!r}, which is not a built-in rule (it comes "
                                    f"from {target.file}); edit or remove it there instead",
                                    path=f.path, line=f.disable_line)
            if rule_id not in disabled:
                disabled.append(rule_id)
    doom = DoomLoop()
    for f in files:
        if f.doom_loop is not None:
            doom = f.doom_loop.apply(doom)
    off = set(disabled)
    return RuleSet(
        rules=tuple(r for f in files for r in f.rules if r.id not in off),
        doom_loop=doom,
        disabled=tuple(disabled),
        warnings=tuple(w for f in files for w in f.warnings),
        files=tuple(f.path for f in files),
    )
