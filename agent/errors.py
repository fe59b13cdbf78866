"""The agent's exception tree. Every error tells the user what to do next."""

from __future__ import annotations


class CorralError(Exception):
    """Base of the agent's own errors."""


class UsageError(CorralError):
    """A bad command line: printed with the usage hint, exit code 2."""


class ConfigError(CorralError):
    """A bad configuration file, value or environment variable: the message names the key and the file."""


class ProviderError(CorralError):
    """A model API call failed. `status` is the HTTP status when there was one; `retryable` says whether
    the failure was of a kind worth retrying (the provider already retried it as configured);
    `context_overflow` says the request was refused because it does not fit the model's context window
    (never retried as is: the core loop compacts the conversation and sends it again)."""

    def __init__(
        self, message: str, *, status: int | None = None, retryable: bool = False, context_overflow: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.context_overflow = context_overflow
