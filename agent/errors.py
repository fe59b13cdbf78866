"""The agent's exception tree. Every error tells the user what to do next."""

from __future__ import annotations


class CorralError(Exception):
    """Base of the agent's own errors."""


class UsageError(CorralError):
    """A bad command line: printed with the usage hint, exit code 2."""
