"""Session approvals: from a request the user approved, propose the narrowest rules that let it through.

Rules are shown to the user before they are added. A command rule is the exact argv, except that a
program with a subcommand (``cargo build --release``) may be approved as ``cargo build **`` when it is
not a shell, an interpreter, a wrapper or ``rm``, has no wrapper around it and no option before the
subcommand (so ``git -c … push`` stays exact). Each approval also records the kind of the approved
command: it never covers a more dangerous variant (``git push **`` does not cover ``git push --force``).
Nothing is proposed for opaque commands or denied parts: those can only be allowed once.
"""

from __future__ import annotations

import hashlib
import shlex
from typing import TYPE_CHECKING

from policy._commands import classify
from policy._paths import expand_word
from policy._rules import Rule
from policy._shell import analyze
from policy._types import READ_TOOLS, WRITE_TOOLS, Decision, Kind, Request, Verdict
from policy._values import frozen

if TYPE_CHECKING:
    from policy._engine import Engine


@frozen
class Approval:
    """A rule the user may add for the rest of the session, with what it covers in words."""

    rule: Rule
    max_kind: Kind
    summary: str


def propose(engine: Engine, request: Request, verdict: Verdict) -> list[Approval]:
    if verdict.decision is not Decision.ASK:
        return []
    if request.tool == "bash":
        return _bash(engine, request)
    if request.tool in READ_TOOLS or request.tool in WRITE_TOOLS:
        return _path_tool(engine, request)
    if request.tool.startswith("mcp:"):
        rule = Rule.for_tool(request.tool, id=_id("tool", request.tool), reason="approved for this session")
        return [Approval(rule, Kind.UNKNOWN, f"allow {request.tool} for this session")]
    return []


def _bash(engine: Engine, request: Request) -> list[Approval]:
    command = request.args.get("command")
    if not isinstance(command, str):
        return []
    analysis = analyze(command)
    if analysis.opaque:
        return []
    out: list[Approval] = []
    for cmd in analysis.commands:
        for facts in classify(cmd, engine.catalog, functions=analysis.functions, analyze=analyze):
            if facts.kind is Kind.OPAQUE:
                return []
            decision = engine.judge_command(request, facts, None).decision
            if decision is Decision.DENY:
                return []
            if decision is Decision.ASK:
                out.append(_command_approval(engine, facts.layers, facts.kind))
            for words, write in ((facts.reads, False), (facts.writes, True)):
                for word in words:
                    refs = expand_word(word, request.cwd, engine.home)
                    if refs is None:
                        return []
                    for ref in refs:
                        judged = engine.judge_path(request, ref, write=write, bash=True, session=None)
                        if judged.decision is Decision.DENY:
                            return []
                        if judged.decision is Decision.ASK:
                            tool = "write" if write else "read"
                            out.append(_path_approval(tool, str(ref.resolved), Kind.WRITE if write else Kind.READ))
    return _unique(out)


def _command_approval(engine: Engine, layers: tuple[tuple[str, ...], ...], kind: Kind) -> Approval:
    """Always the exact command. A rule widened to `PROGRAM SUBCOMMAND …` let later calls through that the
    user never saw: after approving `make test`, `make test --eval='$(shell rm -rf src)'` or `make test
    install`; after `npm run lint`, `npm run deploy`; the catalog cannot know every option that adds code or
    reaches outside the project, so an approval covers only what was shown."""
    argv = layers[0]  # the command itself (its wrappers are judged again on every call)
    rule = Rule.exact_command(list(argv), id=_id("bash", *argv), reason="approved for this session")
    return Approval(rule, kind, f"allow exactly `{shlex.join(argv)}`")  # quoted as a shell would need it


def _path_tool(engine: Engine, request: Request) -> list[Approval]:
    from policy._paths import make_ref

    raw = request.args.get("path")
    ref = make_ref(raw if isinstance(raw, str) and raw else ".", request.cwd, engine.home)
    judged = engine.judge_path(request, ref, write=request.tool in WRITE_TOOLS, bash=False, session=None)
    if judged.decision is not Decision.ASK:
        return []
    kind = Kind.WRITE if request.tool in WRITE_TOOLS else Kind.READ
    return [_path_approval(request.tool, str(ref.resolved), kind)]


def _path_approval(tool: str, path: str, kind: Kind) -> Approval:
    rule = Rule.for_path(tool, path, id=_id(tool, path), reason="approved for this session")
    return Approval(rule, kind, f"allow {tool} of {path}")


def _id(*parts: str) -> str:
    digest = hashlib.sha1("\0".join(parts).encode(), usedforsecurity=False).hexdigest()[:10]
    return f"session-{parts[0]}-{digest}"


def _unique(approvals: list[Approval]) -> list[Approval]:
    seen: set[str] = set()
    out: list[Approval] = []
    for a in approvals:
        if a.rule.id not in seen:
            seen.add(a.rule.id)
            out.append(a)
    return out
