"""Typed dataclasses to and from plain data (YAML, JSON, checkpoints): one reader, one writer.

Every configuration of the library (training sections, losses, distillation methods,
preprocessing, augmentation, post-processing, synthetic-data presets, node parameters) is
a dataclass with type hints. :func:`from_plain` builds one from nested mappings and lists,
checking every value against its field's hint and naming the key's full path when one is
wrong (``distill.sad.weight: expected float or list of float, got 'x'``) or unknown;
:func:`to_plain` turns one back into dicts, lists and scalars, which YAML, JSON and
``torch.load(weights_only=True)`` all accept, so ``from_plain(C, to_plain(c)) == c``.

Hints understood: ``bool``, ``int``, ``float`` (an int is accepted and converted; NaN and
infinities are refused), ``str``, ``None``, unions (``X | None``; ``float | tuple[float, ...]``
takes 0.1 or [0.1, 0.2], each member tried in order), ``tuple[X, ...]``, ``tuple[X, Y]``,
``list[X]``, ``dict[str, X]``, ``Literal[...]``, ``Any``, nested dataclasses, and
``Annotated[X, Range(...)]``: a number's natural range, declared once on the field
(:data:`PositiveInt`, :data:`Fraction`, ...) and checked here before anything runs, so
``optim.lr: -0.1`` fails in one line naming the key instead of training on nonsense. A
dataclass may declare
``MOVED: ClassVar[dict[str, str]]`` (old key -> where it went), so a config written for an
older layout fails with one line naming the new key instead of "unknown key".
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, cast

from lane_sad_core.errors import ConfigError

T = TypeVar("T")
_SCALARS: tuple[type, ...] = (bool, int, float, str)


@dataclasses.dataclass(frozen=True)
class Range:
    """The interval a numeric field must lie in (``None``: unbounded on that side).

    Attributes:
        low, high: the bounds.
        low_open, high_open: the bound itself is excluded (``> 0`` rather than ``>= 0``).
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


class OutOfRange(ConfigError):
    """A number of the right type outside its field's :class:`Range`."""


PositiveInt = Annotated[int, Range(1)]  # counts, sizes, periods
NonNegInt = Annotated[int, Range(0)]  # seeds, worker counts, iteration numbers
PositiveFloat = Annotated[float, Range(0, low_open=True)]  # learning rates, temperatures, steps
NonNegFloat = Annotated[float, Range(0)]  # loss weights, magnitudes (0: off)
Fraction = Annotated[float, Range(0, 1)]  # probabilities, thresholds, shares


def from_plain(cls: type[T], data: object, where: str = "") -> T:
    """A ``cls`` dataclass from plain data, every value checked against its field's hint.

    Args:
        cls: the dataclass.
        data: a mapping of its field names (absent fields keep their defaults).
        where: the key path of ``data`` in a larger document, for messages.

    Raises:
        ConfigError: an unknown or moved key, a missing required key, a value of the wrong
            type, or a value the dataclass itself refuses; the message starts with the
            key's full path.
    """
    return _read_dataclass(cls, data, where)


def to_plain(obj: object) -> Any:
    """Dicts, lists and scalars for a dataclass (recursively); tuples become lists, paths strings."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _read_dataclass(cls: type[T], data: object, where: str) -> T:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    moved: Mapping[str, str] = getattr(cls, "MOVED", {})
    for key in data:
        if key in moved:
            raise ConfigError(f"{_join(where, key)} moved to {moved[key]}")
    unknown = [str(key) for key in data if key not in fields]
    if unknown:
        known = ", ".join(fields)
        raise ConfigError(f"unknown key(s) {', '.join(_join(where, k) for k in unknown)} (known: {known})")
    hints = _hints(cast(type, cls))
    kwargs = {key: _read(hints[key], value, _join(where, key)) for key, value in data.items()}
    missing = [
        name
        for name, f in fields.items()
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where or 'config'}: missing key(s) {', '.join(missing)}")
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}" if where else str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from None


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of a dataclass's fields (string annotations evaluated, ranges kept)."""
    return typing.get_type_hints(cls, include_extras=True)


def _read(hint: Any, value: object, where: str) -> Any:
    """``value`` checked against (and converted to) ``hint``; see the module docstring."""
    if hint is Any:
        return value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return _read_annotated(args, value, where)
    if origin in (Union, types.UnionType):
        return _read_union(hint, args, value, where)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _read_dataclass(hint, value, where)
    if hint is type(None):
        if value is not None:
            raise ConfigError(f"{where}: expected null, got {value!r}")
        return None
    if hint in _SCALARS:
        return _read_scalar(hint, value, where)
    if origin in (tuple, list) or hint in (tuple, list):
        return _read_sequence(hint, origin or hint, args, value, where)
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        key_hint, value_hint = args or (Any, Any)
        return {_read(key_hint, k, where): _read(value_hint, v, _join(where, str(k))) for k, v in value.items()}
    raise TypeError(f"{where}: no reader for type hint {hint!r}")


def _read_annotated(args: tuple[Any, ...], value: object, where: str) -> Any:
    """The annotated type's value, inside every :class:`Range` annotated on it."""
    out = _read(args[0], value, where)
    for bound in args[1:]:
        if isinstance(bound, Range) and not bound.contains(out):
            raise OutOfRange(f"{where}: must be {bound}, got {value!r}")
    return out


def _read_union(hint: Any, args: tuple[Any, ...], value: object, where: str) -> Any:
    if value is None and type(None) in args:
        return None
    members = [a for a in args if a is not type(None)]
    if len(members) == 1:  # X | None: X's own message says what is wrong
        return _read(members[0], value, where)
    out_of_range: ConfigError | None = None
    for member in members:
        try:
            return _read(member, value, where)
        except OutOfRange as exc:  # the right type, the wrong value: that is the message
            out_of_range = out_of_range or exc
        except ConfigError:
            continue
    if out_of_range is not None:
        raise out_of_range
    raise ConfigError(f"{where}: expected {_describe(hint)}, got {value!r}")


def _read_scalar(kind: type, value: object, where: str) -> object:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    if kind is float and not math.isfinite(cast(float, value)):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return value


def _read_sequence(hint: Any, kind: type, args: tuple[Any, ...], value: object, where: str) -> object:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: expected {_describe(hint)}, got {value!r}")
    if kind is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)} ({list(value)!r})")
        return tuple(_read(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    item = args[0] if args else Any
    items = [_read(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if kind is tuple else items


def _describe(hint: Any) -> str:
    """A reader's name for a hint: ``float``, ``list of float``, ``a mapping``, ``null``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return _describe(args[0])
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if hint is type(None):
        return "null"
    if origin in (tuple, list) or hint in (tuple, list):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f"a list of {len(args)} values"
        return f"list of {_describe(args[0])}" if args else "a list"
    if origin is dict or hint is dict or dataclasses.is_dataclass(hint):
        return "a mapping"
    return getattr(hint, "__name__", str(hint))


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
