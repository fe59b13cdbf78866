"""The startup cache (policy/_cache.py, policy/_rulecache.py, the catalog's cache): a rule file verified
once loads from the cache with the same result, a broken one fails every time, edits and code changes
invalidate, damaged entries and unwritable directories are harmless, and a warm start judges a read
without importing bashlex, tomllib or pathspec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import policy
from policy import Decision, Mode, Request, RuleFileError, _cache, _catalog, _rulecache
from policy._catalog import CatalogError
from policy._matchers import MatcherError, PathsMatcher, RegexMatcher
from policy._rules import RuleFile, parse_rule_bytes

REPO = Path(__file__).resolve().parents[2]

USER = textwrap.dedent("""
    disable = ["default-ask-git-push"]

    [doom_loop]
    action = "ask"
    threshold = 4

    [[rule]]
    id = "ask-deploy"
    tool = "bash"
    decision = "ask"
    reason = "deploys"
    prefix = ["make", "deploy"]
    match = ["make deploy", "sudo make deploy prod"]
    not_match = ["make test"]

    [[rule]]
    id = "deny-example-org"
    tool = "web_fetch"
    decision = "deny"
    regex = '^https://example\\.org/'
    modes = ["standard", "guarded"]
    match = ["https://example.org/x"]
    not_match = ["https://example.com/"]

    [[rule]]
    id = "deny-secrets-dir"
    tool = "@path"
    decision = "deny"
    paths = ["secrets/", "/srv/**/*.pem", "~/.vault/", "!secrets/README.md"]
    match = ["secrets/a", "/srv/x/y.pem", "~/.vault/k"]
    not_match = ["secrets/README.md", "src/a.py"]
