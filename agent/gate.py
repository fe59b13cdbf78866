"""The gate between the model's tool calls and the tools: the policy engine's verdict, the user's
approval when the verdict is ask, the audit log.

In one-shot runs there is no one to ask: an ask becomes a denial explained to the model. With
`--dangerously-skip-permissions` the engine is bypassed entirely (and every call is logged as such).

A prompt with `writes:` (the `plan` prompt) narrows `write` and `edit` to those paths: any other path is
denied before the engine is asked, and the listed paths are judged in `writes_mode` (the user's own mode,
at most standard) although the run's mode is stricter. The paths are matched as written and resolved, so
a symlink in the project cannot carry a listed path elsewhere. The engine still judges them: a protected
path or a symlink out of the project stays denied.

The session's own command output logs (`readable`) may be read and searched in every mode: corral's data
directory is protected from the model, but a truncated command result tells it where the full output is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import policy
from agent.events import POLICY_DENIAL, USER_DENIAL
from agent.providers.base import ToolCall
from agent.values import frozen, record

if TYPE_CHECKING:
    from agent.audit import AuditLog


@frozen
class ApprovalRequest:
    """What the front end shows when the engine asks: the call, the verdict, and the narrow rules an
    "allow for this session" answer would add (their summaries)."""

    call: ToolCall
    verdict: policy.Verdict
    session_rules: tuple[str, ...] = ()


@frozen
class ApprovalAnswer:
    allow: bool
    remember: bool = False  # allow for this session (adds the proposed narrow rules)
    message: str | None = None  # deny and tell the model why


Approver = Callable[[ApprovalRequest], Awaitable[ApprovalAnswer]]


@frozen
class GateResult:
    allowed: bool
    message: str | None  # for the model when denied
    decision: str
    reason: str
    rule: str | None
    approved_by: str | None
    note: str | None = None
    commands: tuple[str, ...] = ()  # the engine's per-command breakdown of a bash call, for the audit log


HEADLESS_DENIAL = (
    "Denied: this call needs the user's approval ({reason}), and this is a non-interactive run (corral -p), "
    "so nobody can approve it. Do not retry it; find another way that the policy allows, or finish and tell "
    "the user which command or file change needs their approval."
)


@record
class Gate:
    """Judges each call; asks `approver` (None in one-shot runs) when the engine says ask."""

    engine: policy.Engine | None
    mode: policy.Mode
    project_root: Path
    approver: Approver | None = None
    audit: AuditLog | None = None
    session_id: str = ""
    bypass: bool = False  # --dangerously-skip-permissions
    sandboxed: bool = True
    session: policy.SessionState | None = field(default=None)
    writes: tuple[str, ...] = ()  # absolute globs (`**` any depth); empty: no narrowing
    writes_mode: policy.Mode | None = None
    on_approval: Callable[[list[dict[str, str]]], None] | None = None  # new session approvals, exported
    # Directories the read and grep tools may read in every mode although the engine protects them: this
    # session's own command output logs (a truncated bash result names its full log there).
    readable: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if self.session is None and self.engine is not None:
            self.session = policy.SessionState()

    @property
    def read_only_sandbox(self) -> bool:
        return self.mode in (policy.Mode.READ_ONLY, policy.Mode.RESTRICTIVE)

    def request(self, tool: str, args: Mapping[str, object], cwd: Path) -> policy.Request:
        mode = self.mode
        if self.writes and self.writes_mode is not None and tool in _WRITE_TOOLS and self._listed(args, cwd):
            mode = self.writes_mode
        return policy.Request(
            tool=tool,
            args=dict(args),
            cwd=cwd,
            project_root=self.project_root,
            mode=mode,
            sandboxed=self.sandboxed,
            read_only_sandbox=self.read_only_sandbox,
        )

    def _listed(self, args: Mapping[str, object], cwd: Path) -> bool:
        """Whether the call's path is one the prompt's `writes` lists, both as written and once symlinks
        are resolved (the directories on the way and a final component that is itself a link): with a
        planted `.plans -> .`, `.plans/evil.txt` is listed as written but really lands at the root."""
        path = _call_path(args, cwd)
        if path is None:
            return False
        if not any(_glob_regex(pattern).fullmatch(path) for pattern in self.writes):
            return False
        real = os.path.realpath(path)
        return any(_glob_regex(pattern).fullmatch(real) for pattern in self._real_writes())

    def _real_writes(self) -> tuple[str, ...]:
        """The `writes` globs with the project root spelled as its real path, so that a project reached
        through a symlink still matches its resolved paths. Only the root is resolved: a link inside the
        project is exactly what the resolved comparison must not trust."""
        root = str(self.project_root).rstrip("/")
        real_root = os.path.realpath(root)
        if real_root == root:
            return self.writes
        return tuple(real_root + p[len(root):] if p.startswith(root + "/") else p for p in self.writes)

    def _narrowed(self, tool: str, args: Mapping[str, object], cwd: Path) -> policy.Verdict | None:
        if not self.writes or tool not in _WRITE_TOOLS or self._listed(args, cwd):
            return None
        listed = ", ".join(self.writes)
        return policy.Verdict(policy.Decision.DENY, f"this prompt may write only {listed}", "prompt-writes")

    def verdict(self, tool: str, args: Mapping[str, object], cwd: Path) -> policy.Verdict:
        """The engine's verdict alone (no approval, no audit): used for read-only pre-checks."""
        if self.bypass or self.engine is None:
            return policy.Verdict(policy.Decision.ALLOW, "permissions bypassed", None)
        return self._before_engine(tool, args, cwd) or self.engine.evaluate(self.request(tool, args, cwd), self.session)

    def _before_engine(self, tool: str, args: Mapping[str, object], cwd: Path) -> policy.Verdict | None:
        """What the gate decides itself: a prompt's `writes:` narrowing, this session's own logs."""
        return self._narrowed(tool, args, cwd) or self._own_log(tool, args, cwd)

    def _own_log(self, tool: str, args: Mapping[str, object], cwd: Path) -> policy.Verdict | None:
        """Allow read/grep of a file under `readable` (symlinks resolved: the real file must be there)."""
        path = _call_path(args, cwd) if self.readable and tool in _LOG_READERS else None
        if path is None:
            return None
        real = os.path.realpath(path)
        for directory in self.readable:
            base = os.path.realpath(directory)
            if real == base or real.startswith(base + os.sep):
                reason = "this session's own command output log (written by corral)"
                return policy.Verdict(policy.Decision.ALLOW, reason, "own-output-logs")
        return None

    async def check(self, call: ToolCall, tool: str, args: Mapping[str, object], cwd: Path) -> GateResult:
        """Judge one call, asking the approver when needed; records the outcome in the audit log."""
        if self.bypass or self.engine is None:
            result = GateResult(True, None, "allow", "permissions bypassed (--dangerously-skip-permissions)",
                                None, "bypass")
            self._audit(tool, args, result)
            return result
        request = self.request(tool, args, cwd)
        verdict = self._before_engine(tool, args, cwd) or self.engine.evaluate(request, self.session)
        decision = verdict.decision.label
        if verdict.decision is policy.Decision.ALLOW:
            rules = [r for r in (verdict.rule, *(c.rule for c in verdict.commands)) if r]
            by = "session" if any(r.startswith("session-") for r in rules) else ("rule" if rules else "mode")
            result = GateResult(True, None, decision, verdict.reason, verdict.rule, by, verdict.note)
        elif verdict.decision is policy.Decision.DENY:
            message = f"{POLICY_DENIAL}: {verdict.reason}" + (f" (rule {verdict.rule})" if verdict.rule else "")
            if verdict.note:
                message += f"\n{verdict.note}"
            result = GateResult(False, message, decision, verdict.reason, verdict.rule, None, verdict.note)
        elif self.approver is None:
            message = HEADLESS_DENIAL.format(reason=verdict.reason)
            result = GateResult(False, message, decision, verdict.reason, verdict.rule, "headless", verdict.note)
        else:
            proposals = self.engine.propose_approvals(request, verdict)
            answer = await self.approver(ApprovalRequest(call, verdict, tuple(p.summary for p in proposals)))
            if answer.allow:
                if answer.remember and proposals and self.session is not None:
                    before = len(self.session.approvals)
                    self.session.approve(proposals)
                    if self.on_approval is not None:
                        self.on_approval(self.session.export_approvals()[before:])
                result = GateResult(True, None, decision, verdict.reason, verdict.rule, "user", verdict.note)
            else:
                message = USER_DENIAL + (f" They said: {answer.message}" if answer.message else "")
                result = GateResult(False, message, decision, verdict.reason, verdict.rule, "user", verdict.note)
        if verdict.commands:
            result = replace(result, commands=tuple(c.command for c in verdict.commands))
        self._audit(tool, args, result)
        return result

    def _audit(self, tool: str, args: Mapping[str, object], result: GateResult) -> None:
        if self.audit is None:
            return
        self.audit.record(
            session=self.session_id,
            tool=tool,
            args=dict(args),
            decision=result.decision,
            final="allow" if result.allowed else "deny",
            reason=result.reason,
            rule=result.rule,
            mode=str(self.mode),
            approved_by=result.approved_by,
            commands=result.commands,
        )


def _call_path(args: Mapping[str, object], cwd: Path) -> str | None:
    """The call's `path` argument made absolute (lexically: `~` expanded, `..` folded), None without one."""
    raw = args.get("path")
    if not isinstance(raw, str) or not raw:
        return None
    return os.path.normpath(os.path.join(cwd, os.path.expanduser(raw)))


_WRITE_TOOLS = frozenset({"write", "edit"})
_LOG_READERS = frozenset({"read", "grep"})
_globs: dict[str, re.Pattern[str]] = {}


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """An absolute glob as a regex: `**` any depth (also none), `*` and `?` within one component."""
    found = _globs.get(pattern)
    if found is None:
        parts = re.split(r"(\*\*/?|\*|\?)", pattern)
        out = []
        for part in parts:
            if part in ("**", "**/"):
                out.append("(?:.*/)?" if part == "**/" else ".*")
            elif part == "*":
                out.append("[^/]*")
            elif part == "?":
                out.append("[^/]")
            else:
                out.append(re.escape(part))
        found = _globs[pattern] = re.compile("".join(out))
    return found
