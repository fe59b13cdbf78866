"""Path handling for the engine: expand a shell word or tool argument to absolute paths, resolve
symlinks, and compare with the project root by whole components.

Two forms of each path matter. The *lexical* form (``~`` expanded, joined to the working directory,
``.``/``..`` folded without touching the filesystem) is what the user or model wrote; the *resolved*
form follows symlinks. Deny and ask rules are tested against both, allow rules and the
inside-the-project test only against the resolved form, so a symlink can neither hide a secret nor
smuggle a path into the project.
"""

from __future__ import annotations

import os
from pathlib import Path

from policy._types import Word
from policy._values import frozen

# A glob that matches more than this many paths is not expanded: the command asks instead.
MAX_GLOB_MATCHES = 512


@frozen
class PathRef:
    """One concrete path a request touches, in both forms."""

    written: str
    lexical: Path
    resolved: Path


def expand_user(text: str, home: Path) -> str:
    if text == "~":
        return str(home)
    if text.startswith("~/"):
        return str(home) + text[1:]
    return text


def lexical(text: str, cwd: Path, home: Path) -> Path:
    """``text`` made absolute against ``cwd`` with ``~`` expanded and ``.``/``..`` folded lexically."""
    return Path(os.path.normpath(os.path.join(cwd, expand_user(text, home))))


def resolve(path: Path) -> Path:
    """Follow every symlink that exists along ``path``; a missing tail is kept as written."""
    return Path(os.path.realpath(path))


def make_ref(text: str, cwd: Path, home: Path) -> PathRef:
    lex = lexical(text, cwd, home)
    return PathRef(written=text, lexical=lex, resolved=resolve(lex))


def is_within(path: Path, root: Path) -> bool:
    """True when ``path`` is ``root`` or below it, compared by whole components."""
    return path == root or root in path.parents


def expand_word(word: Word, cwd: Path, home: Path) -> list[PathRef] | None:
    """The paths a shell word names, or None when it cannot be known statically.

    A glob is expanded the way bash would (hidden files only when the pattern asks for them); a glob
    with no match stays literal, as in bash; one with too many matches gives None.
    """
    if word.literal and not word.glob:
        return [make_ref(word.value, cwd, home)]
    if not word.glob:
        return None
    import glob  # here: only bash requests expand globs

    pattern = expand_user(word.value, home) if word.tilde else word.value
    base = None if os.path.isabs(pattern) else str(cwd)
    matches: list[str] = []
    for match in glob.iglob(pattern, root_dir=base):
        matches.append(match)
        if len(matches) > MAX_GLOB_MATCHES:
            return None
    if not matches:
        return [make_ref(word.value, cwd, home)]
    return [make_ref(m, cwd, home) for m in sorted(matches)]
