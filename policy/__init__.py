"""corral's policy engine: judges every tool request and answers allow, ask or deny.

A leaf library: it imports only the standard library, pydantic, bashlex and pathspec, and does no
I/O except reading rule files and its startup cache (``_cache.py``). ``import policy`` loads only the
value types; the engine loads on first use, and bashlex, pathspec and the command catalog only when
a bash command is judged or a rule file has to be verified. Everything public is re-exported here; the
``_modules`` behind are private.

    engine = load_engine(project_root)
    verdict = engine.evaluate(Request(tool="bash", args={"command": "ls"}, cwd=root, project_root=root))
"""

from typing import TYPE_CHECKING

from policy._errors import PolicyError, RuleFileError
from policy._types import (
    READ_TOOLS,
    WRITE_TOOLS,
    CommandVerdict,
    Decision,
    Kind,
    Mode,
    Request,
    Verdict,
)

if TYPE_CHECKING:
    from policy._engine import Engine, SessionState, builtin_policy_dir, load_engine
    from policy._rules import Rule

__all__ = [
    "READ_TOOLS",
    "WRITE_TOOLS",
    "CommandVerdict",
    "Decision",
    "Engine",
    "Kind",
    "Mode",
    "PolicyError",
    "Request",
    "Rule",
    "RuleFileError",
    "SessionState",
    "Verdict",
    "builtin_policy_dir",
    "load_engine",
]


def __getattr__(name: str) -> object:
    # The engine and rule machinery are imported on first use so that ``import policy`` stays cheap.
    if name in {"Engine", "SessionState", "load_engine", "builtin_policy_dir"}:
        from policy import _engine

        return getattr(_engine, name)
    if name == "Rule":
        from policy import _rules

        return _rules.Rule
    raise AttributeError(f"module 'policy' has no attribute {name!r}")
