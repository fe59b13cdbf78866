"""The search tools and symbolic links that lead out of the project: grep must not read through them
(a `read` of the same file would be judged, and ask), but says it skipped them; links that stay inside
the project, and a search root given explicitly, are searched as before. find_files and list_dir never
open files and do not follow links, so they keep listing the link itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.tools.base import ToolContext
from tests.agent.tools.conftest import call


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    other = tmp_path / "outside"
    (other / "dir").mkdir(parents=True)
    (other / "passwd").write_text("root:SECRET\n")
    (other / "dir" / "inner.txt").write_text("SECRET in a directory\n")
    return other


@pytest.fixture
def linked(project: Path, outside: Path) -> Path:
    (project / "da").mkdir()
    os.symlink(outside / "passwd", project / "da" / "x")
    os.symlink(outside / "dir", project / "linkdir")
    (project / "real.txt").write_text("SECRET kept inside\n")
    os.symlink("real.txt", project / "inside_link.txt")
    return project


async def test_grep_skips_links_leading_out_with_a_note(ctx: ToolContext, linked: Path) -> None:
    result = await call("grep", {"pattern": "SECRET"}, ctx)
    assert "root:SECRET" not in result.content
    assert "in a directory" not in result.content
    assert "real.txt:1:SECRET kept inside" in result.content
    assert "inside_link.txt:1:SECRET kept inside" in result.content
    assert (
        "[2 files behind symbolic links that lead out of the project were skipped; read them by name: "
        "da/x, linkdir]" in result.content
    )
    assert result.meta["escaped"] == 2


async def test_grep_note_respects_glob_and_no_match_message(ctx: ToolContext, linked: Path) -> None:
    result = await call("grep", {"pattern": "SECRET", "path": "da"}, ctx)
    assert result.content.startswith("No matches")
    assert "read them by name: da/x]" in result.content
    filtered = await call("grep", {"pattern": "SECRET", "glob": "*.txt"}, ctx)
    assert "skipped" not in filtered.content


async def test_grep_on_the_link_given_explicitly_reads_it(ctx: ToolContext, linked: Path, outside: Path) -> None:
    # The path was named, so the policy judged it before the tool ran (a read outside the project).
    result = await call("grep", {"pattern": "SECRET", "path": "da/x"}, ctx)
    assert "root:SECRET" in result.content
    in_dir = await call("grep", {"pattern": "SECRET", "path": "linkdir"}, ctx)
    assert "inner.txt:1:SECRET in a directory" in in_dir.content


async def test_find_files_and_list_dir_still_list_the_links(ctx: ToolContext, linked: Path) -> None:
    found = await call("find_files", {"pattern": "*"}, ctx)
    assert "da/x" in found.content.splitlines()
    assert "inner.txt" not in found.content  # the linked directory is not followed
    listing = await call("list_dir", {}, ctx)
    assert "x -> " in listing.content and "inner.txt" not in listing.content
