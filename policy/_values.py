"""Dataclasses that cost a quarter as much to define: `@frozen` and `@record` (mutable).

`@dataclass(frozen=True)` writes the source of six methods per class (__init__, __repr__, __eq__,
__hash__, __setattr__, __delattr__) and compiles each: ~1.2 ms per class on this machine, ~50 ms of
every start-up for the ~60 classes the agent and the policy engine define. Here the standard library
generates only `__init__` (and the field machinery: `fields`, `replace`, `asdict`, `__match_args__`
all work as usual); the other methods are shared functions, written once, that read the class's fields:

- `@frozen`: equality and hashing over the compared fields, a dataclass-style repr, and frozen: a field
  can be set once (by `__init__`), never reassigned or deleted (`dataclasses.FrozenInstanceError`).
- `@record`: equality and repr; mutable and unhashable, like a plain `@dataclass`.

Type checkers see ordinary dataclasses (`dataclass_transform`; `@frozen` as frozen). This is the policy
engine's copy of agent/values.py: a leaf library imports nothing of corral's.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import TypeVar, dataclass_transform

T = TypeVar("T")

_Key = Callable[[object], tuple[object, ...]]
_keys: dict[tuple[type, str], _Key] = {}
_PICK: dict[str, Callable[[dataclasses.Field[object]], bool]] = {
    "compare": lambda f: f.compare,
    "hash": lambda f: f.hash if f.hash is not None else f.compare,
    "repr": lambda f: f.repr,
}


def _names(cls: type, kind: str) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if _PICK[kind](f)]


def _key(cls: type, kind: str) -> _Key:
    """A function giving the tuple of an instance's `kind` fields, made once per class."""
    key = _keys.get((cls, kind))
    if key is None:
        names = _names(cls, kind)
        if len(names) > 1:
            key = operator.attrgetter(*names)
        elif names:
            single = operator.attrgetter(names[0])
            key = lambda obj: (single(obj),)  # noqa: E731
        else:
            key = lambda obj: ()  # noqa: E731
        _keys[(cls, kind)] = key
    return key


def _eq(self: object, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented  # type: ignore[no-any-return]
    key = _key(self.__class__, "compare")
    return bool(key(self) == key(other))


def _hash(self: object) -> int:
    return hash(_key(self.__class__, "hash")(self))


def _repr(self: object) -> str:
    cls = self.__class__
    pairs = zip(_names(cls, "repr"), _key(cls, "repr")(self), strict=True)
    return f"{cls.__qualname__}({', '.join(f'{n}={v!r}' for n, v in pairs)})"


def _set_once(self: object, name: str, value: object) -> None:
    state = self.__dict__
    if name in state or name not in getattr(self.__class__, "__value_fields__", ()):
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
    state[name] = value


def _no_delete(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _define(cls: type[T], frozen: bool) -> type[T]:
    own = cls.__dict__
    if cls.__doc__ is None:
        cls.__doc__ = cls.__name__  # else dataclass builds one from inspect.signature (~10% of its cost)
    dataclasses.dataclass(cls, eq=False, repr=False)
    methods: dict[str, object] = {}
    if "__eq__" not in own:
        methods["__eq__"] = _eq
    if "__repr__" not in own:
        methods["__repr__"] = _repr
    if own.get("__hash__") is None:  # absent, or set to None by a class body that defines __eq__
        methods["__hash__"] = _hash if frozen else None
    if frozen:
        for name in ("__setattr__", "__delattr__"):
            if name in own:
                raise TypeError(f"cannot overwrite attribute {name} in class {cls.__qualname__}")
        fields = frozenset(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        methods.update(__setattr__=_set_once, __delattr__=_no_delete, __value_fields__=fields)
    for name, method in methods.items():
        setattr(cls, name, method)
    return cls


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen(cls: type[T]) -> type[T]:
    """A frozen dataclass: compared and hashed by its fields, fields set once by __init__."""
    return _define(cls, frozen=True)


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: type[T]) -> type[T]:
    """A mutable dataclass: compared by its fields, unhashable."""
    return _define(cls, frozen=False)
