"""The argument validator and the tools' handling of bad arguments (errors for the model, never exceptions)."""

from __future__ import annotations

import pytest

from agent.tools._args import ArgumentError, validate
from agent.tools.base import ToolContext
from tests.agent.tools.conftest import TOOLS, call

SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "default": 10},
        "flag": {"type": "boolean"},
        "mode": {"type": "string", "enum": ["a", "b"]},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"old": {"type": "string"}, "n": {"type": "integer"}},
                "required": ["old"],
            },
        },
        "names": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["path"],
}


def test_valid_arguments_get_defaults() -> None:
    assert validate(SCHEMA, {"path": "x"}) == {"path": "x", "limit": 10}
    out = validate(SCHEMA, {"path": "x", "limit": 3, "flag": True, "names": ["a"], "items": [{"old": "o"}]})
    assert out["limit"] == 3 and out["flag"] is True and out["items"] == [{"old": "o"}]


def test_lenient_coercions() -> None:
    assert validate(SCHEMA, {"path": "x", "limit": 5.0})["limit"] == 5
    assert validate(SCHEMA, {"path": "x", "limit": "7"})["limit"] == 7
    assert validate(SCHEMA, {"path": "x", "flag": "false"})["flag"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "argument 'path' is required"),
        ({"path": None}, "argument 'path' is required"),
        ({"path": 3}, "argument 'path' must be a string"),
        ({"path": "x", "limit": "ten"}, "argument 'limit' must be an integer"),
        ({"path": "x", "limit": 2.5}, "argument 'limit' must be an integer"),
        ({"path": "x", "limit": True}, "argument 'limit' must be an integer"),
        ({"path": "x", "limit": 0}, "argument 'limit' must be at least 1"),
        ({"path": "x", "flag": "yes"}, "argument 'flag' must be a boolean"),
        ({"path": "x", "mode": "c"}, "argument 'mode' must be one of 'a', 'b'"),
        ({"path": "x", "names": "a"}, "argument 'names' must be an array"),
        ({"path": "x", "names": ["a", 1]}, "argument 'names[1]' must be a string"),
        ({"path": "x", "items": [{"n": 1}]}, "argument 'items[0].old' is required"),
        ({"path": "x", "items": ["s"]}, "argument 'items[0]' must be an object"),
        ({"path": "x", "file_path": "y"}, "unknown argument 'file_path' (expected: path, limit"),
    ],
)
def test_errors_are_model_readable(args: dict[str, object], message: str) -> None:
    with pytest.raises(ArgumentError) as info:
        validate(SCHEMA, args)
    assert message in str(info.value)


def test_not_an_object() -> None:
    with pytest.raises(ArgumentError, match="JSON object"):
        validate(SCHEMA, ["x"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("read", {}, "argument 'path' is required"),
        ("read", {"path": "a", "limit": "many"}, "argument 'limit' must be an integer"),
        ("write", {"path": "a"}, "argument 'content' is required"),
        ("edit", {"path": "a", "edits": []}, "argument 'edits' needs at least 1 item"),
        ("edit", {"path": "a", "edits": [{"old": "x"}]}, "argument 'edits[0].new' is required"),
        ("grep", {"pattern": "x", "context": -1}, "argument 'context' must be at least 0"),
        ("list_dir", {"depth": 9}, "argument 'depth' must be at most 5"),
        ("bash", {"command": 1}, "argument 'command' must be a string"),
        ("todo", {"todos": [{"content": "a", "status": "started"}]}, "must be one of 'pending'"),
    ],
)
async def test_tools_report_bad_arguments(ctx: ToolContext, name: str, args: dict[str, object], message: str) -> None:
    result = await call(name, args, ctx)
    assert result.is_error
    assert message in result.content


def test_every_schema_is_well_formed() -> None:
    names = set()
    for tool in TOOLS.values():
        spec = tool.spec
        names.add(spec.name)
        params = spec.parameters
        assert params["type"] == "object"
        props = params["properties"]
        assert isinstance(props, dict)
        for key in params.get("required", []):  # type: ignore[attr-defined]
            assert key in props
        assert spec.description and len(spec.description) < 1000
    assert names == {"read", "write", "edit", "grep", "find_files", "list_dir", "bash", "todo"}


def test_read_only_flags_and_policy_args(ctx: ToolContext) -> None:
    ro = {name for name, tool in TOOLS.items() if tool.read_only}
    assert ro == {"read", "grep", "find_files", "list_dir", "todo"}
    assert TOOLS["read"].policy_args({"path": "a.txt", "limit": 3}, ctx) == {"path": "a.txt"}
    assert TOOLS["write"].policy_args({"path": "/abs/x", "content": "big"}, ctx) == {"path": "/abs/x"}
    assert TOOLS["grep"].policy_args({"pattern": "x"}, ctx) == {"path": "."}
    assert TOOLS["list_dir"].policy_args({}, ctx) == {"path": "."}
    assert TOOLS["bash"].policy_args({"command": "ls -la"}, ctx) == {"command": "ls -la"}
    assert TOOLS["todo"].policy_args({"todos": []}, ctx) == {}
