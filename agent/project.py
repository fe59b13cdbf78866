"""Finding the project a command works on: the root that path checks and project files hang from."""

from __future__ import annotations

from pathlib import Path


def find_project_root(start: Path) -> Path:
    """The nearest enclosing directory holding ``.git`` or ``.corral``, else ``start`` itself.

    The home directory and the filesystem root are never taken as a project by this search: a
    ``.git`` there usually holds dotfiles, and treating all of home as the project would make every
    secret "inside the project"."""
    start = start.resolve()
    home = Path.home().resolve()
    for candidate in (start, *start.parents):
        if candidate in (home, Path("/")):
            break
        if (candidate / ".git").exists() or (candidate / ".corral").exists():
            return candidate
    return start
