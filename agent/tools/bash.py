"""The `bash` tool: run a shell command inside the sandbox (workspace or read-only profile), streaming its output.

A command that fails is information for the model, not a tool error: the result states the exit code. Only
a refusal by the sandbox itself (no working backend, a bad working directory) is an error, with what to do.
Output is capped in memory (head and tail); the full log stays on disk and its path is given. Cancellation
is never swallowed: the sandbox kills every process of the command and `Cancelled` propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from agent.providers.base import ToolSpec
from agent.tools._common import BaseTool
from agent.tools._files import ToolFailure, human_size
from agent.tools.base import ToolContext, ToolResult

if TYPE_CHECKING:
    import sandbox

MAX_TIMEOUT = 600.0
OUTPUT_CAP = 32 * 1024

SPEC = ToolSpec(
    name="bash",
    description=(
        "Run a command with bash -c in a sandbox, in the working directory. Only the project directory is "
        "writable (nothing is in read-only mode), the network is normally off, /tmp is private, secrets and "
        "API keys are not visible. stdout and stderr are merged; long output keeps its head and tail and the "
        "full log path is given. Each call is a fresh shell (no state carries over). Prefer the read, grep, "
        "find_files and list_dir tools for looking at files. `timeout` in seconds (at most 600)."
    ),
    parameters={
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "the shell command (bash syntax)"},
            "timeout": {"type": "number", "minimum": 1, "description": "seconds before the command is killed"},
        },
        "required": ["command"],
    },
)


class BashTool(BaseTool):
    spec = SPEC
    read_only = False

    def policy_args(self, args: Mapping[str, object], ctx: ToolContext) -> dict[str, object]:
        return {"command": args.get("command", "")}

    async def call(self, call_id: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        import shutil

        import sandbox

        command: str = args["command"]
        if not command.strip():
            raise ToolFailure("argument 'command' is empty")
        timeout = min(float(args.get("timeout") or ctx.bash_timeout), MAX_TIMEOUT)
        shell = shutil.which("bash") or shutil.which("sh") or "/bin/sh"
        spec = sandbox.Spec(
            project=ctx.project_root,
            cwd=ctx.cwd,
            home=ctx.home,
            network=ctx.sandbox_network,
            profile=sandbox.Profile.READ_ONLY if ctx.read_only else sandbox.Profile.WORKSPACE,
            timeout=timeout,
            output_cap=OUTPUT_CAP,
            log_dir=ctx.log_dir,
        )
        sink = ctx.on_output
        on_output: Callable[[bytes], None] | None = None
        if sink is not None:

            def on_output(chunk: bytes) -> None:
                sink(call_id, chunk)

        try:
            result = await sandbox.run(
                [shell, "-c", command],
                spec,
                backend=cast(sandbox.BackendName, ctx.sandbox_backend),
                on_output=on_output,
            )
        except sandbox.NoBackendError as exc:
            return ToolResult(
                f"The sandbox refused to run the command: {exc}\nNo command can run until a sandbox backend "
                "works (the user can check with `corral sandbox doctor`); use the read, grep, find_files and "
                "list_dir tools meanwhile.",
                is_error=True,
            )
        except sandbox.SandboxError as exc:
            return ToolResult(f"The sandbox refused to run the command: {exc}", is_error=True)
        return _result(result, timeout)


def _result(result: sandbox.Result, timeout: float) -> ToolResult:
    output = result.output
    lines = [output if output.endswith("\n") or not output else output + "\n"] if output else ["(no output)\n"]
    code = result.exit_code
    if result.timed_out:
        lines.append(f"[timed out after {timeout:g} s; killed; exit code {code}]")
    elif code > 128:
        lines.append(f"[exit code {code} (killed by signal {code - 128})]")
    else:
        lines.append(f"[exit code {code}]")
    if result.truncated:
        lines.append(f"\n[output truncated: {human_size(result.total_bytes)} in all; full log: {result.log_path} "
                     "(read or grep it)]")
    lines += [f"\n[{note}]" for note in result.notes]  # what corral undid after the command (sandbox tripwire)
    meta: dict[str, object] = {
        "exit_code": code,
        "log_path": str(result.log_path),
        "backend": result.backend,
        "duration": result.duration,
        "timed_out": result.timed_out,
        "truncated": result.truncated,
    }
    return ToolResult("".join(lines), meta=meta)
