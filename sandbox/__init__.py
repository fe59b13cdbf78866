"""corral's sandbox: run one command in isolation (bubblewrap, zerobox, or explicitly none) under trio.

A leaf library (stdlib, trio, pydantic only). The facade below is the whole public API; see
docs/SANDBOX.md for what each backend guarantees.
"""

from __future__ import annotations

from ._detect import choose_backend, doctor
from ._runner import run
from ._spec import (
    DEFAULT_ENV_ALLOW,
    DEFAULT_PROTECTED,
    BackendName,
    BackendStatus,
    NoBackendError,
    Profile,
    Result,
    SandboxError,
    Spec,
    filter_env,
    is_secret_name,
    masked_paths,
)

__all__ = [
    "DEFAULT_ENV_ALLOW",
    "DEFAULT_PROTECTED",
    "BackendName",
    "BackendStatus",
    "NoBackendError",
    "Profile",
    "Result",
    "SandboxError",
    "Spec",
    "choose_backend",
    "doctor",
    "filter_env",
    "is_secret_name",
    "masked_paths",
    "run",
]
