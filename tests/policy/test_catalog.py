"""The command catalog: the built-in file loads, lookups work, and malformed files fail clearly."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from policy._catalog import Catalog, CatalogError, default_catalog_path, load_catalog
from policy._commands import classify
from policy._errors import PolicyError
from policy._types import Kind, SimpleCommand, Word


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "commands.toml"
    path.write_text(textwrap.dedent(body))
    return path


MINIMAL = """
version = 1
[commands.ls]
kind = "read"
"""


def test_default_location_is_the_repository_policies_dir() -> None:
    path = default_catalog_path()
    assert path.name == "commands.toml"
    assert path.parent.name == "policies"
    assert path.is_file()


def test_builtin_catalog_loads_and_is_cached(catalog: Catalog) -> None:
    assert load_catalog() is catalog
    assert load_catalog(default_catalog_path()) is catalog
    assert catalog.max_shell_depth >= 1
    assert "/dev/null" in catalog.neutral_devices


def test_reloads_when_the_file_changes(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL)
    first = load_catalog(path)
    assert load_catalog(path) is first
    path.write_text(MINIMAL + '[commands.cat]\nkind = "read"\n')
    os.utime(path, ns=(1, 1))
    second = load_catalog(path)
    assert second is not first
    assert second.lookup("cat") is not None


@pytest.mark.parametrize(
    ("program", "found"),
    [
        ("git", "git"), ("egrep", "grep"), ("python3.12", "python"), ("mkfs.ext4", "mkfs"),
        ("/usr/bin/git", "git"), ("/bin/rm", "rm"), ("./gradlew", "ctest"), ("gawk", "awk"),
    ],
)
def test_lookup_by_name_alias_pattern_and_trusted_path(catalog: Catalog, program: str, found: str) -> None:
    spec = catalog.lookup(program)
    assert spec is not None
    assert spec is catalog.commands[found]


@pytest.mark.parametrize("program", ["./rm", "bin/git", "/tmp/ls", "~/bin/cat", "make-it-so", ""])
def test_untrusted_paths_and_unknown_names_are_not_found(catalog: Catalog, program: str) -> None:
    assert catalog.lookup(program) is None


def test_env_rules(catalog: Catalog) -> None:
    rule = catalog.env_rule("LD_PRELOAD")
    assert rule is not None and rule.kind is Kind.PRIVILEGE
    pager = catalog.env_rule("GIT_PAGER")
    assert pager is not None and "cat" in pager.safe_values
    assert catalog.env_rule("GIT_AUTHOR_NAME") is None
    assert catalog.env_rule("PYTHONUNBUFFERED") is None
    assert catalog.env_rule("PYTHONPATH") is not None
    assert catalog.env_rule("FOO") is None


@pytest.mark.parametrize(
    ("program", "never"),
    [("python", True), ("bash", True), ("sudo", True), ("rm", True), ("env", True), ("xargs", True),
     ("find", True), ("unknown-thing", True), ("git", False), ("cargo", False), ("ls", False)],
)
def test_never_broaden(catalog: Catalog, program: str, never: bool) -> None:
    assert catalog.never_broaden(program) is never


def test_every_entry_classifies_without_error(catalog: Catalog) -> None:
    """Smoke test: every program in the catalog, with a few argument shapes, classifies cleanly."""
    shapes: list[tuple[Word, ...]] = [
        (),
        (Word("--help", "--help", True),),
        (Word("-x", "-x", True), Word("$y", "$y", False), Word("f", "f", True)),
        (Word("sub", "sub", True), Word("--", "--", True), Word("*.c", "*.c", False, glob=True)),
    ]
    for name in catalog.commands:
        for shape in shapes:
            argv = (Word(name, name, True), *shape)
            facts = classify(SimpleCommand(argv=argv), catalog)
            assert facts and facts[0].layers[0][0] == name


# ---------------------------------------------------------------------------------------------
# Malformed catalogs.


def _error(tmp_path: Path, body: str) -> CatalogError:
    path = _write(tmp_path, body)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, PolicyError)
    return info.value


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read the command catalog"):
        load_catalog(tmp_path / "nope.toml")


def test_invalid_toml(tmp_path: Path) -> None:
    err = _error(tmp_path, "version = 1\n[commands.ls\nkind = 'read'\n")
    assert "not valid TOML" in str(err)


def test_wrong_version(tmp_path: Path) -> None:
    err = _error(tmp_path, 'version = 2\n[commands.ls]\nkind = "read"\n')
    assert err.entry == "version"


@pytest.mark.parametrize(
    ("body", "entry", "text"),
    [
        ('[commands.ls]\nkind = "reed"\n', "commands.ls.kind", "'reed' is not one of"),
        ('[commands.ls]\nkinds = "read"\n', "commands.ls", "unknown key 'kinds'"),
        ('[commands.ls]\nreason = "x"\n', "commands.ls", "needs a kind"),
        ('[commands.ls]\nkind = "read"\noption = [{ names = ["-o"], value = "wrte" }]\n',
         "commands.ls.option[0].value", "unknown role 'wrte'"),
        ('[commands.ls]\nkind = "read"\noption = [{ names = ["o"] }]\n',
         "commands.ls.option[0]", "must start with '-'"),
        ('[commands.ls]\nkind = "read"\noption = [{ names = ["-o"], optional = true }]\n',
         "commands.ls.option[0].optional", "exactly one value"),
        ('[commands.ls]\nkind = "read"\noption = [{ names = ["-o"] }, { names = ["-o"] }]\n',
         "commands.ls.option[1]", "defined twice"),
        ('[commands.ls]\nkind = "read"\nargs = ["command", "file"]\n', "commands.ls.args", "must come last"),
        ('[commands.ls]\nkind = "read"\nargs = ["file...", "data..."]\n', "commands.ls.args",
         "only one role"),
        ('[commands.ls]\nsame_as = "cat"\n', "commands.ls", "not an entry"),
        ('[commands.ls]\nsame_as = "dir"\n[commands.dir]\nsame_as = "ls"\n', "commands.", "cycle"),
        ('[commands.ls]\nsame_as = "cat"\nkind = "read"\n[commands.cat]\nkind = "read"\n',
         "commands.ls", "cannot be combined"),
        ('[commands.git]\nkind = "read"\nargs = ["sub"]\ndefault_sub = "push"\n'
         '[commands.git.sub.pull]\nkind = "network"\n', "commands.git.default_sub", "not a subcommand"),
        ('[commands.git]\nkind = "read"\nargs = ["sub"]\n', "commands.git", "'sub' role"),
        ('[commands.ls]\nkind = "read"\naliases = ["cat"]\n[commands.cat]\nkind = "read"\n',
         "commands.ls.aliases", "already an entry"),
        ('[commands.ls]\nkind = "read"\nword = [{ match = ["x"], kind = "write", option = "-o" }]\n',
         "commands.ls.word[0]", "not an option"),
        ('[commands.ls]\nkind = "read"\ninclude = ["nope"]\n', "commands.ls.include", "no option set"),
        ('[commands.ls]\nkind = "read"\nunknown_sub = "maybe"\n', "commands.ls.unknown_sub", "must be"),
        ('[[env]]\nnames = ["X"]\n[commands.ls]\nkind = "read"\n', "env[0].reason", "required"),
        ('[settings]\nmax_shell_depth = 99\n[commands.ls]\nkind = "read"\n', "settings.max_shell_depth",
         "from 0"),
    ],
)
def test_malformed_entries_name_the_entry(tmp_path: Path, body: str, entry: str, text: str) -> None:
    err = _error(tmp_path, "version = 1\n" + body)
    assert err.entry is not None and err.entry.startswith(entry), err
    assert text in str(err)
    assert f"(entry {err.entry})" in str(err)


def test_missing_commands_table(tmp_path: Path) -> None:
    err = _error(tmp_path, "version = 1\n")
    assert err.entry == "commands"
