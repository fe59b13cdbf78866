"""Project context files: real directory trees under tmp_path with a fake home directory.

Covers which files are read and in which order (ancestors outermost first, ARCHITECTURE.md from the
root only, the walk stopping at home or `/`), the caps (per file, total, on line and UTF-8 boundaries)
and the safety rules: symlinks leaving their directory, protected paths, non-regular and binary files,
the same file reached twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.context_files import ContextFiles, collect_context, cut_text, render, search_dirs


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def project(home: Path) -> Path:
    path = home / "src" / "app"
    path.mkdir(parents=True)
    return path


def paths(ctx: ContextFiles) -> list[Path]:
    return [f.path for f in ctx.files]


def test_ancestors_outermost_first_project_root_last(home: Path, project: Path) -> None:
    (home / "AGENTS.md").write_text("home rules\n")
    (home / "src" / "CLAUDE.md").write_text("src rules\n")
    (project / "AGENTS.md").write_text("app agents\n")
    (project / "CLAUDE.md").write_text("app claude\n")
    (project / "ARCHITECTURE.md").write_text("app map\n")
    ctx = collect_context(project, home=home)
    assert paths(ctx) == [
        home / "AGENTS.md",
        home / "src" / "CLAUDE.md",
        project / "AGENTS.md",
        project / "CLAUDE.md",
        project / "ARCHITECTURE.md",
    ]
    assert [f.text for f in ctx.files] == ["home rules\n", "src rules\n", "app agents\n", "app claude\n", "app map\n"]
    assert not any(f.truncated for f in ctx.files)
    assert ctx.notes == ()


def test_walk_stops_at_home(tmp_path: Path, home: Path, project: Path) -> None:
    (tmp_path / "AGENTS.md").write_text("above home: never read\n")
    ctx = collect_context(project, home=home)
    assert ctx.files == ()
    assert search_dirs(project, home) == [project, home / "src", home]


def test_project_outside_home_walks_to_root(tmp_path: Path, home: Path) -> None:
    outside = tmp_path / "srv" / "repo"
    outside.mkdir(parents=True)
    (tmp_path / "srv" / "AGENTS.md").write_text("server rules\n")
    dirs = search_dirs(outside, home)
    assert dirs[0] == outside and dirs[-1] == Path("/")
    assert dirs == [outside, *outside.parents]
    assert paths(collect_context(outside, home=home)) == [tmp_path / "srv" / "AGENTS.md"]


def test_architecture_only_from_the_root(home: Path, project: Path) -> None:
    (home / "src" / "ARCHITECTURE.md").write_text("parent map\n")
    (project / "ARCHITECTURE.md").write_text("root map\n")
    assert paths(collect_context(project, home=home)) == [project / "ARCHITECTURE.md"]


def test_per_file_cap_cuts_on_a_line_and_says_how_to_read_the_rest(home: Path, project: Path) -> None:
    line = "x" * 99 + "\n"
    (project / "AGENTS.md").write_text(line * 100)  # 10 000 bytes
    ctx = collect_context(project, home=home, per_file_cap=1050)
    [item] = ctx.files
    assert item.truncated and item.size == 10_000
    assert item.text == line * 10
    assert any("truncated" in n and str(project / "AGENTS.md") in n for n in ctx.notes)
    section = render(ctx)
    assert "read the rest with the read tool" in section
    assert f"path {project / 'AGENTS.md'}, offset 11" in section


def test_cut_on_a_utf8_boundary() -> None:
    data = ("é" * 10).encode("utf-8")  # 20 bytes, 2 per character, no newline
    cut = cut_text(data, 7)
    assert cut == ("é" * 3).encode("utf-8")
    assert cut.decode("utf-8") == "ééé"
    assert cut_text(b"short", 100) == b"short"


def test_truncated_utf8_file_still_decodes(home: Path, project: Path) -> None:
    (project / "AGENTS.md").write_text("ü" * 5000, encoding="utf-8")
    [item] = collect_context(project, home=home, per_file_cap=1001).files
    assert item.truncated
    assert item.text == "ü" * 500


def test_total_cap_spends_budget_on_nearest_files_first(home: Path, project: Path) -> None:
    (home / "AGENTS.md").write_text("h" * 3000 + "\n")
    (project / "AGENTS.md").write_text("p" * 3000 + "\n")
    (project / "ARCHITECTURE.md").write_text("a" * 3000 + "\n")
    ctx = collect_context(project, home=home, per_file_cap=4000, total_cap=5000)
    by_path = {f.path: f for f in ctx.files}
    assert not by_path[project / "AGENTS.md"].truncated  # the root's own instructions come first
    assert by_path[home / "AGENTS.md"].truncated  # then the ancestors, with what is left
    assert project / "ARCHITECTURE.md" not in by_path  # nothing left for the map
    assert sum(len(f.text.encode()) for f in ctx.files) <= 5000
    assert any("ARCHITECTURE.md" in n and "total cap" in n for n in ctx.notes)
    assert paths(ctx) == [home / "AGENTS.md", project / "AGENTS.md"]  # still outermost first


def test_symlink_escaping_its_directory_is_refused(home: Path, project: Path) -> None:
    ssh = home / ".ssh"
    ssh.mkdir()
    (ssh / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY----- SECRET\n")
    (project / "AGENTS.md").symlink_to(ssh / "id_rsa")
    (project / "CLAUDE.md").symlink_to("../../.ssh/id_rsa")  # relative, same escape
    ctx = collect_context(project, home=home)
    assert ctx.files == ()
    assert "SECRET" not in render(ctx)
    assert len([n for n in ctx.notes if "outside" in n]) == 2


def test_symlink_through_a_linked_directory_is_refused(tmp_path: Path, home: Path, project: Path) -> None:
    secret_dir = tmp_path / "secrets"
    secret_dir.mkdir()
    (secret_dir / "key").write_text("SECRET\n")
    (project / "docs").symlink_to(secret_dir)
    (project / "AGENTS.md").symlink_to("docs/key")
    assert collect_context(project, home=home).files == ()


def test_symlink_inside_the_directory_is_followed(home: Path, project: Path) -> None:
    (project / "docs").mkdir()
    (project / "docs" / "agents.md").write_text("rules in docs\n")
    (project / "AGENTS.md").symlink_to("docs/agents.md")
    [item] = collect_context(project, home=home).files
    assert item.path == project / "AGENTS.md" and item.text == "rules in docs\n"


def test_same_file_twice_is_read_once(home: Path, project: Path) -> None:
    (project / "AGENTS.md").write_text("shared rules\n")
    (project / "CLAUDE.md").symlink_to("AGENTS.md")
    ctx = collect_context(project, home=home)
    assert paths(ctx) == [project / "AGENTS.md"]
    assert render(ctx).count("shared rules") == 1


def test_hard_link_counts_as_the_same_file(home: Path, project: Path) -> None:
    (project / "AGENTS.md").write_text("linked\n")
    os.link(project / "AGENTS.md", project / "CLAUDE.md")
    assert paths(collect_context(project, home=home)) == [project / "AGENTS.md"]


def test_protected_predicate_is_honoured(home: Path, project: Path) -> None:
    (project / "AGENTS.md").write_text("fine\n")
    (project / "CLAUDE.md").write_text("hidden by policy\n")
    asked: list[Path] = []

    def protected(path: Path) -> bool:
        asked.append(path)
        return path.name == "CLAUDE.md"

    ctx = collect_context(project, home=home, protected=protected)
    assert paths(ctx) == [project / "AGENTS.md"]
    assert "hidden by policy" not in render(ctx)
    assert any("CLAUDE.md" in n and "protected" in n for n in ctx.notes)
    assert project / "AGENTS.md" in asked


def test_protected_target_of_an_inner_symlink(home: Path, project: Path) -> None:
    (project / "secret.env").write_text("TOKEN=abc\n")
    (project / "AGENTS.md").symlink_to("secret.env")
    ctx = collect_context(project, home=home, protected=lambda p: p.name == "secret.env")
    assert ctx.files == ()


def test_only_regular_files(home: Path, project: Path) -> None:
    os.mkfifo(project / "AGENTS.md")  # reading a FIFO would block the start-up
    (project / "CLAUDE.md").mkdir()
    ctx = collect_context(project, home=home)
    assert ctx.files == ()
    assert any("AGENTS.md" in n and "not a regular file" in n for n in ctx.notes)


def test_binary_and_non_utf8_files_are_skipped_with_a_note(home: Path, project: Path) -> None:
    (project / "AGENTS.md").write_bytes(b"\x7fELF\0\0\0binary")
    (project / "CLAUDE.md").write_bytes("caf\xe9 latin-1\n".encode("latin-1"))
    ctx = collect_context(project, home=home)
    assert ctx.files == ()
    assert any("AGENTS.md" in n and "binary" in n for n in ctx.notes)
    assert any("CLAUDE.md" in n and "UTF-8" in n for n in ctx.notes)


def test_empty_files_are_left_out(home: Path, project: Path) -> None:
    (project / "AGENTS.md").write_text("\n\n")
    assert collect_context(project, home=home) == ContextFiles((), ())


def test_render_has_absolute_paths_as_headings(home: Path, project: Path) -> None:
    (home / "AGENTS.md").write_text("# Home\nuse tabs\n")
    (project / "AGENTS.md").write_text("use spaces")
    section = render(collect_context(project, home=home))
    assert section.startswith("# Project context files\n")
    assert f"## {home / 'AGENTS.md'}\n\n# Home\nuse tabs\n" in section
    assert section.index(str(home / "AGENTS.md")) < section.index(str(project / "AGENTS.md"))
    assert section.endswith("use spaces\n")
    assert "truncated" not in section
    assert render(ContextFiles((), ())) == ""
