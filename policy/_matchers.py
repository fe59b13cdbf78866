"""Matchers for policy rules: argv word patterns, regexes and gitignore-style path globs.

A matcher is validated when it is built and compiled on first use: fnmatch patterns, regexes and the
per-base unions of path patterns become ``re`` patterns the first time a request needs them, so an
engine that only ever judges a few paths compiles only what those paths need. Validation stays
eager: an invalid regex or path pattern raises ``MatcherError`` (a ``ValueError``) with a message
meant for the person who wrote the rule; the rule loader adds the file, line and rule id. A matcher
rebuilt from the startup cache (``_rulecache.py``) was validated when its file was first loaded and
skips validation: ``RegexMatcher(p, checked=True)``, ``PathsMatcher(p, known=parts)``, the latter
without importing pathspec. Nothing here does I/O.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import InitVar, field
from pathlib import PurePath
from typing import Literal, NamedTuple

from policy._values import frozen

ANY_WORDS = "**"  # an argv element that matches zero or more words
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class MatcherError(ValueError):
    """A matcher value is invalid; the message says how to fix it."""


# ---------------------------------------------------------------------------------------------
# argv / prefix


@frozen
class ArgvMatcher:
    """Word-wise match of one argv. Each element is an fnmatch pattern for exactly one word; an
    element that is exactly ``**`` matches zero or more words. ``prefix`` is ``argv`` + ``**``."""

    kind: Literal["argv", "prefix"]
    words: tuple[str, ...]
    _segments: tuple[tuple[re.Pattern[str], ...], ...] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if not self.words:
            raise MatcherError(
                f"{self.kind} is empty; list the words to match, e.g. {self.kind} = [\"git\", \"push\"]"
            )

    def _compile(self) -> tuple[tuple[re.Pattern[str], ...], ...]:
        elements = [*self.words, ANY_WORDS] if self.kind == "prefix" else list(self.words)
        segments: list[tuple[re.Pattern[str], ...]] = [()]
        for element in elements:
            if element == ANY_WORDS:
                segments.append(())
            else:
                segments[-1] = (*segments[-1], re.compile(fnmatch.translate(element)))
        compiled = tuple(segments)
        object.__setattr__(self, "_segments", compiled)
        return compiled

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
        segments = self._segments or self._compile()
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


@frozen
class RegexMatcher:
    """A Python regex applied with ``re.search``. Compiled when built (which validates it), unless
    ``checked`` says it is known to compile: then on first use."""

    pattern: str
    checked: InitVar[bool] = False
    _compiled: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def kind(self) -> Literal["regex"]:
        return "regex"

    def __post_init__(self, checked: bool) -> None:
        if not checked:
            self._compile()

    def _compile(self) -> re.Pattern[str]:
        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            raise MatcherError(f"invalid regex {self.pattern!r}: {exc}; fix the expression") from None
        object.__setattr__(self, "_compiled", compiled)
        return compiled

    def search(self, text: str) -> bool:
        return (self._compiled or self._compile()).search(text) is not None


# ---------------------------------------------------------------------------------------------
# paths


# What a path pattern is relative to (ints: they index a tuple on the hot path).
ROOT, PROJECT, HOME = 0, 1, 2
Base = int


class PathPart(NamedTuple):
    """One validated path pattern: what it is relative to, the regex pathspec made of it, whether it
    includes (or, with ``!``, excludes) and whether it matches only directories. The startup cache
    stores these, so that a cached rule file needs no pathspec. (A NamedTuple: a dataclass costs a
    millisecond more to import.)"""

    base: Base
    regex: str
    include: bool
    dir_only: bool


@frozen
class PathsMatcher:
    """gitignore-style globs (via pathspec). Relative patterns apply inside the project root, ``/…``
    patterns to absolute paths, ``~/…`` patterns inside the home directory. A pattern naming a
    directory also matches the directory itself and everything under it. ``!pattern`` excludes;
    as in .gitignore, the last pattern that matches a path decides. ``known`` holds the patterns'
    ``PathPart`` when they were validated before (the startup cache)."""

    patterns: tuple[str, ...]
    known: InitVar[tuple[PathPart, ...] | None] = None
    parts: tuple[PathPart, ...] = field(init=False, compare=False, repr=False)
    # Per base (and directory-ness), one regex matching what any of its patterns matches: most paths
    # match no pattern, and this rejects them in a few searches instead of one per pattern. Each is
    # compiled the first time a path inside its base is judged, each pattern's own regex the first
    # time the union matches.
    _unions: tuple[tuple[Base, bool, str], ...] = field(init=False, compare=False, repr=False)
    _union_res: list[re.Pattern[str] | None] = field(init=False, compare=False, repr=False)
    _part_res: list[re.Pattern[str] | None] = field(init=False, compare=False, repr=False)

    @property
    def kind(self) -> Literal["paths"]:
        return "paths"

    def __post_init__(self, known: tuple[PathPart, ...] | None) -> None:
        if not self.patterns:
            raise MatcherError('paths is empty; list at least one pattern, e.g. paths = ["secrets/"]')
        regexes: list[re.Pattern[str] | None]
        if known is not None and len(known) == len(self.patterns):
            parts = known
            regexes = [None] * len(parts)
        else:
            pairs = [_compile_path_pattern(p) for p in self.patterns]
            parts = tuple(part for part, _ in pairs)
            regexes = [regex for _, regex in pairs]
        unions: list[tuple[Base, bool, str]] = []
        for base in (ROOT, PROJECT, HOME):
            for dir_only in (False, True):
                alternatives = [_alternative(p) for p in parts if (p.base, p.dir_only) == (base, dir_only)]
                if alternatives:
                    unions.append((base, dir_only, "|".join(alternatives)))
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "_unions", tuple(unions))
        object.__setattr__(self, "_union_res", [None] * len(unions))
        object.__setattr__(self, "_part_res", regexes)

    def matches(self, path: PurePath, project_root: PurePath, home: PurePath) -> bool:
        """Whether the absolute ``path`` matches (a relative one is taken as relative to the project)."""
        text = str(path) if path.is_absolute() else str(project_root / path)
        rels = (text[1:], _relative(text, str(project_root)), _relative(text, str(home)))
        union_res = self._union_res
        for i, (base, dir_only, source) in enumerate(self._unions):
            rel = rels[base]
            if not rel:
                continue
            union = union_res[i]
            if union is None:
                union = union_res[i] = _compile_known(source)
            if union.search(rel + "/" if dir_only else rel) is not None:
                break
        else:
            return False
        part_res = self._part_res
        for i in range(len(self.parts) - 1, -1, -1):
            part = self.parts[i]
            rel = rels[part.base]
            if not rel:  # outside the base, or the base directory itself
                continue
            regex = part_res[i]
            if regex is None:
                regex = part_res[i] = _compile_known(part.regex)
            if regex.search(rel + "/" if part.dir_only else rel) is not None:
                return part.include
        return False


def _compile_known(source: str) -> re.Pattern[str]:
    """Compile a regex that was validated before (a ValueError, should it fail after all: the engine
    turns that into a deny)."""
    try:
        return re.compile(source)
    except re.error as exc:
        raise MatcherError(f"invalid path regex {source!r}: {exc}") from None


def _alternative(part: PathPart) -> str:
    # pathspec marks a directory match with a named group; names must be unique in one regex.
    return "(?:" + part.regex.replace("(?P<ps_d>", "(?:") + ")"


def _relative(path: str, base: str) -> str | None:
    if base == "/":
        return path[1:]
    if path == base:
        return ""
    if path.startswith(base + "/"):
        return path[len(base) + 1 :]
    return None


def _compile_path_pattern(raw: str) -> tuple[PathPart, re.Pattern[str]]:
    from pathspec.patterns.gitignore import GitIgnorePatternError  # imported here: slow (25 ms)
    from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

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
    return PathPart(base, regex.pattern, compiled.include, dir_only=spec.endswith("/")), regex


def escape_path(path: str) -> str:
    """A path pattern matching exactly the absolute ``path`` (and what is under it)."""
    if not path.startswith("/"):
        raise MatcherError(f"not an absolute path: {path!r}")
    escaped = re.sub(r"([\\*?\[])", r"\\\1", path.rstrip("/") or "/")
    body = escaped.rstrip(" ")
    return body + "\\ " * (len(escaped) - len(body))


Matcher = ArgvMatcher | RegexMatcher | PathsMatcher
