"""Fixtures for the sandbox tests (defined in helpers.py)."""

from tests.sandbox.helpers import backend, box

__all__ = ["backend", "box"]
