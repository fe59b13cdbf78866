"""Everything a run needs, resolved from the command line before trio starts: configuration (with the
project layer and trust), the session to resume, provider and model, prompt and mode, the policy engine;
then `build(emit)` makes the Agent (gate, tools, context files, system prompt) and starts the session log,
whose recorder follows the run's events. Shared by the one-shot front end (headless.py) and the terminal UI.

Resuming (-c, -r, --session) restores history, mode, prompt, model, thinking, todo list and session
approvals; flags (and environment variables) given now win. `--no-session` writes no session log (the
audit log of decisions is still kept: every decision is audited).
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import ConfigError, UsageError
from agent.events import (
    AssistantMessage,
    Compacted,
    Event,
    Notice,
    RunFinished,
    ToolFinished,
    TurnStarted,
)
from agent.providers.base import THINKING_LEVELS, Usage

if TYPE_CHECKING:
    import policy
    from agent.audit import AuditLog
    from agent.gate import Approver, Gate
    from agent.loop import Agent
    from agent.prompts import Prompt
    from agent.session import LoadedSession, SessionSummary, SessionWriter


def new_session_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class RunSetup:
    """Everything a run needs, resolved before trio starts (so configuration errors exit 2 at once)."""

    def __init__(self, args: argparse.Namespace, overrides: dict[str, object], *, engine_now: bool = True) -> None:
        """engine_now=False leaves loading the policy engine to `build` (the terminal UI draws its prompt
        first; a broken rule file is then reported there)."""
        from agent.config import load_config
        from agent.project import find_project_root

        self.args = args
        self.cwd = Path.cwd().resolve()
        self.project_root = find_project_root(self.cwd)
        self.config = load_config(Path(args.config) if args.config else None, overrides=overrides,
                                  project_root=self.project_root)
        self.loaded = self._resumed()
        self.session_id = self.loaded.id if self.loaded is not None else new_session_id()
        if args.name and not args.no_session:
            self._check_name(str(args.name))
        provider, model = self._provider_and_model()
        self.settings = self.config.resolve_provider(provider)
        self.model: str = model or self.settings.model
        self._choose_prompt_and_mode()
        self.engine: policy.Engine | None = None
        self._engine_loaded = False
        if engine_now:
            self.load_engine()
        self._agent: Agent | None = None
        self._audit: AuditLog | None = None
        self._writer: SessionWriter | None = None
        self._scratch: Path | None = None  # --no-session: where command logs go for this run only

    def _resumed(self) -> LoadedSession | None:
        """The session -c, -r or --session names (None for a new one). Another project's session is refused:
        its history talks about files that are not here."""
        args = self.args
        if not (args.continue_session or args.resume or args.session):
            return None
        from agent.session import latest_session, load_session, resolve_session

        if args.continue_session:
            found = latest_session(self.project_root)
            if found is None:
                raise UsageError(f"no session to continue in {self.project_root}; start one with corral -p \"...\"")
        elif args.resume:
            from agent.cli_sessions import choose_session

            found = _pick(choose_session, self.project_root)
            if found is None:
                raise UsageError("no session chosen")
        else:
            found = resolve_session(str(args.session))
        loaded = load_session(found.path)
        if Path(loaded.project) != self.project_root:
            raise UsageError(f"session {loaded.id} belongs to {loaded.project}; run corral there to resume it "
                             f"(this project is {self.project_root})")
        return loaded

    def _check_name(self, name: str) -> None:
        """--name must name one session of this project: `--session NAME` could not choose between two."""
        from agent.session import list_sessions

        taken = [s.id for s in list_sessions(self.project_root) if s.name == name and s.id != self.session_id]
        if taken:
            raise UsageError(f"another session of this project is already named {name!r} ({taken[0]}); choose "
                             f"another name, or resume that one with --session {name}")

    def _from_flag_or_env(self, key: str) -> bool:
        source = self.config.sources.get(key, "default")
        return source.startswith(("flag", "env"))

    def _provider_and_model(self) -> tuple[str | None, str | None]:
        """The session's provider and model when resuming, unless --provider/--model (or their variables)
        say otherwise; else the configuration's."""
        loaded = self.loaded
        if loaded is None or loaded.provider is None or self._from_flag_or_env("provider"):
            model = self.config.model or None
            return None, model
        if loaded.provider not in self.config.providers:
            raise UsageError(f"session {loaded.id} used provider {loaded.provider!r}, which is not configured "
                             "any more; choose one with --provider NAME --model MODEL")
        model = self.config.model if self._from_flag_or_env("model") else loaded.model
        return loaded.provider, model or None

    def _choose_prompt_and_mode(self) -> None:
        """The prompt, the run's mode and the policy engine, before trio starts: a bad name or rule file
        is a usage error (exit 2) with its own message."""
        import os

        import policy
        from agent.prompts import select_prompt

        loaded = self.loaded
        name = self.args.prompt_name or (loaded.prompt if loaded is not None else None) or "code"
        self.prompt = select_prompt(name, self.project_root, os.environ, trusted=self.config.trusted)
        self.user_mode = policy.Mode.parse(self._mode_name())
        self.mode = self._limits(self.prompt)[0]

    def _limits(self, prompt: Prompt) -> tuple[policy.Mode, tuple[str, ...], policy.Mode | None]:
        """What a prompt makes of the user's mode: the run's mode (the stricter of the two), the paths its
        `writes:` narrows write/edit to, and the mode those paths are judged in (the user's, at most
        standard)."""
        import policy
        from agent.prompts import effective_mode, writes_patterns

        mode = policy.Mode.parse(effective_mode(str(self.user_mode), prompt.mode))
        writes = writes_patterns(prompt, self.project_root, Path.home())
        writes_mode = min(self.user_mode, policy.Mode.STANDARD, key=list(policy.Mode).index) if writes else None
        return mode, writes, writes_mode

    def apply_prompt(self, agent: Agent, prompt: Prompt) -> None:
        """Switch the agent to another prompt, or apply the current one again after the user's mode changed
        (the UI's /prompt and /mode): the gate's mode and writes, the sandbox profile, the system prompt."""
        mode, writes, writes_mode = self._limits(prompt)
        gate = agent.gate
        gate.mode, gate.writes, gate.writes_mode = mode, writes, writes_mode
        agent.ctx.read_only = gate.read_only_sandbox
        agent.system = self.system_for(prompt, str(mode))
        self.prompt, self.mode = prompt, mode

    def load_engine(self) -> None:
        """The policy engine (none with --dangerously-skip-permissions); a bad rule file is a ConfigError."""
        import policy

        if self._engine_loaded:
            return
        self._engine_loaded = True
        if not self.args.dangerously_skip_permissions:
            try:
                self.engine = policy.load_engine(self.project_root, trusted=self.config.trusted)
            except policy.PolicyError as exc:  # says whose file it is (a project's untrusted one …) and what to do
                from agent.trust import rule_file_problem

                raise ConfigError(rule_file_problem(exc, self.project_root, self.config.trusted)) from None

    def _mode_name(self) -> str:
        loaded = self.loaded
        if loaded is not None and loaded.mode and not self._from_flag_or_env("mode") \
                and not self.config.sources.get("mode", "").startswith("project"):
            return loaded.mode
        return str(self.config.mode)

    def build(self, emit: Callable[[Event], None], approver: Approver | None = None) -> Agent:
        """The agent, its gate asking `approver` when the engine says ask (None: one-shot, ask means deny)."""
        import policy
        from agent.audit import default_audit_path
        from agent.context_files import collect_context, render
        from agent.gate import Gate
        from agent.loop import Agent
        from agent.providers import make_provider
        from agent.tools import builtin_tools
        from agent.tools.base import ToolContext

        config, loaded = self.config, self.loaded
        for warning in config.warnings:
            emit(Notice(f"corral: {warning}"))
        self.load_engine()
        prompt, user_mode, engine = self.prompt, self.user_mode, self.engine
        mode, writes, writes_mode = self._limits(prompt)
        bypass = bool(self.args.dangerously_skip_permissions)
        for warning in engine.warnings if engine is not None else ():
            emit(Notice(f"corral: {warning}"))
        audit_path = default_audit_path(self.session_id)
        audit = self._open_audit(audit_path)
        self._audit = audit
        backend = str(config.sandbox)
        # the sandbox's full command logs (the model may read them back); with --no-session they are not kept
        log_dir = audit_path.parent / "output" if not self.args.no_session else self._scratch_logs()
        gate = Gate(engine, mode, self.project_root, approver=approver, audit=audit, session_id=self.session_id,
                    bypass=bypass, sandboxed=backend != "none", writes=writes, writes_mode=writes_mode,
                    readable=(log_dir,))
        if bypass:
            emit(Notice("corral: --dangerously-skip-permissions: the policy engine is OFF for this run"))
        protected_cache: dict[Path, bool] = {}

        def protected(path: Path) -> bool:
            if engine is None:
                return False
            if path not in protected_cache:
                verdict = gate.verdict("read", {"path": str(path)}, self.cwd)
                protected_cache[path] = verdict.decision is policy.Decision.DENY
            return protected_cache[path]

        self.protected = protected
        ctx = ToolContext(
            project_root=self.project_root,
            cwd=self.cwd,
            sandbox_backend=backend,
            sandbox_network=bool(config.sandbox_network),
            read_only=gate.read_only_sandbox,
            bash_timeout=float(config.bash_timeout),
            log_dir=log_dir,
            protected=protected,
        )
        context = ""
        if not self.args.no_context_files:
            found = collect_context(self.project_root, home=Path.home(), protected=protected)
            for note in found.notes:
                emit(Notice(f"corral: {note}"))
            context = render(found)
        self.context = context
        system = self.system_for(prompt, str(mode))
        thinking = config.thinking
        if loaded is not None and loaded.thinking in THINKING_LEVELS and not self._from_flag_or_env("thinking"):
            thinking = loaded.thinking
        agent = Agent(
            provider=make_provider(self.settings),
            model=self.model,
            tools=builtin_tools(),
            gate=gate,
            ctx=ctx,
            emit=emit,
            system=system,
            thinking=thinking,
            max_turns=int(config.max_turns),
            context_window=config.context_window or self.settings.context_window,
            compact_at=float(config.compact_at),
        )
        self._agent = agent
        if loaded is not None:
            agent.messages.extend(loaded.messages())
            agent.usage.add(loaded.usage)
            ctx.todos[:] = loaded.todos or []
            if gate.session is not None:
                for problem in gate.session.restore_approvals(loaded.approvals):
                    emit(Notice(f"corral: session {loaded.id}: {problem}"))
            for warning in loaded.warnings:
                emit(Notice(f"corral: session {loaded.id}: {warning}"))
        if not self.args.no_session:
            self._open_session(agent, gate, prompt.name, str(user_mode), emit)
            self._follow(agent, gate)
        return agent

    def system_for(self, prompt: Prompt, mode: str) -> str:
        """The system prompt for another prompt or mode (the UI's /prompt and /mode)."""
        from agent.prompts import system_prompt

        return system_prompt(prompt, self.project_root, self.cwd, mode, str(self.config.sandbox), context=self.context)

    @property
    def writer(self) -> SessionWriter | None:
        return self._writer

    def new_session(self, agent: Agent, prompt: str, mode: str) -> None:
        """Leave the current session (it stays resumable) and start an empty one: history, todo list and
        session approvals start afresh; the audit log follows the new session."""
        import policy
        from agent.audit import default_audit_path

        self.sync()
        left = self._writer
        self._writer = None
        if left is not None:
            left.close()
        if self._audit is not None:
            self._audit.close()
        if left is not None:
            self._discard_if_empty(left)  # /new right after /new leaves no empty session behind
        self.loaded = None
        self.session_id = new_session_id()
        self._audit = self._open_audit(default_audit_path(self.session_id))
        gate = agent.gate
        gate.audit, gate.session_id = self._audit, self.session_id
        if gate.session is not None:
            gate.session = policy.SessionState()
        agent.messages.clear()
        agent.ctx.todos.clear()
        if not self.args.no_session:
            self._open_session(agent, gate, prompt, mode, agent.emit, named=False)

    def _open_session(self, agent: Agent, gate: Gate, prompt: str, mode: str, emit: Callable[[Event], None], *,
                      named: bool = True) -> None:
        """Start (or continue) the session log. named=False (a new session started during the run): --name
        belongs to the first session only, so two sessions never share it."""
        from agent.session import SessionWriter

        def report(problem: str) -> None:
            emit(Notice(f"corral: the session log is not being written: {problem}"))

        loaded = self.loaded
        try:
            if loaded is None:
                writer = SessionWriter.create(self.session_id, self.project_root, self.cwd, on_error=report)
            else:
                writer = SessionWriter.resume(loaded, on_error=report)
        except OSError as exc:
            emit(Notice(f"corral: no session log for this run ({exc}); the run goes on"))
            return
        self._writer = writer
        provider = self.settings.name
        if loaded is None or (loaded.provider, loaded.model) != (provider, agent.model):
            writer.model(provider, agent.model)
        if loaded is None or loaded.mode != mode:
            writer.mode(mode)
        if loaded is None or loaded.prompt != prompt:
            writer.prompt(prompt)
        if loaded is None or loaded.thinking != agent.thinking:
            writer.thinking(agent.thinking)
        if named and self.args.name:
            writer.name(self.args.name)

    def _follow(self, agent: Agent, gate: Gate) -> None:
        """Make the session log follow the run's events (whichever session is current)."""

        def approved(items: list[dict[str, str]]) -> None:
            if self._writer is not None:
                for item in items:
                    self._writer.approval(item)

        gate.on_approval = approved
        outer = agent.emit

        def recorded(event: Event) -> None:
            writer = self._writer
            if writer is None:
                pass
            elif isinstance(event, Compacted):
                writer.compaction(event.summary, event.replaced, event.kept, messages=agent.messages)
                if event.usage is not None:  # the summary request is spent too: the session's totals count it
                    writer.usage(event.usage)
            elif isinstance(event, TurnStarted | ToolFinished | RunFinished):
                writer.sync(agent.messages)
                if isinstance(event, ToolFinished) and event.call.name == "todo":
                    writer.todo(agent.ctx.todos)
            elif isinstance(event, AssistantMessage):
                writer.sync(agent.messages)
                writer.usage(event.usage)
            outer(event)

        agent.emit = recorded

    def sync(self) -> None:
        """Record whatever the history holds that the log does not yet (also after a cancellation)."""
        if self._writer is not None and self._agent is not None:
            self._writer.sync(self._agent.messages)

    def usage(self) -> Usage:
        return self._agent.usage if self._agent is not None else Usage()

    @staticmethod
    def _open_audit(path: Path) -> AuditLog:
        """The audit log of policy decisions. No run goes without one: a data directory that cannot hold it
        (a file where a directory should be, no permission, a full disk) is a clear error, before anything runs."""
        from agent.audit import AuditLog
        from agent.xdg import data_dir

        try:
            return AuditLog(path)
        except OSError as exc:
            raise ConfigError(f"cannot create the audit log {path}: {exc.strerror or exc}; corral keeps its data in "
                              f"{data_dir()} ($XDG_DATA_HOME/corral): make that a directory you can write, or set "
                              "XDG_DATA_HOME to one") from None

    def _scratch_logs(self) -> Path:
        """--no-session: command logs in a private temporary directory, removed when corral leaves."""
        import tempfile

        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="corral-output-"))
        return self._scratch

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._audit is not None:
            self._audit.close()
        if self._writer is not None:
            self._discard_if_empty(self._writer)
        if self._scratch is not None:
            import shutil

            shutil.rmtree(self._scratch, ignore_errors=True)

    def kept(self) -> bool:
        """Whether the session is on disk (after close: an empty new session was removed)."""
        return self._writer is not None and self._writer.path.exists()

    def _discard_if_empty(self, writer: SessionWriter) -> None:
        """A session started in this run that never got a message (the UI opened and left) is removed, so
        such sessions do not pile up in `corral sessions` and `-c`; a named one, or one that holds anything
        else (audit lines, command logs, side files), stays."""
        if self.loaded is not None or writer.synced or self.args.name:
            return
        directory = writer.directory
        try:
            entries = {entry.name: entry for entry in os.scandir(directory)}
            audit = entries.get("audit.jsonl")
            output = entries.get("output")
            if set(entries) - {"session.jsonl", "audit.jsonl", "output"}:
                return
            if audit is not None and (not audit.is_file(follow_symlinks=False) or audit.stat().st_size):
                return
            if output is not None and (not output.is_dir(follow_symlinks=False) or os.listdir(output.path)):
                return
            for name in ("session.jsonl", "audit.jsonl"):
                if name in entries:
                    os.unlink(entries[name].path)
            if output is not None:
                os.rmdir(output.path)
            os.rmdir(directory)
        except OSError:
            return  # kept as it is: an empty session is harmless

def _pick(choose: Callable[..., SessionSummary | None], project: Path) -> SessionSummary | None:
    """`-r`: the picker talks to the terminal (stdin may carry the prompt). The terminal is opened twice,
    once to read and once to write: a text file opened "r+" needs a seekable file, which a terminal is not."""
    try:
        with open("/dev/tty", encoding="utf-8", errors="replace") as tty_in, \
                open("/dev/tty", "w", encoding="utf-8", errors="replace") as tty_out:
            return choose(project, stdin=tty_in, stdout=tty_out)
    except OSError:
        raise UsageError("-r needs a terminal to pick a session; use --session ID (corral sessions list shows "
                         "them) or -c for the latest") from None
