"""`@frozen` and `@record` (agent/values.py and its policy copy) behave like the dataclasses they replace."""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
from dataclasses import InitVar, field
from types import ModuleType
from typing import Any

import pytest

import agent.values
import policy._values

MODULES = [agent.values, policy._values]


@agent.values.frozen
class AgentPickled:
    x: int
    names: tuple[str, ...]


@policy._values.frozen
class PolicyPickled:
    x: int
    names: tuple[str, ...]


def _classes(mod: ModuleType) -> tuple[Any, Any, Any]:
    @mod.frozen
    class Point:
        x: int
        y: str = "a"
        tags: list[str] = field(default_factory=list, compare=False, repr=False)

    @mod.frozen
    class Point3(Point):
        z: float = 0.0

    @mod.record
    class Box:
        items: list[int] = field(default_factory=list)
        label: str = ""

    return Point, Point3, Box


@pytest.mark.parametrize("mod", MODULES, ids=["agent", "policy"])
def test_frozen_compares_hashes_and_shows_its_fields(mod: ModuleType) -> None:
    Point, Point3, _ = _classes(mod)
    a, b = Point(1), Point(1, tags=["t"])
    assert a == b and hash(a) == hash(b)  # tags: compare=False
    assert a != Point(2) and a != Point(1, "b")
    assert Point(1) != Point3(1)  # another class is never equal, as with dataclasses
    assert a.__eq__(object()) is NotImplemented
    assert repr(a) == "_classes.<locals>.Point(x=1, y='a')"  # __qualname__, as dataclasses show it
    assert repr(Point3(1, z=2.5)).endswith(".Point3(x=1, y='a', z=2.5)")
    assert {a: 1}[Point(1)] == 1
    nan = float("nan")
    same = Point3(1, z=nan)
    assert same == same  # identity first, like tuple comparison


@pytest.mark.parametrize("mod", MODULES, ids=["agent", "policy"])
def test_frozen_fields_are_set_once(mod: ModuleType) -> None:
    _, Point3, _ = _classes(mod)
    p = Point3(1)
    for name in ("x", "z", "tags"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(p, name, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.other = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.x
    assert (p.x, p.y, p.z) == (1, "a", 0.0)


@pytest.mark.parametrize("mod", MODULES, ids=["agent", "policy"])
def test_the_dataclass_machinery_still_works(mod: ModuleType) -> None:
    Point, Point3, _ = _classes(mod)
    p = Point3(1, "b", ["t"], 3.0)
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags", "z"]
    assert dataclasses.replace(p, x=5) == Point3(5, "b", z=3.0)
    assert dataclasses.asdict(p) == {"x": 1, "y": "b", "tags": ["t"], "z": 3.0}
    assert copy.copy(p) == p and copy.deepcopy(p) == p
    for pickled in (AgentPickled(1, ("a",)), PolicyPickled(1, ("a",))):
        assert pickle.loads(pickle.dumps(pickled)) == pickled
    match p:
        case Point3(x, y, _, z):
            assert (x, y, z) == (1, "b", 3.0)
        case _:
            pytest.fail("positional pattern did not match")
    with pytest.raises(TypeError):
        Point()  # missing x
    with pytest.raises(TypeError):
        Point(1, x=2)


@pytest.mark.parametrize("mod", MODULES, ids=["agent", "policy"])
def test_record_is_mutable_and_unhashable(mod: ModuleType) -> None:
    _, _, Box = _classes(mod)
    box = Box()
    box.items.append(1)
    box.label = "x"
    assert box == Box([1], "x") and box != Box([1])
    assert repr(box).endswith(".Box(items=[1], label='x')")
    assert Box().items is not Box().items
    with pytest.raises(TypeError, match="unhashable"):
        hash(box)


@agent.values.frozen
class AgentNamed:
    name: str
    check: InitVar[bool] = False
    upper: str = field(init=False, default="")

    def __post_init__(self, check: bool) -> None:
        object.__setattr__(self, "upper", self.name.upper() if check else self.name)

    def __repr__(self) -> str:
        return f"<{self.name}>"


@policy._values.frozen
class PolicyNamed:
    name: str
    check: InitVar[bool] = False
    upper: str = field(init=False, default="")

    def __post_init__(self, check: bool) -> None:
        object.__setattr__(self, "upper", self.name.upper() if check else self.name)

    def __repr__(self) -> str:
        return f"<{self.name}>"


@pytest.mark.parametrize(("mod", "Named"), [(agent.values, AgentNamed), (policy._values, PolicyNamed)],
                         ids=["agent", "policy"])
def test_own_methods_and_post_init_are_kept(mod: ModuleType, Named: Any) -> None:
    n = Named("a", True)
    assert n.upper == "A" and repr(n) == "<a>" and n == Named("a", True) and Named("a").upper == "a"
    with pytest.raises(TypeError, match="__setattr__"):

        @mod.frozen
        class Bad:
            x: int

            def __setattr__(self, name: str, value: object) -> None:
                object.__setattr__(self, name, value)


@pytest.mark.parametrize("mod", MODULES, ids=["agent", "policy"])
def test_defining_a_class_is_cheaper_than_a_frozen_dataclass(mod: ModuleType) -> None:
    """The point of the module (not a timing: counts of compiled functions). A frozen dataclass compiles
    six generated methods; @frozen lets dataclasses compile only __init__."""
    if not hasattr(dataclasses, "_create_fn"):
        pytest.skip("this Python's dataclasses generate methods differently (3.13+)")
    compiled: list[str] = []
    real = dataclasses._create_fn  # type: ignore[attr-defined]

    def counting(name: str, *args: object, **kwargs: object) -> object:
        compiled.append(name)
        return real(name, *args, **kwargs)

    dataclasses._create_fn = counting  # type: ignore[attr-defined]
    try:
        gc.collect()

        @mod.frozen
        class A:
            x: int

        ours = list(compiled)
        compiled.clear()

        @dataclasses.dataclass(frozen=True)
        class B:
            x: int
    finally:
        dataclasses._create_fn = real  # type: ignore[attr-defined]
    assert ours == ["__init__"]
    assert len(compiled) >= 5


def test_the_policy_copy_is_the_same_code() -> None:
    """policy/ is a leaf library and keeps its own copy; the two must not drift (docstrings may differ)."""
    import ast
    import inspect

    def body(mod: ModuleType) -> str:
        tree = ast.parse(inspect.getsource(mod))
        tree.body = tree.body[1:]  # the module docstring
        return ast.dump(tree)

    assert body(agent.values) == body(policy._values)
