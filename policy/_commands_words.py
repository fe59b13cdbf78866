"""The pieces the classifier's modules share: the ``Layer`` a command's effects are collected in,
path and assignment judgement, and small helpers on shell words.

``Layer`` is mutable while one command is being classified; ``policy/_commands.py`` turns it into
an immutable ``CommandFacts``.
"""

from __future__ import annotations

import re
from dataclasses import field

from policy._catalog import Catalog
from policy._types import Kind, Word
from policy._values import frozen, record

ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=")
ENV_ASSIGN = re.compile(r"([^=/\s]+)=")  # env and sudo take any NAME=VALUE (BASH_FUNC_f%%=…)
EXEC_PLACEHOLDERS = ("{}", "{/}", "{//}", "{.}", "{/.}")
INPUT = "\x00input"  # stands for the words xargs appends from its input (cannot occur in a real word)
INPUT_WORD = Word(raw="<input>", value=INPUT, literal=True)
HOME = Word(raw="~", value="~", literal=True, tilde=True)
UNKNOWN_DIR = Word(raw="-", value="-", literal=True)
CWD = Word(raw=".", value=".", literal=True)
VERB = {
    Kind.NEUTRAL: "has no effect outside the shell", Kind.READ: "reads files", Kind.WRITE: "writes files",
    Kind.BUILD: "runs the project's build or tests", Kind.UNKNOWN: "can run arbitrary code",
    Kind.NETWORK: "talks to the network", Kind.DESTRUCTIVE: "deletes or overwrites data",
    Kind.PRIVILEGE: "changes privileges or injects code", Kind.OPAQUE: "cannot be analysed",
}


@frozen
class Inner:
    """A command another command runs (wrapper, ``find -exec``, ``xargs``)."""

    words: tuple[Word, ...]
    placeholders: tuple[str, ...]
    execdir: bool
    via: str


@frozen
class ShellCode:
    source: str
    via: str


@record
class Layer:
    """What a command does, as found so far."""

    effects: list[tuple[Kind, str]] = field(default_factory=list)
    reads: list[Word] = field(default_factory=list)
    writes: list[Word] = field(default_factory=list)
    cd: Word | None = None
    inner: list[Inner] = field(default_factory=list)
    shells: list[ShellCode] = field(default_factory=list)

    def add(self, kind: Kind, reason: str) -> None:
        self.effects.append((kind, reason))

    def opaque(self, reason: str) -> None:
        self.effects.append((Kind.OPAQUE, reason))

    @property
    def kind(self) -> Kind:
        return max((k for k, _ in self.effects), default=Kind.NEUTRAL)

    def merge(self, other: Layer) -> None:
        self.effects += other.effects
        self.reads += other.reads
        self.writes += other.writes
        self.shells += other.shells
        self.cd = other.cd if other.cd is not None else self.cd


@frozen
class Ctx:
    catalog: Catalog
    placeholders: tuple[str, ...] = ()  # words standing for paths that come from data ({} of find -exec)
    fed_by: str = ""  # what supplies them ("find -exec", "xargs")


def unknown_path(what: str) -> Word:
    """A path that cannot be known before the command runs (the engine judges it as such)."""
    return Word(raw=f"({what})", value=f"({what})", literal=False)


def judge_assignment(name: str, value: Word | None, ctx: Ctx, out: Layer) -> None:
    """Setting a variable: dangerous when the catalog's env rules say so (``LD_PRELOAD``, ``PATH`` …)."""
    base = name.split("[", 1)[0].rstrip("+")
    rule = ctx.catalog.env_rule(base)
    if rule is None or (value is not None and value.literal and value.value in rule.safe_values):
        return
    out.add(rule.kind, f"setting {base} {rule.reason}")


def add_path(word: Word, write: bool, name: str, ctx: Ctx, out: Layer) -> None:
    v = word.value
    if word.literal and v in ("", "-"):
        return  # "-" is standard input or output
    if word.literal and any(ph in v for ph in ctx.placeholders):
        source = f"files named by {ctx.fed_by or 'its input'}"
        (out.writes if write else out.reads).append(unknown_path(source))
        out.add(Kind.WRITE if write else Kind.READ, f"{name} {'writes' if write else 'reads'} {source}")
        return
    cat = ctx.catalog
    if word.literal and not word.glob and (v in cat.neutral_devices or v.startswith(cat.neutral_prefixes)):
        return
    if write:
        out.writes.append(word)
        out.add(Kind.WRITE, f"{name} writes {word.raw}")
        if word.literal and v.startswith("/dev/") and not v.startswith(("/dev/shm/", "/dev/mqueue/")):
            out.add(Kind.DESTRUCTIVE, f"{name} writes to the device {v}")
    else:
        out.reads.append(word)
        out.add(Kind.READ, f"{name} reads {word.raw}")


def split_prone(raw: str) -> bool:
    """Whether an expansion in this word may become several words (unquoted, or ``"$@"``)."""
    if "$@" in raw or "[@]" in raw:
        return True
    quote = ""
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and quote != "'":
            i += 2
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "$`":
            return True
        i += 1
    return False


def is_process_substitution(raw: str) -> bool:
    """``<(cmd)`` / ``>(cmd)`` as a whole word: it becomes one ``/dev/fd/N`` path, and the commands
    inside are analysed on their own."""
    return raw[:2] in ("<(", ">(") and raw.endswith(")")


def may_become_option(raw: str) -> bool:
    """Whether a non-literal word could expand to something starting with ``-``."""
    if split_prone(raw):
        return True
    head = raw.lstrip("\"'")
    return head[:1] in ("$", "`", "-", "")


def sub_word(word: Word, value: str, raw: str) -> Word:
    """The part of a word after an option name (``--output=FILE``, ``-oFILE``, ``of=FILE``)."""
    tilde = value == "~" or value.startswith("~/")
    bad_tilde = value.startswith("~") and not tilde
    return Word(raw=raw, value=value, literal=word.literal and not bad_tilde, glob=word.glob, tilde=tilde)
