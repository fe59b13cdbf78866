"""``corral policy check``: judge a command or a tool request without running anything.

For users writing rules and for tests. It loads the rules as a run in the same project would: the
project's ``.corral/policy.toml`` counts in full only when the project is trusted (``agent/trust.py``,
the same decision the agent makes), so the verdict is the one the agent would get. Everything printed
that a user, a model or a repository supplied (the command, rule reasons, warnings) goes through
``events.visible``: a command holding escape sequences cannot drive the terminal.

Exit 0 when it evaluated (whatever the decision), 2 on a usage or rule-file error (an unknown --tool
included: a typo must not be judged as some other tool).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.errors import UsageError
from agent.events import visible
from agent.project import find_project_root

PATH_TOOLS = ("read", "write", "edit", "grep", "find_files", "list_dir")
OTHER_TOOLS = ("bash", "web_fetch", "todo")
TOOLS_HELP = ", ".join((*OTHER_TOOLS, *PATH_TOOLS)) + " or mcp:SERVER:TOOL"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = sub.add_parser("policy", help="inspect the policy engine")
    psub = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND")
    policy.set_defaults(handler=lambda _a: _print_help(policy))
    check = psub.add_parser(
        "check",
        help="judge a command or tool request without running it",
        description=(
            "Judge a bash command (after --) or a tool request (--tool with --path/--url) and print "
            "allow, ask or deny with the reason and the deciding rule. Nothing is run."
        ),
    )
    check.add_argument("--mode", default="standard",
                       help="restrictive, read-only, guarded, standard (default) or yolo")
    check.add_argument("--cwd", type=Path, default=None, help="working directory (default: current)")
    check.add_argument("--project", type=Path, default=None,
                       help="project root (default: the enclosing git repository, else --cwd)")
    check.add_argument("--policy", type=Path, action="append", default=[], metavar="FILE",
                       help="an extra rule file (repeatable)")
    check.add_argument("--tool", default="bash", help=f"tool name (default bash): {TOOLS_HELP}")
    check.add_argument("--path", help="the path argument of a path tool")
    check.add_argument("--url", help="the url argument of web_fetch")
    check.add_argument("--unsandboxed", action="store_true",
                       help="judge the command as if it ran without a sandbox")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("words", nargs=argparse.REMAINDER, help="-- COMMAND (one shell string or words)")
    check.set_defaults(handler=run_check)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _check_tool(tool: str) -> None:
    """A tool the agent has, or an MCP tool (mcp:SERVER:TOOL); anything else is a usage error, since the
    engine would judge a misspelt name (`reed`) as an unknown tool and answer for the wrong request."""
    import re

    if tool in OTHER_TOOLS or tool in PATH_TOOLS or re.fullmatch(r"mcp:[^:\s]+:[^:\s]+", tool):
        return
    raise UsageError(f"unknown tool '{visible(tool, newlines=False)}' for --tool; valid tools: {TOOLS_HELP}")


def _trusted(root: Path) -> bool:
    """Whether the project's .corral/ may loosen, decided as for a run (agent/trust.py); a trust file or
    .corral/ that cannot be used makes it untrusted, with a warning as a run gives."""
    from agent.trust import trust_status

    status = trust_status(root)
    if status.state in ("damaged", "unusable"):
        print(f"corral: warning: project {root}: {visible(status.reason)}", file=sys.stderr)
    return status.trusted


def run_check(args: argparse.Namespace) -> int:
    from agent.cli import EXIT_USAGE
    from agent.trust import rule_file_problem
    from policy import Mode, PolicyError, Request, load_engine

    try:
        mode = Mode.parse(args.mode)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    cwd = (args.cwd or Path.cwd()).resolve()
    if not cwd.is_dir():
        raise UsageError(f"--cwd {cwd} is not a directory")
    root = (args.project.resolve() if args.project else find_project_root(cwd))
    words = list(args.words)
    if words and words[0] == "--":
        words = words[1:]
    tool: str = args.tool
    _check_tool(tool)
    req_args: dict[str, object]
    if tool == "bash":
        if not words:
            raise UsageError("give the command to judge after --, e.g. corral policy check -- 'git push'")
        req_args = {"command": words[0] if len(words) == 1 else " ".join(words)}
    elif tool == "web_fetch":
        if not args.url:
            raise UsageError("--tool web_fetch needs --url URL")
        req_args = {"url": args.url}
    elif tool in PATH_TOOLS:
        if args.path is None:
            raise UsageError(f"--tool {tool} needs --path PATH")
        req_args = {"path": args.path}
    else:
        req_args = {"path": args.path} if args.path else {}
        if words:
            req_args["arguments"] = " ".join(words)
    trusted = _trusted(root)
    try:
        engine = load_engine(root, extra_files=list(args.policy), trusted=trusted)
    except PolicyError as exc:
        print(f"corral: {visible(rule_file_problem(exc, root, trusted))}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"corral: cannot read a rule file: {visible(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    request = Request(
        tool=tool, args=req_args, cwd=cwd, project_root=root, mode=mode,
        sandboxed=not args.unsandboxed, read_only_sandbox=mode is Mode.READ_ONLY and not args.unsandboxed,
    )
    verdict = engine.evaluate(request)
    for warning in engine.warnings:
        print(f"corral: warning: {visible(warning)}", file=sys.stderr)
    if args.json:
        print(json.dumps(verdict.as_dict()))  # JSON escapes control characters itself
        return 0
    rule = f"  (rule {visible(verdict.rule, newlines=False)})" if verdict.rule else ""
    print(f"{verdict.decision.label}{rule}: {visible(verdict.reason, newlines=False)}")
    if len(verdict.commands) > 1:
        for c in verdict.commands:
            print(f"  {c.decision.label:<5}  {visible(c.command, newlines=False)}  — "
                  f"{visible(c.reason, newlines=False)}")
    return 0
