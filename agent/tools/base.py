"""The contract every tool implements, and the per-session context tools share.

A tool is a name, a description and a JSON schema (what the model sees), whether it only reads, how its
arguments map to a policy request (the engine judges every call before it runs), and an async `run`
that returns a `ToolResult`. Tools never raise for a bad call: a missing file, a non-unique edit or a
malformed argument is a `ToolResult(is_error=True)` the model reads and can act on. Only `Cancelled`
(and real bugs) propagate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from agent.providers.base import ToolSpec
from agent.values import record

if TYPE_CHECKING:
    from agent.tools._undo import UndoLog


@record
class ToolResult:
    """What goes back to the model (`content`), whether it is an error, and details for front ends and
    the session (`meta`: e.g. exit_code, log_path, diff, lines)."""

    content: str
    is_error: bool = False
    meta: dict[str, object] = field(default_factory=dict)


@record
class FileStamp:
    """What a file looked like when this session last read or wrote it."""

    mtime_ns: int
    size: int
    digest: str  # sha256 of the bytes


@record
class TodoItem:
    content: str
    status: Literal["pending", "in_progress", "done"] = "pending"


@record
class ToolContext:
    """Shared by every tool call of one session.

    - `project_root`: the project directory; `cwd`: where relative paths resolve (bash starts here).
    - `stamps`: files read or written in this session (write/edit refuse to overwrite a file that was
      not read, or that changed since).
    - `sandbox_backend`, `sandbox_network`, `read_only`: how bash runs (read_only: the read-only
      sandbox profile, e.g. in read-only mode); `bash_timeout` default seconds; `log_dir` where full
      command output is kept.
    - `on_output`: streams bash output chunks to the front end (call id, bytes).
    - `home`: the user's home (masked in the sandbox; tests pass a fake one).
    - `protected`: a predicate the search tools use to skip files the policy engine protects (.env,
      keys …) so grep/find/list never read or reveal them.
    - `undo`: when set (the interactive UI), write and edit record each file's previous state there, turn
      by turn, for /undo (agent/tools/_undo.py); None: nothing is recorded.
    """

    project_root: Path
    cwd: Path
    stamps: dict[Path, FileStamp] = field(default_factory=dict)
    todos: list[TodoItem] = field(default_factory=list)
    sandbox_backend: str = "auto"
    sandbox_network: bool = False
    read_only: bool = False
    bash_timeout: float = 120.0
    log_dir: Path | None = None
    home: Path = field(default_factory=Path.home)
    on_output: Callable[[str, bytes], None] | None = None
    protected: Callable[[Path], bool] = lambda _path: False
    undo: UndoLog | None = None


class Tool(Protocol):
    """One tool. `spec` is what the model sees; `read_only` tools may run concurrently in one turn."""

    spec: ToolSpec
    read_only: bool

    def policy_args(self, args: Mapping[str, object], ctx: ToolContext) -> dict[str, object]:
        """The arguments the policy engine judges (`path` for path tools, `command` for bash), with
        relative paths left as the model sent them (the engine resolves them against ctx.cwd)."""
        ...

    async def run(self, call_id: str, args: Mapping[str, object], ctx: ToolContext) -> ToolResult:
        """Do the work. Never raises for a bad call; returns ToolResult(is_error=True) instead."""
        ...
