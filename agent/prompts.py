"""Built-in system prompts: markdown files in prompts/ with front matter (name, description, mode).

This module loads one by name and fills in the environment block; the full prompt library (user and
project prompts, selection, modes) builds on it.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from agent.errors import UsageError
from agent.values import frozen


def builtin_prompt_dir() -> Path:
    """The prompts/ directory shipped with corral (beside the packages, in a checkout or a wheel)."""
    return Path(__file__).resolve().parent.parent / "prompts"


@frozen
class Prompt:
    name: str
    description: str
    mode: str | None
    body: str


def parse_prompt(text: str, source: str) -> Prompt:
    """Split front matter (`key: value` lines between `---` fences) from the body."""
    meta: dict[str, str] = {}
    body = text
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end < 0:
            raise UsageError(f"{source}: front matter is not closed by a '---' line")
        for line in text[4:end].splitlines():
            if line.strip():
                key, sep, value = line.partition(":")
                if not sep:
                    raise UsageError(f"{source}: front matter line {line!r} is not 'key: value'")
                meta[key.strip()] = value.strip()
        body = text[end + 5 :]
    name = meta.get("name") or Path(source).stem
    return Prompt(name, meta.get("description", ""), meta.get("mode") or None, body.strip() + "\n")


def load_builtin(name: str) -> Prompt:
    path = builtin_prompt_dir() / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = sorted(p.stem for p in builtin_prompt_dir().glob("*.md") if p.stem != "README")
        raise UsageError(f"unknown prompt {name!r}; built-in prompts: {', '.join(known)}") from None
    return parse_prompt(text, str(path))


def environment_block(project_root: Path, cwd: Path, mode: str, sandbox: str) -> str:
    return "\n".join(
        [
            f"- project root: {project_root}",
            f"- working directory: {cwd}",
            f"- permission mode: {mode}; sandbox: {sandbox}",
            f"- platform: {os.uname().sysname} {os.uname().release}; shell: bash",
            f"- date: {datetime.date.today().isoformat()}",
            f"- user: {os.environ.get('USER', 'unknown')}",
        ]
    )


def system_prompt(name: str, project_root: Path, cwd: Path, mode: str, sandbox: str) -> str:
    prompt = load_builtin(name)
    return prompt.body.replace("{environment}", environment_block(project_root, cwd, mode, sandbox))
