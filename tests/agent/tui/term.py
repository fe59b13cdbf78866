"""A real terminal for end-to-end tests of the UI: tmux runs `corral` in a detached session; tests type
keys and read the screen (and the scrollback) as a user would."""

from __future__ import annotations

import shlex
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path


class Term:
    def __init__(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], width: int = 120,
                 height: int = 40) -> None:
        self.name = f"corral-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        command = f"env -i {exports} {shlex.join(argv)}; code=$?; echo; echo \"[exit $code]\"; sleep 30"
        argv_tmux = ["tmux", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), "-c",
                     str(cwd), command]
        for attempt in range(10):  # the server of a just-closed last session may still be exiting
            done = subprocess.run(argv_tmux, capture_output=True, text=True)
            if done.returncode == 0:
                break
            time.sleep(0.1 * (attempt + 1))
        else:
            raise RuntimeError(f"tmux new-session failed: {done.stderr.strip()}")

    def keys(self, *keys: str) -> None:
        """tmux key names: Enter, C-c, C-d, Escape, M-Enter …"""
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def screen(self, history: int = 3000) -> str:
        """What the terminal shows, scrollback included (lines joined where they wrapped)."""
        out = subprocess.run(["tmux", "capture-pane", "-p", "-J", "-t", self.name, "-S", f"-{history}"],
                             capture_output=True, text=True)
        return out.stdout

    def count(self, text: str) -> int:
        """How often `text` is on the screen and in the scrollback now."""
        return self.screen().count(text)

    def wait_for(self, text: str, timeout: float = 20.0, *, times: int = 1) -> str:
        """Wait until `text` is shown `times` times (scrollback included). To wait for a text that may
        already be in the scrollback (a second approval request), pass `times=term.count(text) + 1`, counted
        before the key that makes it appear. tmux also keeps a copy of whatever was on the screen when the
        screen is erased from its first line (its scroll-on-clear option), so a count can only grow."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if screen.count(text) >= times:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear {times} time(s) within {timeout} s; the screen:\n"
                                     f"{screen}")
            time.sleep(0.05)

    def pane_pid(self) -> int:
        out = subprocess.run(["tmux", "display-message", "-p", "-t", self.name, "#{pane_pid}"],
                             capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)
