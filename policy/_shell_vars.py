"""Variables the bash analysis must follow: where arithmetic or a name lookup evaluates a value as code.

In bash, arithmetic (``$(( ))``, ``(( ))``, ``[[ x -eq y ]]``, ``let``, array subscripts, substring
offsets) and name lookups (``${!x}``, ``${x@P}``, ``printf -v``, ``read``, ``test -v`` …) evaluate the
*value* of a variable, recursively, including ``$( … )`` inside an array subscript: after
``x='a[$(id)]'``, ``echo $((x))`` runs ``id``. :class:`VarTracker` records, flow-insensitively, which
variables the script gives a value that could carry code (anything but a literal without ``[``, ``$``
or a backquote) and which variables it evaluates; :meth:`VarTracker.finish` reports the overlap.
Variables the script never assigns (the user's environment, ``for i in 1 2 3``) are trusted.
"""

from __future__ import annotations

import re

from policy._shell_words import build_word, find_expansions, join_continuations, split_assignment
from policy._types import SimpleCommand, Word

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"\b(?:[0-9]+#[0-9A-Za-z@_]+|0[xX][0-9A-Fa-f]+|[0-9]+)\b")
_ARITH_OK = re.compile(r'[\sA-Za-z0-9_+\-*/%<>=!~&|^?:,()\[\]"#@]*')
_ARITH_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[[^\]]*\])?\s*(?:[-+*/%&|^]|<<|>>)?=(?!=)"
                           r"|(?:\+\+|--)\s*([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*)\s*(?:\+\+|--)")
_ARITH_EXPANSION = re.compile(r"\$\(\((?:[^()]|\([^()]*\))*\)\)")
_PLAIN_TARGET = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*(?=\s*=(?!=))")
_NAME_ARG = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(.*)\])?", re.S)
_DECLARE = frozenset({"declare", "typeset", "local", "export", "readonly"})
# options of read / mapfile that take a value
_READ_VALUED = "adinNptu"
_MAPFILE_VALUED = "dnOsuCc"
_TRUSTED_SPECIAL = frozenset({"#", "?", "$", "!", "-", "0"})


