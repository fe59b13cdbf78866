"""grep, find_files and list_dir on real trees: regex, globs, context, .gitignore, binaries, protected paths, caps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from agent.tools.base import ToolContext
from tests.agent.tools.conftest import call


def _tree(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            f.write_bytes(content)
        else:
            f.write_text(content)


@pytest.fixture
def tree(project: Path) -> Path:
    _tree(
        project,
        {
            ".gitignore": "build/\n*.log\n!keep.log\n",
            "src/app.py": "import os\n\ndef main():\n    return os.getcwd()\n",
            "src/util.py": "def helper():\n    return 'HELPER'\n",
            "src/web/index.ts": "export const main = () => 1;\n",
            "src/web/.gitignore": "generated.ts\n",
            "src/web/generated.ts": "export const main = 2;\n",
            "build/out.py": "def main(): pass\n",
            "debug.log": "main failed\n",
            "keep.log": "main kept\n",
            "node_modules/lib/index.js": "function main() {}\n",
            ".venv/lib/site.py": "def main(): pass\n",
            ".git/HEAD": "ref: main\n",
            "data.bin": b"main\0\1\2binary",
            ".env": "API_KEY=main-secret\n",
            "README.md": "# Project\nRun main.\n",
        },
    )
    return project


@pytest.fixture
def pctx(tree: Path, tmp_path: Path) -> ToolContext:
    return ToolContext(project_root=tree, cwd=tree, home=tmp_path, protected=lambda p: p.name == ".env")


async def test_grep_regex_honours_gitignore_binary_and_protected(pctx: ToolContext) -> None:
    result = await call("grep", {"pattern": r"\bmain\b"}, pctx)
    assert not result.is_error
    lines = result.content.splitlines()
    files = {ln.split(":")[0] for ln in lines}
    assert files == {"README.md", "keep.log", "src/app.py", "src/web/index.ts"}
    assert "src/app.py:3:def main():" in lines
    assert "main-secret" not in result.content and "data.bin" not in result.content
    assert result.meta["matches"] == 4


async def test_grep_protected_file_is_never_opened(tree: Path, tmp_path: Path) -> None:
    seen: list[Path] = []

    def protected(p: Path) -> bool:
        seen.append(p)
        return p.name == ".env"

    ctx = ToolContext(project_root=tree, cwd=tree, home=tmp_path, protected=protected)
    result = await call("grep", {"pattern": "API_KEY"}, ctx)
    assert "No matches" in result.content and "(8 files searched)" in result.content  # .env not among them
    assert tree / ".env" in seen
    direct = await call("grep", {"pattern": "API_KEY", "path": ".env"}, ctx)
    assert direct.is_error and "protected" in direct.content


async def test_grep_glob_ignore_case_and_path(pctx: ToolContext) -> None:
    result = await call("grep", {"pattern": "helper", "glob": "*.py", "ignore_case": True}, pctx)
    assert result.content.splitlines() == ["src/util.py:1:def helper():", "src/util.py:2:    return 'HELPER'"]
    sub = await call("grep", {"pattern": "main", "path": "src/web"}, pctx)
    assert sub.content.splitlines() == ["src/web/index.ts:1:export const main = () => 1;"]
    ts = await call("grep", {"pattern": "main", "glob": "src/**/*.{ts,js}"}, pctx)
    assert ts.content.splitlines() == ["src/web/index.ts:1:export const main = () => 1;"]
    one = await call("grep", {"pattern": "getcwd", "path": "src/app.py"}, pctx)
    assert one.content == "src/app.py:4:    return os.getcwd()"


async def test_grep_explicit_ignored_dir_is_searched(pctx: ToolContext) -> None:
    result = await call("grep", {"pattern": "main", "path": "build"}, pctx)
    assert result.content == "build/out.py:1:def main(): pass"


async def test_grep_context_lines(ctx: ToolContext, project: Path) -> None:
    (project / "c.txt").write_text("".join(f"l{i}\n" for i in range(1, 21)))
    result = await call("grep", {"pattern": "^l(5|6|15)$", "context": 1}, ctx)
    assert result.content.splitlines() == [
        "c.txt-4-l4",
        "c.txt:5:l5",
        "c.txt:6:l6",
        "c.txt-7-l7",
        "--",
        "c.txt-14-l14",
        "c.txt:15:l15",
        "c.txt-16-l16",
    ]


async def test_grep_truthful_count_when_truncated(ctx: ToolContext, project: Path) -> None:
    for n in range(5):
        (project / f"f{n}.txt").write_text("hit\n" * 30)
    result = await call("grep", {"pattern": "hit", "max_results": 40}, ctx)
    lines = result.content.splitlines()
    assert sum(1 for ln in lines if ":hit" in ln) == 40
    assert "110 more matches not shown (150 matching lines in 5 files)" in lines[-1]
    assert result.meta == {"matches": 150, "shown": 40, "files": 5}


async def test_grep_big_files_skipped_with_a_note(ctx: ToolContext, project: Path) -> None:
    (project / "big.txt").write_bytes(b"needle\n" + b"x" * (6 * 1024 * 1024))
    (project / "small.txt").write_text("needle\n")
    result = await call("grep", {"pattern": "needle"}, ctx)
    assert "small.txt:1:needle" in result.content
    assert "skipped 1 files over 5 MB: big.txt" in result.content


async def test_grep_crlf_and_anchors(ctx: ToolContext, project: Path) -> None:
    (project / "w.txt").write_bytes(b"alpha\r\nbeta\r\n")
    result = await call("grep", {"pattern": "^beta$"}, ctx)
    assert result.content == "w.txt:2:beta"


async def test_grep_bad_regex(ctx: ToolContext) -> None:
    result = await call("grep", {"pattern": "foo("}, ctx)
    assert result.is_error and "invalid regular expression" in result.content


async def test_grep_outside_cwd_shows_absolute_paths(ctx: ToolContext, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "o.txt").write_text("zzz\n")
    result = await call("grep", {"pattern": "zzz", "path": str(other)}, ctx)
    assert result.content == f"{other}/o.txt:1:zzz"


async def test_find_files(pctx: ToolContext) -> None:
    result = await call("find_files", {"pattern": "**/*.py"}, pctx)
    assert result.content.splitlines() == ["src/app.py", "src/util.py"]
    names = await call("find_files", {"pattern": "*.{ts,log}"}, pctx)
    assert names.content.splitlines() == ["keep.log", "src/web/index.ts"]
    under = await call("find_files", {"pattern": "*", "path": "src"}, pctx)
    assert under.content.splitlines() == ["src/app.py", "src/util.py", "src/web/.gitignore", "src/web/index.ts"]
    hidden = await call("find_files", {"pattern": ".env*"}, pctx)
    assert "No files matching" in hidden.content
    none = await call("find_files", {"pattern": "*.rs"}, pctx)
    assert not none.is_error and "No files matching" in none.content


async def test_find_files_cap(ctx: ToolContext, project: Path) -> None:
    for n in range(520):
        (project / f"f{n:04}.txt").write_text("")
    result = await call("find_files", {"pattern": "*.txt"}, ctx)
    lines = result.content.splitlines()
    assert lines[0] == "f0000.txt" and lines[499] == "f0499.txt"
    assert lines[500].startswith("[20 more files not shown (520 in all)")


async def test_list_dir_depth_and_ignores(pctx: ToolContext) -> None:
    result = await call("list_dir", {}, pctx)
    assert result.content.splitlines() == [
        "./",
        "  .gitignore",
        "  README.md",
        "  data.bin",
        "  keep.log",
        "  src/",
        "    app.py",
        "    util.py",
        "    web/",
    ]
    deep = await call("list_dir", {"path": "src", "depth": 3}, pctx)
    assert deep.content.splitlines()[-2:] == ["    .gitignore", "    index.ts"]
    shallow = await call("list_dir", {"depth": 1}, pctx)
    assert "    app.py" not in shallow.content and "  src/" in shallow.content


async def test_list_dir_cap_errors_and_symlinks(ctx: ToolContext, project: Path) -> None:
    for n in range(410):
        (project / f"e{n:03}").write_text("")
    os.symlink("e000", project / "zlink")
    result = await call("list_dir", {"depth": 1}, ctx)
    lines = result.content.splitlines()
    assert len(lines) == 402 and lines[-1].startswith("[11 more entries not shown (411 in all)")
    file = await call("list_dir", {"path": "e000"}, ctx)
    assert file.is_error and "use read" in file.content
    missing = await call("list_dir", {"path": "nope"}, ctx)
    assert missing.is_error and "does not exist" in missing.content
    (project / "sub").mkdir()
    os.symlink("../e001", project / "sub" / "ln")
    sub = await call("list_dir", {"path": "sub"}, ctx)
    assert sub.content.splitlines() == ["sub/", "  ln -> ../e001"]


async def test_protected_directory_is_hidden_and_refused(project: Path, tmp_path: Path) -> None:
    _tree(project, {"secrets/key.pem": "KEY\n", "ok.txt": "KEY\n"})
    ctx = ToolContext(project_root=project, cwd=project, home=tmp_path, protected=lambda p: p.name == "secrets")
    listing = await call("list_dir", {}, ctx)
    assert "secrets" not in listing.content and "ok.txt" in listing.content
    found = await call("grep", {"pattern": "KEY"}, ctx)
    assert found.content == "ok.txt:1:KEY"
    refused = await call("find_files", {"pattern": "*", "path": "secrets"}, ctx)
    assert refused.is_error and "protected" in refused.content


async def test_symlink_to_protected_file_is_skipped(project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY\n")
    os.symlink(secret, project / "innocent.txt")
    ctx = ToolContext(project_root=project, cwd=project, home=tmp_path, protected=lambda p: p.name == "id_rsa")
    result = await call("grep", {"pattern": "PRIVATE"}, ctx)
    assert "No matches" in result.content
    assert "innocent" not in (await call("find_files", {"pattern": "*"}, ctx)).content


async def test_grep_cancellation_propagates(ctx: ToolContext, project: Path) -> None:
    for n in range(200):
        (project / f"f{n}.txt").write_text("x\n" * 1000)
    with trio.move_on_after(0) as scope:
        await call("grep", {"pattern": "x"}, ctx)
    assert scope.cancelled_caught


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("*.py", "a/b/c.py", True),
        ("*.py", "a/b/c.pyc", False),
        ("**/*.py", "c.py", True),
        ("**/*.py", "a/b/c.py", True),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/x/a.py", False),
        ("src/**", "src/x/a.py", True),
        ("./src/**/test_*.py", "src/t/test_a.py", True),
        ("*.{js,ts}", "x/y.ts", True),
        ("*.{js,ts}", "x/y.rs", False),
        ("{a,b/{c,d}}.txt", "b/d.txt", True),
        ("[!a]*.md", "README.md", True),
        ("[!a]*.md", "about.md", False),
        ("file?.txt", "file1.txt", True),
        ("file?.txt", "file10.txt", False),
        ("a+b(c).txt", "a+b(c).txt", True),
        ("{unclosed", "{unclosed", True),
    ],
)
def test_glob_matching(pattern: str, path: str, hit: bool) -> None:
    from agent.tools._walk import compile_glob

    assert compile_glob(pattern)(path) is hit
