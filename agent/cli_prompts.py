"""``corral prompts``: the prompts `--prompt NAME` can select (built-in, the user's, and the project's when
the project is trusted), with their default mode and where each comes from (docs/PROMPTS.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "prompts",
        help="list the prompts --prompt can select",
        description="List the prompt library: built-in prompts, yours ($XDG_CONFIG_HOME/corral/prompts/*.md) and "
        "the project's (.corral/prompts/*.md, only when the project is trusted: `corral trust`).",
    )
    cmd.add_argument("--json", action="store_true", help="one JSON object per line")
    cmd.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from agent.config import load_config
    from agent.project import find_project_root
    from agent.prompts import format_listing, list_prompts

    root = find_project_root(Path.cwd().resolve())
    trusted = load_config(project_root=root).trusted
    found = list_prompts(root, os.environ, trusted=trusted)
    if not args.json:
        print(format_listing(found))
        return 0
    for prompt in sorted(found.prompts.values(), key=lambda p: p.name):
        print(json.dumps({"name": prompt.name, "description": prompt.description, "mode": prompt.mode,
                          "source": prompt.source, "path": str(prompt.path) if prompt.path else None,
                          "writes": list(prompt.writes)}))
    for note in found.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
