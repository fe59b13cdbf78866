"""Judging a bash request: analyse the script, classify each simple command, judge each command and
each path it touches, and combine into one verdict with a per-command breakdown.

``cd`` is followed conservatively: once a script changes directory, every later relative path is
judged against every directory the script may be in, and the most severe answer wins.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from policy._catalog import Catalog
from policy._commands import classify
from policy._modes import Outcome, Situation, fallback
from policy._paths import expand_word, lexical
from policy._shell import analyze
from policy._types import CommandFacts, CommandVerdict, Decision, Kind, Request, Verdict, Word

if TYPE_CHECKING:
    from policy._engine import Engine, SessionState
    from policy._rules import Rule


def evaluate(engine: Engine, request: Request, session: SessionState | None) -> Verdict:
    command = request.args.get("command")
    if not isinstance(command, str) or not command.strip():
        return Verdict(Decision.DENY, "the bash tool needs a non-empty 'command' string")
    how = Situation(bash=True, sandboxed=request.sandboxed, read_only_sandbox=request.read_only_sandbox)
    analysis = analyze(command)
    verdicts: list[CommandVerdict] = []
    if analysis.opaque:
        decision, _ = fallback(request.mode, Kind.OPAQUE, True, how)
        reason = "cannot see through: " + "; ".join(analysis.opaque)
        verdicts.append(CommandVerdict(_short(command), decision, reason, None, Kind.OPAQUE))
    cwds: list[Path | None] = [request.cwd]
    for cmd in analysis.commands:
        for facts in classify(cmd, engine.catalog, functions=analysis.functions, analyze=analyze):
            verdicts.append(_judge_facts(engine, request, facts, cwds, how, session))
            if facts.cd is not None:
                _follow_cd(facts.cd, cwds, engine.home)
    if not verdicts:
        decision, reason = fallback(request.mode, Kind.NEUTRAL, True, how)
        return Verdict(decision, reason if decision > Decision.ALLOW else "the script runs no command")
    worst = max(verdicts, key=lambda v: v.decision)
    if worst.decision is Decision.ALLOW:
        return Verdict(Decision.ALLOW, _allow_reason(verdicts), None, tuple(verdicts))
    return Verdict(worst.decision, f"{worst.command}: {worst.reason}", worst.rule, tuple(verdicts))


def _judge_facts(
    engine: Engine,
    request: Request,
    facts: CommandFacts,
    cwds: list[Path | None],
    how: Situation,
    session: SessionState | None,
) -> CommandVerdict:
    outcomes: list[Outcome] = [engine.judge_command(request, facts, session)]
    for words, write in ((facts.reads, False), (facts.writes, True)):
        for word in words:
            outcomes.extend(_judge_word(engine, request, word, cwds, write=write, session=session))
    worst = max(outcomes, key=lambda o: o.decision)
    return CommandVerdict(_short(facts.text), worst.decision, worst.reason, worst.rule, facts.kind)


def _judge_word(
    engine: Engine,
    request: Request,
    word: Word,
    cwds: list[Path | None],
    *,
    write: bool,
    session: SessionState | None,
) -> list[Outcome]:
    out: list[Outcome] = []
    absolute = word.value.startswith(("/", "~"))
    for cwd in cwds:
        refs = None
        if cwd is not None or absolute:
            refs = expand_word(word, cwd or request.cwd, engine.home)
        if refs is None:
            how = Situation(bash=True, sandboxed=request.sandboxed, read_only_sandbox=request.read_only_sandbox)
            decision, _ = fallback(request.mode, Kind.OPAQUE, True, how)
            what = "writes" if write else "reads"
            out.append(Outcome(decision, f"{what} a path that cannot be known before it runs: {word.raw}",
                               None, Kind.OPAQUE))
            continue
        for ref in refs:
            out.append(engine.judge_path(request, ref, write=write, bash=True, session=session))
    return out


def _follow_cd(target: Word, cwds: list[Path | None], home: Path) -> None:
    """Add the directories a ``cd`` may lead to; an unknowable target (``cd -``, ``cd "$d"``) makes
    every later relative path unknowable too."""
    if not target.literal or target.value == "-" or target.value.startswith("-"):
        if None not in cwds:
            cwds.append(None)
        return
    for cwd in list(cwds):
        if cwd is None:
            continue
        new = lexical(target.value or "~", cwd, home)
        if new not in cwds:
            cwds.append(new)


def _allow_reason(verdicts: list[CommandVerdict]) -> str:
    if len(verdicts) == 1:
        return verdicts[0].reason
    return f"all {len(verdicts)} commands are allowed"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def example_checker(catalog: Catalog, home: Path) -> Callable[[Rule, str], bool | None]:
    """Checks a bash rule's example through the real parser and classifier; None for other tools
    (the rule loader then checks it itself)."""

    def check(rule: Rule, example: str) -> bool | None:
        if not rule.applies_to_bash():
            return None
        analysis = analyze(example)
        for cmd in analysis.commands:
            for facts in classify(cmd, catalog, functions=analysis.functions, analyze=analyze):
                if rule.matches_command(facts.layers, facts.text):
                    return True
        return False

    return check
