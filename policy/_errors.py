"""The policy package's exception tree: every error says what to do next."""

from __future__ import annotations


class PolicyError(Exception):
    """Base of every error the policy engine raises."""


class RuleFileError(PolicyError):
    """A rule file is malformed. Names the file, the line (when known) and the rule id (when known)."""

    def __init__(self, message: str, *, path: str, line: int | None = None, rule: str | None = None) -> None:
        self.path = path
        self.line = line
        self.rule = rule
        where = path if line is None else f"{path}:{line}"
        if rule:
            where += f" (rule {rule!r})"
        super().__init__(f"{where}: {message}")