class ArithScan:
    """What an arithmetic text contains: names it evaluates, whether it reads positional parameters,
    names it assigns, expansions to look into, and why it is opaque (if it is)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.positional = False
        self.assigned: list[str] = []
        self.expansions: list[tuple[str, str]] = []
        self.reasons: list[str] = []


def scan_arith(text: str) -> ArithScan:
    """Look at an arithmetic expression as written (before expansion)."""
    res = ArithScan()
    text = join_continuations(text)
    found = find_expansions(text)
    for e in found:
        if e.kind == "var":
            res.names.append(e.text)
        elif e.kind == "positional":
            res.positional = True
        elif e.kind == "reason":
            res.reasons.append(e.text)
        else:
            res.expansions.append((e.kind, e.text))
    bare, last = "", 0
    for e in found:
        if e.kind != "reason" and e.start >= last:
            bare += text[last : e.start] + " 0 "
            last = e.end
    bare += text[last:]
    if not _ARITH_OK.fullmatch(bare):
        bad = "".join(sorted(set(_ARITH_OK.sub("", bare))))
        res.reasons.append(f"arithmetic with unexpected characters {bad!r}")
    for m in _ARITH_ASSIGN.finditer(bare):
        res.assigned.append(m.group(1) or m.group(2) or m.group(3))
    read = _PLAIN_TARGET.sub(" ", bare)  # "x = …" does not evaluate x
    res.names += _IDENT.findall(_NUMBER.sub(" ", read))
    return res


class VarTracker:
    def __init__(self) -> None:
        self.tainted: dict[str, str] = {"_": "it holds the last argument"}  # name -> why
        self.refs: dict[str, set[str]] = {}  # name -> names its literal value mentions
        self.uses: list[tuple[str, str]] = []  # (name, where) evaluated as code
        self.positional_uses: list[str] = []
        self.positional_set = False  # set -- with risky values
        self.calls: list[tuple[str, tuple[Word, ...]]] = []
        self.loop_items: dict[str, list[Word]] = {}  # name -> values of `for` loops over plain words
        self.bound_elsewhere: set[str] = {"_"}  # names that get a value any other way
        self._in_for = False

    def taint(self, name: str, why: str) -> None:
        self.tainted.setdefault(name, why)
        if not self._in_for:
            self.bound_elsewhere.add(name)

    def loop_values(self, name: str) -> list[Word] | None:
        """The values ``name`` can hold when only ``for`` loops over literal words or globs set it."""
        if name in self.bound_elsewhere:
            return None
        return self.loop_items.get(name)

    def assign(self, name: str, value: Word) -> None:
        self.bound_elsewhere.add(name)
        if not value.literal and _ARITH_EXPANSION.search(value.raw):  # $(( … )) gives a number
            value = build_word(_ARITH_EXPANSION.sub("0", value.raw), assignment=True)
        if not value.literal or any(c in value.value for c in "[$`"):
            self.taint(name, f"it is assigned {value.raw!r}")
        else:
            self.refs.setdefault(name, set()).update(_IDENT.findall(_NUMBER.sub(" ", value.value)))

    def use(self, name: str, where: str) -> None:
        if (name.isdigit() and name != "0") or name in ("@", "*"):
            self.positional_uses.append(where)
        elif name not in _TRUSTED_SPECIAL:
            self.uses.append((name, where))

    def loop(self, name: str, items: list[Word], keyword: str = "for") -> None:
        plain = keyword == "for" and bool(items) and all(w.literal or w.glob for w in items)
        if plain:
            self.loop_items.setdefault(name, []).extend(items)
        else:
            self.bound_elsewhere.add(name)
        self._in_for = plain
        try:
            for w in items:
                if _risky(w):
                    self.taint(name, f"the {keyword} loop gives it the values of {w.raw!r}")
            if keyword != "for":
                self.taint(name, f"{keyword} reads its value")
        finally:
            self._in_for = False

    def observe(self, cmd: SimpleCommand) -> tuple[list[str], list[str]]:
        """Record what ``cmd`` assigns. Returns arithmetic texts bash evaluates because of it (``let``
        arguments, subscripts of variable names given to builtins) and reasons it is opaque."""
        for name, value in cmd.assignments:
            self.assign(name, value)
        if not cmd.argv or not cmd.argv[0].literal:
            return [], []
        prog, args = cmd.argv[0].value, list(cmd.argv[1:])
        self.calls.append((prog, cmd.argv[1:]))
        arith: list[str] = []
        reasons: list[str] = []
        names: list[Word] = []
        if prog in _DECLARE:
            for w in args:
                if w.raw.startswith(("-", "+")) and w.literal:
                    if prog != "export" and ("i" in w.value or "n" in w.value):
                        reasons.append(f"{prog} {w.value} makes assignments evaluate or alias variables")
                    continue
                parts = split_assignment(w.value if w.literal else w.raw)
                if parts is None:
                    names.append(w)
                    continue
                name, sub, text = parts
                value = Word(text, text, True) if w.literal else build_word(text, assignment=True)
                self.assign(name, value)
                if sub is not None:
                    arith.append(sub)
        elif prog == "read":
            names = _after_options(args, _READ_VALUED, "a")
            if not names:
                self.taint("REPLY", "read sets it")
        elif prog in ("mapfile", "readarray"):
            names = _after_options(args, _MAPFILE_VALUED, "")[:1]
            if not names:
                self.taint("MAPFILE", f"{prog} sets it")
        elif prog in ("printf", "wait"):
            names = [args[k + 1] for k, w in enumerate(args[:-1]) if w.value == "-v" or w.value == "-p"]
        elif prog == "getopts":
            names = args[1:2]
            self.taint("OPTARG", "getopts sets it")
        elif prog == "unset":
            names = [w for w in args if not w.raw.startswith("-")]
        elif prog in ("test", "["):
            names = [args[k + 1] for k, w in enumerate(args[:-1]) if w.value == "-v"]
        elif prog == "let":
            arith += [w.value if w.literal else w.raw for w in args]
        elif prog == "set" and _sets_positionals(args):
            self.positional_set = self.positional_set or any(_risky(w) for w in args)
        for w in names:
            a, r = self.name_argument(prog, w)
            arith += a
            reasons += r
        return arith, reasons

    def name_argument(self, prog: str, w: Word) -> tuple[list[str], list[str]]:
        """A word a builtin uses as a variable name: the name is set from outside data, and a
        subscript in it is arithmetic."""
        if not w.literal:
            return [], [f"{prog} is given a variable name computed at run time ({w.raw})"]
        m = _NAME_ARG.fullmatch(w.value)
        if not m:
            return [], []
        if prog not in ("unset", "test", "[", "[["):
            self.taint(m.group(1), f"{prog} sets it")
        return ([m.group(2)] if m.group(2) is not None else []), []

    def finish(self, functions: frozenset[str] | set[str]) -> list[str]:
        changed = True
        while changed:
            changed = False
            for name, refs in self.refs.items():
                bad = next((r for r in sorted(refs) if r in self.tainted and r != name), None)
                if name not in self.tainted and bad is not None:
                    self.tainted[name] = f"its value names {bad}, which {self.tainted[bad]}"
                    changed = True
        out = [f"{where} evaluates the value of {name} as code, and {self.tainted[name]}"
               for name, where in self.uses if name in self.tainted]
        risky_call = any(prog in functions and any(_risky(w) for w in args) for prog, args in self.calls)
        if self.positional_uses and (risky_call or self.positional_set):
            out.append(f"{self.positional_uses[0]} evaluates a positional parameter the script sets from "
                       "data it does not control")
        return out


def _risky(w: Word) -> bool:
    """A value that could carry code into arithmetic."""
    return not w.literal or any(c in w.value for c in "[$`")


def _sets_positionals(args: list[Word]) -> bool:
    """Whether ``set ARGS`` replaces the positional parameters (``-o NAME`` takes an option name)."""
    takes_name = False
    for w in args:
        if takes_name:
            takes_name = False
        elif w.raw == "--" or not w.raw.startswith(("-", "+")):
            return True
        else:
            takes_name = w.raw.endswith("o")
    return False


def _after_options(args: list[Word], valued: str, name_opt: str) -> list[Word]:
    """Positional arguments after the options of ``read``/``mapfile``; the value of option
    ``name_opt`` (``read -a NAME``) counts as a positional name too."""
    out: list[Word] = []
    k = 0
    while k < len(args):
        w = args[k]
        if w.value == "--":
            return out + args[k + 1 :]
        if not (w.literal and w.value.startswith("-") and len(w.value) > 1):
            return out + args[k:]
        opts = w.value[1:]
        for j, ch in enumerate(opts):
            if ch in valued:
                if j + 1 == len(opts) and k + 1 < len(args):
                    k += 1
                    if ch == name_opt:
                        out.append(args[k])
                break
        k += 1
    return out
