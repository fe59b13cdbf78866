"""policy._bashlex_fast: bashlex loaded from cached JSON tables parses exactly like bashlex itself.

Each case runs in a fresh interpreter (the point is what happens at import), with its own cache
directory; the module is loaded from its file so the probe does not depend on the rest of policy/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import policy._bashlex_fast as fast

SCRIPTS = [
    "ls -la",
    "cd src && make -j4 | tee log; echo done &",
    "for f in *.py; do echo \"$f\" > out; done",
    "while read l; do wc -l $l; done < files",
    "if true; then a; elif b; then c; else d; fi",
    "f() { local x=1; echo ${x:-$(id)}; } 2>/dev/null",
    "x=$(cat <<EOF\nbody\nEOF\n)\necho \"$x\" `date` <(sort a) >(wc)",
    "( cd /tmp; ls ) && { pwd; } || ! false",
    "cat <<- EOF | grep x\n\tline\n\tEOF\nls",
    "echo a'b'\"c\" \\d ~/x ~user {a,b} 2>&1 &>f >|g <>h <<<w",
]

_PROBE = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("corral_bashlex_fast", sys.argv[1])
fast = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fast)
if sys.argv[2] == "plain":
    import bashlex.parser
    parse, origin = bashlex.parser.parse, "plain"
else:
    parse, origin = fast.parse, None
dumps = [[t.dump() for t in parse(s)] for s in json.loads(sys.argv[3])]
import bashlex.parser as bp
p = bp.yaccparser
tables = [sorted((k, sorted(v.items())) for k, v in t.items()) for t in (p.action, p.goto)]
prods = [(p.name, p.len, p.func) for p in bp.yaccparser.productions]
print(json.dumps({"origin": origin or fast.origin, "dumps": dumps, "tables": repr((tables, prods))}))
"""


def _probe(cache: Path, mode: str = "fast") -> dict[str, object]:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    out = subprocess.run([sys.executable, "-c", _PROBE, fast.__file__, mode, json.dumps(SCRIPTS)],
                         env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert isinstance(result, dict)
    return result


def test_cold_then_warm_cache_gives_identical_parser(tmp_path: Path) -> None:
    plain = _probe(tmp_path / "unused", "plain")
    cold = _probe(tmp_path)
    files = list((tmp_path / "corral").glob("bashlex-tables-*.json"))
    warm = _probe(tmp_path)
    assert (cold["origin"], warm["origin"]) == ("built", "cache")
    assert len(files) == 1
    assert json.loads(files[0].read_text())["format"] == 1  # JSON, never pickle
    assert cold["dumps"] == warm["dumps"] == plain["dumps"]
    assert cold["tables"] == warm["tables"] == plain["tables"]


def test_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    _probe(tmp_path)
    (entry,) = (tmp_path / "corral").glob("bashlex-tables-*.json")
    for damage in ("{not json", '{"format": 1, "action": 3}', '{"format": 1, "action": [], "goto": [], '
                   '"productions": [["x", ["y"], "no_such_function"]]}'):
        entry.write_text(damage)
        again = _probe(tmp_path)
        assert again["origin"] == "built"
        assert again["dumps"] == _probe(tmp_path)["dumps"]


def test_unwritable_cache_dir_means_the_slow_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    first, second = _probe(blocker), _probe(blocker)
    assert first["origin"] == second["origin"] == "built"
    assert first["dumps"] == _probe(tmp_path / "ok", "plain")["dumps"]
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))
