"""Loads bashlex on first use, fast: its LALR tables come from a JSON cache instead of being rebuilt.

Importing ``bashlex.parser`` runs ``yacc.yacc()``, which rebuilds the parse tables from the grammar
(about a quarter of a second) on every import. Here, before ``bashlex.parser`` is executed,
``bashlex.yacc.yacc`` is replaced for the duration of the import by a function that builds the
``LRParser`` from cached tables (actions, gotos, productions as name, symbols and function name; the
functions and ``p_error`` come from ``bashlex.parser``'s own namespace). The cache lives in
``$XDG_CACHE_HOME/corral/`` (default ``~/.cache/corral/``), as JSON (never pickle), keyed by the
bashlex version, a hash of the files that define the grammar and the tables, and the Python version.
When the cache is missing or unreadable the real ``yacc`` runs and its tables are saved (atomically;
a cache directory that cannot be written just means the slow path next time too). The tables are
serialised before ``bashlex.parser`` patches ``yaccparser.action`` after ``yacc()`` returns, so the
patch is applied on top of the cached tables exactly as on top of freshly built ones.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace

_FORMAT = 1
_lock = threading.Lock()
_parse: Callable[[str], object] | None = None
origin = ""  # how bashlex was loaded: "cache", "built", "preloaded" or "fallback" (for tests)


def parse(text: str) -> list[object]:
    """bashlex.parse(text): the list of parse trees. Raises whatever bashlex raises."""
    fn = _parse or _load()
    trees = fn(text)
    return list(trees) if isinstance(trees, list) else []


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "corral"


def _load() -> Callable[[str], object]:
    global _parse, origin
    with _lock:
        if _parse is None:
            if "bashlex.parser" in sys.modules:
                origin = "preloaded"
                module = sys.modules["bashlex.parser"]
            else:
                try:
                    module = _import_with_cache()
                except Exception:
                    for name in [m for m in sys.modules if m == "bashlex" or m.startswith("bashlex.")]:
                        del sys.modules[name]
                    origin = "fallback"
                    module = importlib.import_module("bashlex.parser")
            fn = getattr(module, "parse", None)
            if not callable(fn):
                raise ImportError("bashlex.parser has no parse()")
            _guard_expansion()
            _parse = fn
        return _parse


def _guard_expansion() -> None:
    """bashlex loops forever, appending to a list until memory runs out, on a word holding ``${`` with no
    closing ``}`` (its parameter expansion then answers a position before the one it was given, and the
    word scan starts over). A command a model wrote must never hang or exhaust the policy engine: the
    expansion is wrapped so that a position that does not move forward is a parse error (the command is
    then opaque, which asks)."""
    subst = sys.modules.get("bashlex.subst")
    real = getattr(subst, "_paramexpand", None)
    if subst is None or real is None or getattr(real, "corral_guarded", False):
        return
    errors = sys.modules.get("bashlex.errors")
    failure = getattr(errors, "ParsingError", None)

    def guarded(parserobj: object, string: str, sindex: int) -> object:
        result = real(parserobj, string, sindex)
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], int) and result[1] <= sindex:
            message = f"bad substitution: no closing '}}' in {string!r}"
            if failure is not None:
                raise failure(message, string, sindex)
            raise ValueError(message)
        return result

    guarded.corral_guarded = True  # type: ignore[attr-defined]
    setattr(subst, "_paramexpand", guarded)  # noqa: B010 - an untyped module


def _import_with_cache() -> ModuleType:
    global origin
    spec = importlib.util.find_spec("bashlex")
    if spec is None or spec.loader is None or not spec.origin:
        raise ImportError("bashlex is not installed")
    pkgdir = Path(spec.origin).parent
    key = _cache_key(pkgdir)
    package = importlib.util.module_from_spec(spec)
    sys.modules["bashlex"] = package  # bashlex.yacc can now be imported without running __init__
    yacc = importlib.import_module("bashlex.yacc")
    real = getattr(yacc, "yacc")  # noqa: B009 - untyped module
    path = cache_dir() / f"bashlex-tables-{key}.json"

    def fast_yacc(*args: object, **kwargs: object) -> object:
        global origin
        pdict = yacc.get_caller_module_dict(2)
        tables = _read(path)
        if tables is not None:
            try:
                parser = _build(yacc, tables, pdict)
                origin = "cache"
                return parser
            except Exception:  # a damaged cache entry: rebuild it below
                pass
        parser = real(*args, module=SimpleNamespace(**pdict), **kwargs)
        _write(path, _tables(parser))
        origin = "built"
        return parser

    setattr(yacc, "yacc", fast_yacc)  # noqa: B010 - untyped module
    try:
        spec.loader.exec_module(package)
    finally:
        setattr(yacc, "yacc", real)  # noqa: B010
    return importlib.import_module("bashlex.parser")


def _cache_key(pkgdir: Path) -> str:
    """bashlex's version, a checksum of the files that define the grammar and the table generator,
    and the Python version (zlib's CRC: hashlib would load OpenSSL, which costs more than the rest)."""
    import zlib

    versions = sorted(p.name for p in pkgdir.parent.glob("bashlex-*.dist-info"))
    crc = zlib.crc32(repr((_FORMAT, versions, sys.implementation.name, sys.version_info[:3])).encode())
    for name in ("parser.py", "yacc.py", "tokenizer.py"):
        data = (pkgdir / name).read_bytes()
        crc = zlib.crc32(data, zlib.crc32(str(len(data)).encode(), crc))
    return f"{crc:08x}"


def _tables(parser: object) -> dict[str, object]:
    action = getattr(parser, "action", {})
    goto = getattr(parser, "goto", {})
    prods = getattr(parser, "productions", ())
    return {
        "format": _FORMAT,
        "action": [[state, dict(row)] for state, row in action.items()],
        "goto": [[state, dict(row)] for state, row in goto.items()],
        "productions": [[p.name, list(p.prod), p.func] for p in prods],
    }


def _build(yacc: ModuleType, tables: dict[str, object], pdict: dict[str, object]) -> object:
    if tables.get("format") != _FORMAT:
        raise ValueError("unknown table format")
    productions = []
    for number, entry in enumerate(_rows(tables.get("productions"))):
        name, syms, func = entry
        if not (isinstance(name, str) and isinstance(syms, list) and all(isinstance(x, str) for x in syms)):
            raise ValueError("bad production")
        if func is not None and not (isinstance(func, str) and callable(pdict.get(func))):
            raise ValueError("bad production function")
        prod = yacc.Production(number, name, syms, func=func)
        prod.bind(pdict)
        productions.append(prod)
    lrtab = SimpleNamespace(lr_productions=productions, lr_action=_table(tables.get("action")),
                            lr_goto=_table(tables.get("goto")))
    parser = yacc.LRParser(lrtab, pdict.get("p_error"))
    setattr(yacc, "parse", parser.parse)  # noqa: B010 - what yacc.yacc() does
    return parser


def _rows(value: object) -> list[list[object]]:
    if not isinstance(value, list) or not all(isinstance(r, list) and len(r) in (2, 3) for r in value):
        raise ValueError("bad table")
    return value


def _table(value: object) -> dict[int, dict[str, int]]:
    """A state table from JSON rows ``[state, {symbol: action}]`` (checked for shape, not per entry:
    a wrong entry makes bashlex fail on use, which the analysis reports as opaque)."""
    out: dict[int, dict[str, int]] = {}
    for state, row in _rows(value):
        if not isinstance(state, int) or not isinstance(row, dict):
            raise TypeError("bad table row")
        out[state] = row
    return out


def _read(path: Path) -> dict[str, object] | None:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, tables: dict[str, object]) -> None:
    import json
    import tempfile

    tmp = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".bashlex-", suffix=".tmp",
                                         delete=False, encoding="utf-8") as f:
            tmp = f.name
            json.dump(tables, f, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass
