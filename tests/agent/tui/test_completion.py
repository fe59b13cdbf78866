"""@path and /command completion on real directories, and reading the @path attachments of a prompt."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent, ThreadedCompleter
from prompt_toolkit.document import Document

from agent.tui.completion import Attachment, InputCompleter, attachments

COMMANDS = [("/model", "[NAME] — switch the model"), ("/undo", "restore the files"), ("/compact", "summarise"),
            ("/quit", "leave")]


def protect_env(path: Path) -> bool:
    return path.name.startswith(".env") or path.suffix == ".pem"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel, text in {
        "src/app.py": "print('app')\n",
        "src/util/strings.py": "x = 1\n",
        "src/util/approx.py": "y = 2\n",
        "docs/API.md": "# API\n",
        "README.md": "readme\n",
        ".env": "API_KEY=secret\n",
        "certs/server.pem": "-----BEGIN-----\n",
        "build/out.js": "generated\n",
        "node_modules/pkg/index.js": "dep\n",
        "notes/my notes.txt": "spaces\n",
        ".gitignore": "build/\n*.log\n",
        "debug.log": "log\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def complete(completer: InputCompleter, text: str) -> list[tuple[str, int, str]]:
    found = completer.get_completions(Document(text, len(text)), CompleteEvent(completion_requested=True))
    return [(c.text, c.start_position, c.display_meta_text) for c in found]


def texts(completer: InputCompleter, text: str) -> list[str]:
    return [t for t, _, _ in complete(completer, text)]


def test_at_offers_project_files_but_never_ignored_or_protected_ones(project: Path) -> None:
    completer = InputCompleter(project, protect_env)
    everything = texts(completer, "look at @")
    assert set(everything) == {
        "src/", "src/app.py", "src/util/", "src/util/strings.py", "src/util/approx.py", "docs/", "docs/API.md",
        "README.md", ".gitignore", "certs/", "notes/",
    }
    assert everything.index("README.md") < everything.index("src/app.py")  # top-level entries first


def test_prefix_then_name_then_substring_then_fuzzy(project: Path) -> None:
    completer = InputCompleter(project, protect_env)
    assert texts(completer, "@src/u")[:3] == ["src/util/", "src/util/approx.py", "src/util/strings.py"]
    assert texts(completer, "fix @app") == ["src/app.py", "src/util/approx.py"]  # name prefix, then fuzzy
    assert texts(completer, "@api") == ["docs/API.md"]  # case-insensitive
    assert texts(completer, "@ring") == ["src/util/strings.py"]  # substring
    assert texts(completer, "@sus") == ["src/util/strings.py"]  # s…u…s in order
    assert texts(completer, "@zzz") == []
    assert complete(completer, "see @./src/a")[0] == ("src/app.py", -len("./src/a"), "")


def test_at_needs_a_word_start_and_the_cursor_in_the_token(project: Path) -> None:
    completer = InputCompleter(project, protect_env)
    assert texts(completer, "mail bob@src") == []
    assert texts(completer, "@src/app.py and more") == []
    assert texts(completer, "first line\n@READ") == ["README.md"]


def test_the_file_list_is_cached_briefly(project: Path) -> None:
    completer = InputCompleter(project, protect_env, cache_seconds=3600)
    assert texts(completer, "@new") == []
    (project / "new_file.py").write_text("")
    assert texts(completer, "@new") == []
    fresh = InputCompleter(project, protect_env, cache_seconds=0)
    assert texts(fresh, "@new") == ["new_file.py"]


def test_threaded_wrapper_gives_the_same(project: Path) -> None:
    threaded = ThreadedCompleter(InputCompleter(project, protect_env))
    found = threaded.get_completions(Document("@READ"), CompleteEvent())
    assert [c.text for c in found] == ["README.md"]


def test_slash_completes_command_names_with_descriptions(project: Path) -> None:
    completer = InputCompleter(project, protect_env, COMMANDS)
    assert complete(completer, "/") == [
        ("model", 0, "[NAME] — switch the model"), ("undo", 0, "restore the files"), ("compact", 0, "summarise"),
        ("quit", 0, "leave")]
    assert complete(completer, "/un") == [("undo", -2, "restore the files")]
    assert texts(completer, "/u") == ["undo", "quit"]  # names that start with it, then ones that contain it
    assert texts(completer, "/model ") == []  # arguments are not completed
    assert texts(completer, "say /model") == []
    calls = []

    def menu() -> list[tuple[str, str]]:
        calls.append(1)
        return [("cost", "show the cost")]

    dynamic = InputCompleter(project, protect_env, menu)
    assert texts(dynamic, "/c") == ["cost"] and calls == [1]


# ------------------------------------------------------------------------------------------------ attachments


def test_attaches_named_files_once_in_order(project: Path) -> None:
    text = "Compare @src/app.py with @./docs/API.md, and @src/app.py again (see @README.md)."
    assert attachments(text, project, protect_env, 1000) == [
        Attachment("src/app.py", "print('app')\n"),
        Attachment("docs/API.md", "# API\n"),
        Attachment("README.md", "readme\n"),
    ]
    assert attachments("mail bob@src/app.py, no tokens", project, protect_env, 1000) == []


def test_refusals_say_why(project: Path, tmp_path: Path) -> None:
    (project / "blob.bin").write_bytes(b"\x89PNG\0\0data")
    (project / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (tmp_path / "outside.txt").write_text("not yours\n")
    (project / "link.txt").symlink_to(tmp_path / "outside.txt")
    (project / "key-link").symlink_to(project / ".env")
    found = {a.path: a for a in attachments(
        "@.env @certs/server.pem @blob.bin @latin1.txt @src @missing.py @../outside.txt @link.txt @key-link",
        project, protect_env, 1000)}
    assert all(a.text == "" and not a.truncated for a in found.values())
    errors = {path: a.error for path, a in found.items()}
    assert errors == {
        ".env": "protected by the policy (secrets, credentials …): not attached",
        "certs/server.pem": "protected by the policy (secrets, credentials …): not attached",
        "key-link": "protected by the policy (secrets, credentials …): not attached",
        "blob.bin": "a binary file: not attached",
        "latin1.txt": "not UTF-8 text: not attached",
        "src": "a directory, not a file: name a file",
        "missing.py": "no such file",
        "../outside.txt": "outside the project: not attached",
        "link.txt": "outside the project: not attached",
    }


def test_large_files_are_cut_at_a_character_boundary(project: Path) -> None:
    (project / "big.md").write_text("é" * 100)  # 200 bytes
    [cut] = attachments("@big.md", project, protect_env, 51)
    assert cut.truncated and cut.error is None and cut.text == "é" * 25
    [whole] = attachments("@big.md", project, protect_env, 200)
    assert not whole.truncated and whole.text == "é" * 100


def test_gitignored_files_can_still_be_attached_by_name(project: Path) -> None:
    [log] = attachments("@debug.log", project, protect_env, 100)
    assert log == Attachment("debug.log", "log\n")
    assert os.path.exists(project / "build/out.js")
    assert attachments("@build/out.js", project, protect_env, 100) == [Attachment("build/out.js", "generated\n")]


def test_a_fifo_is_refused_without_blocking(project: Path) -> None:
    import os

    os.mkfifo(project / "pipe.txt")
    [found] = attachments("@pipe.txt", project, protect_env, 1000)  # a plain open() would wait for a writer
    assert found.error == "not a regular file: not attached" and found.text == ""
