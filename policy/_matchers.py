"""Compiled matchers for policy rules: argv word patterns, regexes and gitignore-style path globs.

A matcher is compiled once, when its rule is built, and is then only matched: fnmatch patterns are
translated to regexes up front and every path pattern is compiled by pathspec. Invalid input raises
``MatcherError`` (a ``ValueError``) with a message meant for the person who wrote the rule; the rule
loader adds the file, line and rule id. Nothing here does I/O.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal

from pathspec.patterns.gitignore import GitIgnorePatternError
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

ANY_WORDS = "**"  # an argv element that matches zero or more words
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class MatcherError(ValueError):
    """A matcher value is invalid; the message says how to fix it."""


# ---------------------------------------------------------------------------------------------
# argv / prefix


@dataclass(frozen=True)
class ArgvMatcher:
    """Word-wise match of one argv. Each element is an fnmatch pattern for exactly one word; an
    element that is exactly ``**`` matches zero or more words. ``prefix`` is ``argv`` + ``**``."""

    kind: Literal["argv", "prefix"]
    words: tuple[str, ...]
    _segments: tuple[tuple[re.Pattern[str], ...], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.words:
            raise MatcherError(
                f"{self.kind} is empty; list the words to match, e.g. {self.kind} = [\"git\", \"push\"]"
            )
        elements = [*self.words, ANY_WORDS] if self.kind == "prefix" else list(self.words)
        segments: list[tuple[re.Pattern[str], ...]] = [()]
        for element in elements:
            if element == ANY_WORDS:
                segments.append(())
            else:
                segments[-1] = (*segments[-1], re.compile(fnmatch.translate(element)))
        object.__setattr__(self, "_segments", tuple(segments))

    def matches(self, words: Sequence[str], *, program_basename: bool = False) -> bool:
        """Whether ``words`` match. With ``program_basename``, a first word written as a path
        (``/usr/bin/git``) is also tried as its last component (``git``)."""
        if self._match(words):
            return True
        if program_basename and words and "/" in words[0]:
            name = words[0].rsplit("/", 1)[1]
            return bool(name) and self._match((name, *words[1:]))
        return False

    def _match(self, words: Sequence[str]) -> bool:
        segments = self._segments
        n = len(words)
        if len(segments) == 1:
            return n == len(segments[0]) and _fits(segments[0], words, 0)
        first, last = segments[0], segments[-1]
        end = n - len(last)
        if len(first) > end or not _fits(first, words, 0) or not _fits(last, words, end):
            return False
        pos = len(first)
        for segment in segments[1:-1]:  # each has a fixed length, so the leftmost fit is optimal
            while True:
                if pos + len(segment) > end:
                    return False
                if _fits(segment, words, pos):
                    break
                pos += 1
            pos += len(segment)
        return True


def _fits(segment: tuple[re.Pattern[str], ...], words: Sequence[str], start: int) -> bool:
    if start + len(segment) > len(words):
        return False
    return all(p.match(words[start + i]) is not None for i, p in enumerate(segment))


def escape_word(word: str) -> str:
    """An fnmatch pattern matching exactly ``word`` (``*``, ``?`` and ``[`` made literal)."""
    return re.sub(r"([*?\[])", r"[\1]", word)


# ---------------------------------------------------------------------------------------------
# regex


@dataclass(frozen=True)
class RegexMatcher:
    """A Python regex applied with ``re.search``."""

    pattern: str
    _compiled: re.Pattern[str] = field(init=False, compare=False, repr=False)

    @property
    def kind(self) -> Literal["regex"]:
        return "regex"

    def __post_init__(self) -> None:
        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            raise MatcherError(f"invalid regex {self.pattern!r}: {exc}; fix the expression") from None
        object.__setattr__(self, "_compiled", compiled)

    def search(self, text: str) -> bool:
        return self._compiled.search(text) is not None


# ---------------------------------------------------------------------------------------------
# paths


# What a path pattern is relative to (ints: they index a tuple on the hot path).
ROOT, PROJECT, HOME = 0, 1, 2
Base = int


@dataclass(frozen=True)
class _PathPattern:
    base: Base
    regex: re.Pattern[str]
    include: bool
    dir_only: bool


@dataclass(frozen=True)
class PathsMatcher:
    """gitignore-style globs (via pathspec). Relative patterns apply inside the project root, ``/…``
    patterns to absolute paths, ``~/…`` patterns inside the home directory. A pattern naming a
    directory also matches the directory itself and everything under it. ``!pattern`` excludes;
    as in .gitignore, the last pattern that matches a path decides."""

    patterns: tuple[str, ...]
    _compiled: tuple[_PathPattern, ...] = field(init=False, compare=False, repr=False)
    # Per base (and directory-ness), one regex matching what any of its patterns matches: most paths
    # match no pattern, and this rejects them in a few searches instead of one per pattern.
    _any: tuple[tuple[Base, bool, re.Pattern[str]], ...] = field(init=False, compare=False, repr=False)

    @property
    def kind(self) -> Literal["paths"]:
        return "paths"

    def __post_init__(self) -> None:
        if not self.patterns:
            raise MatcherError('paths is empty; list at least one pattern, e.g. paths = ["secrets/"]')
        compiled = tuple(_compile_path_pattern(p) for p in self.patterns)
        union: list[tuple[Base, bool, re.Pattern[str]]] = []
        for base in (ROOT, PROJECT, HOME):
            for dir_only in (False, True):
                alternatives = [_alternative(p) for p in compiled if (p.base, p.dir_only) == (base, dir_only)]
                if alternatives:
                    union.append((base, dir_only, re.compile("|".join(alternatives))))
        object.__setattr__(self, "_compiled", compiled)
        object.__setattr__(self, "_any", tuple(union))

    def matches(self, path: PurePath, project_root: PurePath, home: PurePath) -> bool:
        """Whether the absolute ``path`` matches (a relative one is taken as relative to the project)."""
        text = str(path) if path.is_absolute() else str(project_root / path)
        rels = (text[1:], _relative(text, str(project_root)), _relative(text, str(home)))
        for base, dir_only, union in self._any:
            rel = rels[base]
            if rel and union.search(rel + "/" if dir_only else rel) is not None:
                break
        else:
            return False
        for pattern in reversed(self._compiled):
            rel = rels[pattern.base]
            if not rel:  # outside the base, or the base directory itself
                continue
            if pattern.regex.search(rel + "/" if pattern.dir_only else rel) is not None:
                return pattern.include
        return False


def _alternative(pattern: _PathPattern) -> str:
    # pathspec marks a directory match with a named group; names must be unique in one regex.
    return "(?:" + pattern.regex.pattern.replace("(?P<ps_d>", "(?:") + ")"


def _relative(path: str, base: str) -> str | None:
    if base == "/":
        return path[1:]
    if path == base:
        return ""
    if path.startswith(base + "/"):
        return path[len(base) + 1 :]
    return None


def _compile_path_pattern(raw: str) -> _PathPattern:
    if _CONTROL.search(raw):
        raise MatcherError(f"path pattern {raw!r} contains a control character; remove it")
    negate = raw.startswith("!")
    body = raw[1:] if negate else raw
    if body in ("", "/", "~", "~/"):
        everything = {"": "", "/": "/**", "~": "~/**", "~/": "~/**"}[body]
        hint = f"; to match everything under it use {everything!r}" if everything else ""
        raise MatcherError(f"path pattern {raw!r} matches nothing{hint}")
    if body.startswith("~/"):
        base, spec = HOME, body[1:]
    elif body.startswith("~"):
        raise MatcherError(f"path pattern {raw!r}: only '~/' (your home) is supported, not '~user'")
    elif body.startswith("/"):
        base, spec = ROOT, body
    else:
        base, spec = PROJECT, body
    parts = spec.strip("/").split("/")
    if ".." in parts or "." in parts:
        raise MatcherError(
            f"path pattern {raw!r} contains '.' or '..'; write it without them "
            "(use an absolute '/…' or '~/…' pattern for paths outside the project)"
        )
    try:
        compiled = GitIgnoreSpecPattern(("!" if negate else "") + spec)
    except GitIgnorePatternError as exc:
        raise MatcherError(f"invalid path pattern {raw!r}: {exc}") from None
    if compiled.include is None or compiled.regex is None:
        raise MatcherError(
            f"path pattern {raw!r} matches nothing (a '#' comment or an unclosed '['?); fix the pattern"
        )
    regex: re.Pattern[str] = compiled.regex  # used directly: pathspec's match_file wraps each hit
    return _PathPattern(base, regex, compiled.include, dir_only=spec.endswith("/"))


def escape_path(path: str) -> str:
    """A path pattern matching exactly the absolute ``path`` (and what is under it)."""
    if not path.startswith("/"):
        raise MatcherError(f"not an absolute path: {path!r}")
    escaped = re.sub(r"([\\*?\[])", r"\\\1", path.rstrip("/") or "/")
    body = escaped.rstrip(" ")
    return body + "\\ " * (len(escaped) - len(body))


Matcher = ArgvMatcher | RegexMatcher | PathsMatcher