""")

BAD_EXAMPLE = USER.replace('not_match = ["make test"]', 'not_match = ["make deploy now"]')
BAD_REGEX = USER.replace("regex = '^https://example\\.org/'", "regex = '^https://(example'")


class Setup:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path / "home" / "proj"
        self.home = tmp_path / "home"
        (self.root / "secrets").mkdir(parents=True)
        (self.root / "README.md").write_text("hi\n")
        self.user = tmp_path / "user.toml"
        self.cache = tmp_path / "cache"
        self.parsed: list[str] = []
        monkeypatch.setattr(_cache, "cache_dir", lambda: str(self.cache))
        real = parse_rule_bytes

        def counting(data: bytes, **kw: object) -> RuleFile:
            self.parsed.append(Path(str(kw["path"])).name)
            return real(data, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(_rulecache, "parse_rule_bytes", counting)

    def engine(self, text: str | None = None) -> policy.Engine:
        if text is not None:
            self.user.write_text(text)
        self.parsed.clear()
        return policy.load_engine(self.root, user_file=self.user, home=self.home)

    def error(self, text: str | None = None) -> RuleFileError:
        with pytest.raises(RuleFileError) as info:
            self.engine(text)
        return info.value

    def entries(self, kind: str = "rules") -> list[Path]:
        return sorted(self.cache.glob(f"{kind}-*.bin")) if self.cache.is_dir() else []


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    return Setup(tmp_path, monkeypatch)


@pytest.fixture(autouse=True)
def _fresh_catalog() -> Iterator[None]:
    _catalog._load.cache_clear()  # the catalog is also cached per process; these tests want the files
    yield


def _requests(s: Setup) -> list[Request]:
    def req(tool: str, mode: Mode = Mode.STANDARD, **args: object) -> Request:
        return Request(tool=tool, args=args, cwd=s.root, project_root=s.root, mode=mode)

    return [
        req("read", path="README.md"), req("read", path="secrets/key"), req("read", path="secrets/README.md"),
        req("write", path=str(s.home / ".vault" / "t")), req("read", path="/srv/a/b.pem"),
        req("read", path=str(s.home / ".ssh" / "id_rsa")), req("read", path=".env"),
        req("web_fetch", url="https://example.org/a"), req("web_fetch", Mode.YOLO, url="https://example.org/a"),
        req("bash", command="make deploy prod"), req("bash", command="git push"), req("bash", command="ls -la"),
        req("bash", command="cat secrets/x > /tmp/y"), req("bash", command="rm -rf /"),
    ]


def _verdicts(engine: policy.Engine, s: Setup) -> list[tuple[Decision, str, str | None]]:
    return [(v.decision, v.reason, v.rule) for v in map(engine.evaluate, _requests(s))]


def _path_parts(engine: policy.Engine) -> list[object]:
    return [r.matcher.parts for r in engine.rules.rules if isinstance(r.matcher, PathsMatcher)]


# ---------------------------------------------------------------------------------------------
# same result, from the cache


def test_a_cached_load_equals_a_fresh_one(setup: Setup) -> None:
    cold = setup.engine(USER)
    assert setup.parsed == ["defaults.toml", "protected.toml", "user.toml"]
    assert len(setup.entries()) == 3 and len(setup.entries("catalog")) == 1
    warm = setup.engine()
    assert setup.parsed == []  # every file came from the cache
    assert warm.rules == cold.rules
    assert _path_parts(warm) == _path_parts(cold)
    assert warm.rules.doom_loop == cold.rules.doom_loop and warm.rules.disabled == ("default-ask-git-push",)
    assert _verdicts(warm, setup) == _verdicts(cold, setup)


def test_an_untrusted_project_file_keeps_its_warnings(setup: Setup) -> None:
    (setup.root / ".corral").mkdir()
    (setup.root / ".corral" / "policy.toml").write_text(USER)
    setup.user.write_text("")
    runs = [policy.load_engine(setup.root, user_file=setup.user, home=setup.home) for _ in range(2)]
    assert runs[0].warnings == runs[1].warnings and len(runs[0].warnings) == 2  # disable, doom_loop
    trusted = policy.load_engine(setup.root, user_file=setup.user, home=setup.home, trusted=True)
    assert trusted.warnings == () and trusted.rules.disabled == ("default-ask-git-push",)


# ---------------------------------------------------------------------------------------------
# failures are never cached


def test_a_failing_example_fails_on_every_load(setup: Setup) -> None:
    for _ in range(3):
        err = setup.error(BAD_EXAMPLE)
        assert (err.path, err.rule) == (str(setup.user), "ask-deploy")
        assert "is listed under not_match but matches" in str(err)
    assert len(setup.entries()) == 2  # the built-in files only


def test_a_malformed_regex_is_reported_on_every_load(setup: Setup) -> None:
    setup.engine(USER)  # a warm cache for the built-in files and a good version of this one
    for _ in range(3):
        err = setup.error(BAD_REGEX)
        line = BAD_REGEX.splitlines().index("regex = '^https://(example'") + 1
        assert (err.path, err.rule, err.line) == (str(setup.user), "deny-example-org", line)
        assert "invalid regex '^https://(example'" in str(err)


def test_a_broken_catalog_fails_every_load(setup: Setup, tmp_path: Path) -> None:
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    (builtin / "commands.toml").write_text("version = 1\n[commands.ls]\nkind = 'nonsense'\n")
    for _ in range(2):
        with pytest.raises(CatalogError):
            policy.load_engine(setup.root, user_file=setup.user, home=setup.home, builtin_dir=builtin)
    assert setup.entries("catalog") == []


# ---------------------------------------------------------------------------------------------
# invalidation


def test_editing_a_file_invalidates_its_entry(setup: Setup) -> None:
    setup.engine(USER)
    setup.engine()
    assert setup.parsed == []
    # the same size and times, other bytes: still a different entry (entries are keyed by content)
    st = setup.user.stat()
    setup.user.write_text(USER.replace('"deploys"', '"deploy!"'))
    os.utime(setup.user, ns=(st.st_atime_ns, st.st_mtime_ns))
    engine = setup.engine()
    assert setup.parsed == ["user.toml"]
    rule = engine.rules.get("ask-deploy")
    assert rule is not None and rule.reason == "deploy!"
    assert len(setup.entries()) == 3  # the old version's entry was replaced
    setup.error(BAD_EXAMPLE)
    setup.engine(USER.replace('"deploys"', '"deploy!"'))
    assert setup.parsed == []


def test_changed_code_invalidates_every_entry(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    setup.engine(USER)
    monkeypatch.setattr(_cache, "_fingerprint", "other code")
    setup.engine()
    assert setup.parsed == ["defaults.toml", "protected.toml", "user.toml"]
    setup.engine()
    assert setup.parsed == []


def test_a_changed_catalog_verifies_the_rule_files_again(setup: Setup, tmp_path: Path) -> None:
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    catalog = (REPO / "policies" / "commands.toml").read_text()
    (builtin / "commands.toml").write_text(catalog)
    setup.user.write_text(USER.replace('disable = ["default-ask-git-push"]', ""))  # no built-in rules here

    def load() -> policy.Engine:
        setup.parsed.clear()
        return policy.load_engine(setup.root, user_file=setup.user, home=setup.home, builtin_dir=builtin)

    load()
    load()
    assert setup.parsed == []
    (builtin / "commands.toml").write_text(catalog + "\n# edited\n")
    load()
    assert setup.parsed == ["user.toml"]


# ---------------------------------------------------------------------------------------------
# damaged entries, unwritable directories


def _damage(entry: Path, how: str) -> None:
    blob = entry.read_bytes()
    if how == "garbage":
        entry.write_bytes(os.urandom(len(blob)))
    elif how == "truncated":
        entry.write_bytes(blob[: len(blob) // 2])
    elif how == "flipped":
        entry.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    elif how == "empty":
        entry.write_bytes(b"")
    else:  # a well-formed entry holding the wrong shape of data
        _cache.write(entry.name, {"rules": [1, 2, 3]} if how == "shape" else (1, "x"), kind="none")


@pytest.mark.parametrize("how", ["garbage", "truncated", "flipped", "empty", "shape", "tuple"])
def test_a_damaged_entry_is_ignored_and_rewritten(setup: Setup, how: str) -> None:
    cold = setup.engine(USER)
    for entry in setup.entries() + setup.entries("catalog"):
        _damage(entry, how)
    again = setup.engine()
    assert sorted(setup.parsed) == ["defaults.toml", "protected.toml", "user.toml"]
    assert again.rules == cold.rules and _verdicts(again, setup) == _verdicts(cold, setup)
    setup.engine()
    assert setup.parsed == []  # rewritten
    for entry in setup.entries():
        _damage(entry, how)
    for _ in range(2):
        setup.error(BAD_EXAMPLE)  # a damaged entry never turns a failure into a success


def test_a_damaged_catalog_entry_falls_back_to_the_file(setup: Setup) -> None:
    setup.engine(USER)
    _catalog._load.cache_clear()
    for entry in setup.entries("catalog"):
        _damage(entry, "shape")
    engine = setup.engine()
    verdict = engine.evaluate(Request(tool="bash", args={"command": "ls -la"}, cwd=setup.root,
                                      project_root=setup.root))
    assert verdict.decision is Decision.ALLOW


@pytest.mark.parametrize("where", ["file", "missing-parent-file"])
def test_an_unwritable_cache_directory_means_verifying_every_time(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a directory cannot be created in (or as) a file, even by root
    target = blocker if where == "file" else blocker / "corral"
    monkeypatch.setattr(_cache, "cache_dir", lambda: str(target))
    reference = setup.engine(USER)
    for _ in range(2):
        engine = setup.engine(USER)
        assert setup.parsed == ["defaults.toml", "protected.toml", "user.toml"]
        assert engine.rules == reference.rules
        setup.error(BAD_EXAMPLE)
    assert blocker.read_text() == ""


def test_entries_are_pruned(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cache, "MAX_ENTRIES", 4)
    for i in range(6):
        setup.user.with_name(f"u{i}.toml").write_text(USER)
        policy.load_engine(setup.root, user_file=setup.user.with_name(f"u{i}.toml"), home=setup.home)
    assert len(setup.entries()) == 4
    assert not list(setup.cache.glob(".*.tmp"))


# ---------------------------------------------------------------------------------------------
# matchers rebuilt from the cache


def test_matchers_compile_on_first_use() -> None:
    lazy = RegexMatcher("a(b", checked=True)  # only ever built from a verified entry
    with pytest.raises(MatcherError):
        lazy.search("ab")
    with pytest.raises(MatcherError):
        RegexMatcher("a(b")
    fresh = PathsMatcher(("/**/.env", "!/**/.env.example", "~/.ssh/", "build/"))
    rebuilt = PathsMatcher(fresh.patterns, fresh.parts)
    home, root = Path("/home/u"), Path("/home/u/p")
    for path in ("/x/.env", "/x/.env.example", "/home/u/.ssh/id", "/home/u/p/build/o", "/home/u/p/src"):
        assert rebuilt.matches(Path(path), root, home) == fresh.matches(Path(path), root, home)


# ---------------------------------------------------------------------------------------------
# a warm start in a fresh process

_CHILD = """
import json, sys
from pathlib import Path
import policy
root = Path(sys.argv[1])
engine = policy.load_engine(root)
read = engine.evaluate(policy.Request(tool="read", args={"path": "README.md"}, cwd=root, project_root=root))
loaded = {m: m in sys.modules for m in ("bashlex", "tomllib", "pathspec", "policy._bash", "policy._catalog")}
bash = engine.evaluate(policy.Request(tool="bash", args={"command": "make deploy"}, cwd=root, project_root=root))
print(json.dumps({"read": read.decision.label, "loaded": loaded, "bash": [bash.decision.label, bash.rule]}))
"""


def _child(home: Path, root: Path) -> dict[str, object]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONPATH": str(REPO),
           "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(root)], env=env, cwd=str(root), capture_output=True,
                         text=True, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_a_warm_start_judges_a_read_without_bashlex(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = home / "proj"
    root.mkdir(parents=True)
    (root / "README.md").write_text("hi\n")
    (home / ".config" / "corral").mkdir(parents=True)
    (home / ".config" / "corral" / "policy.toml").write_text(USER)
    cold = _child(home, root)
    assert cold["loaded"] == {"bashlex": True, "tomllib": True, "pathspec": True, "policy._bash": True,
                              "policy._catalog": True}  # verified the examples
    assert list((home / ".cache" / "corral").glob("rules-*.bin"))
    for _ in range(2):
        warm = _child(home, root)
        assert warm["loaded"] == dict.fromkeys(("bashlex", "tomllib", "pathspec", "policy._bash",
                                                "policy._catalog"), False)
        assert warm["read"] == cold["read"] == "allow"
        assert warm["bash"] == cold["bash"] == ["ask", "ask-deploy"]  # the catalog loads when needed


def test_warm_and_cold_agree_on_every_verdict(setup: Setup) -> None:
    """Fresh engines (each file parsed) and cached ones judge the whole request list alike, in every mode."""
    results: list[list[tuple[Decision, str, str | None]]] = []
    for _ in range(2):
        engine = setup.engine(USER)
        results.append([
            (v.decision, v.reason, v.rule)
            for mode in Mode
            for r in _requests(setup)
            for v in [engine.evaluate(Request(r.tool, r.args, r.cwd, r.project_root, mode))]
        ])
    assert setup.parsed == [] and results[0] == results[1]
