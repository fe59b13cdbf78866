"""The cyclic garbage collector during start-up.

Start-up creates ~100,000 long-lived objects (the modules, classes and functions of trio, httpx and
corral, the policy tables). With the collector on, every few hundred allocations it walks them again for
nothing: ~6% of a one-shot run's CPU. So the command line turns it off before the heavy imports
(`paused`); once the agent is built, `finished` moves everything that exists into the permanent
generation (`gc.freeze`, never scanned again) and turns collection back on for the run itself. Leaving
`paused` restores the collector whatever happened in between.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_paused = False


@contextmanager
def paused() -> Iterator[None]:
    """Collector off for the block (unless the caller already had it off: then nothing changes)."""
    global _paused
    if not gc.isenabled():
        yield
        return
    gc.disable()
    _paused = True
    try:
        yield
    finally:
        _paused = False
        gc.enable()


def finished() -> None:
    """Start-up is over: freeze what it created and collect again (only inside `paused`)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
