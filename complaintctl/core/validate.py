"""Small, strict checks over plain parsed data, reporting the key path.

Loaders turn an ``Invalid`` into a ``FILE:LINE`` error by looking the path up
in the original text (see ``yamlio.line_of``), so validation itself stays
pure and fast.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NoReturn

Path = tuple[str | int, ...]


class Invalid(Exception):
    def __init__(self, path: Path, what: str, fix: str) -> None:
        super().__init__(what)
        self.path = path
        self.what = what
        self.fix = fix


def fail(path: Path, what: str, fix: str) -> NoReturn:
    raise Invalid(path, what, fix)


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def mapping(value: Any, path: Path) -> Mapping[str, Any]:
    if type(value) is not dict and not isinstance(value, Mapping):  # (a dict: no ABC check)
        fail(path, f"{dotted(path)} must be a mapping", "write it as 'key: value' lines")
    return value


def keys(value: Mapping[str, Any], path: Path, required: Iterable[str], optional: Iterable[str] = ()) -> None:
    required = tuple(required)
    allowed, needed = _allowed(required, tuple(optional))
    if needed <= value.keys() <= allowed:
        return  # the common case, decided at C speed
    for key in value:
        if key not in allowed:
            fail(
                (*path, str(key)),
                f"unknown key '{key}'{_inside(path)}",
                f"remove it (known keys: {', '.join(sorted(allowed))})",
            )
    for key in required:
        if key not in value:
            fail(path, f"missing key '{key}'{_inside(path)}", f"add '{key}:'")


@functools.lru_cache(maxsize=256)
def _allowed(required: tuple[str, ...], optional: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    # The same few key lists for every case and event: made once (bulk reads).
    return frozenset(required) | frozenset(optional), frozenset(required)


def _inside(path: Path) -> str:
    return f" in {dotted(path)}" if path else ""


def string(value: Any, path: Path, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        fail(path, f"{dotted(path)} must be a non-empty text", "give it a value in quotes")
    return value


def opt_string(value: Any, path: Path) -> str | None:
    return None if value is None else string(value, path, empty=True)


def integer(value: Any, path: Path, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        fail(path, f"{dotted(path)} must be a whole number", "write digits only")
    if (low is not None and value < low) or (high is not None and value > high):
        rng = f"{low if low is not None else '...'} to {high if high is not None else '...'}"
        fail(path, f"{dotted(path)} is {value}, outside {rng}", f"use a number from {rng}")
    return value


def boolean(value: Any, path: Path) -> bool:
    if not isinstance(value, bool):
        fail(path, f"{dotted(path)} must be true or false", "write true or false")
    return value


def seq(value: Any, path: Path) -> Sequence[Any]:
    if not isinstance(value, list):
        fail(path, f"{dotted(path)} must be a list", "write it as '- item' lines or [a, b]")
    return value


def strings(value: Any, path: Path, *, unique: bool = True) -> tuple[str, ...]:
    items = tuple(string(v, (*path, i)) for i, v in enumerate(seq(value, path)))
    if unique:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item in seen:
                fail((*path, i), f"'{item}' is listed twice in {dotted(path)}", "list it once")
            seen.add(item)
    return items


def choice(value: Any, path: Path, allowed: Collection[str], what: str) -> str:
    text = string(value, path)
    if text not in allowed:
        fail(path, f"unknown {what} '{text}'", f"use one of: {', '.join(allowed)}")
    return text
