"""A fast writer for the YAML layout complaintctl writes: ruamel's bytes, or it declines.

A changing command rewrites one case file. ruamel's round-trip load and
dump of a 4 KB case cost ~65 ms, and importing ruamel ~25 ms (store/yamlfast
reads the common scalars without it): a third of a note at 10k cases. A
file in the layout ruamel's round-trip dumper gives (store/yamlio's
settings: mappings indented by 2, lists by 4 with the dash at 2, no
folding) is its own round trip: ruamel would write it back as it is. So
when the old text is exactly that layout of its data, the new text is that
layout of the new data, written here, and the file's diff is the same as
ruamel's.

It returns None (the caller takes ruamel's path) for anything it is not
sure of: an old text in any other layout (a comment below the header, a
hand-quoted value, other indentation), and in the data floats, dates,
lists of lists, text with a line break, a tab or other characters YAML
escapes, text over 1,000 characters, text starting with '-', '?' or ':'
before another character, and text that must be quoted but holds a quote.
Whatever it writes is read back by store/yamlfast and must give exactly the
data; tests/test_yamlemit.py holds both writers to the same bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from complaintctl.store import yamlfast

LONGEST = 1000  # characters of text written here; ruamel folds near its width (4096)


class _Declined(Exception):
    """Not sure what ruamel would write."""


class Map(dict[str, Any]):
    """A mapping of a case being changed, behaving as ruamel's round-trip
    mapping does where lifecycle.apply relies on it: ``insert``, and a text
    put in place of a quoted one is quoted too (ruamel keeps a replaced
    scalar's style). ``quoted``: the keys whose values the text quotes."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.quoted: set[str] = set()

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(value, str):
            self.quoted.discard(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.quoted.discard(key)
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.quoted.discard(key)
        return super().pop(key, *default)

    def insert(self, at: int, key: str, value: Any) -> None:
        items = list(self.items())
        items.insert(at, (key, value))
        dict.clear(self)
        dict.update(self, items)


class Seq(list[Any]):
    """A list of a case being changed (see Map); only appending and replacing
    items keeps ``quoted`` (the indexes of quoted texts) right."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.quoted: set[int] = set()
        self.moved = False

    def __setitem__(self, at: Any, value: Any) -> None:
        if not isinstance(at, int):
            self._moved()  # a slice
        elif not isinstance(value, str):
            self.quoted.discard(at + len(self) if at < 0 else at)
        super().__setitem__(at, value)

    def _moved(self, *_: Any, **__: Any) -> None:
        self.moved = True  # items shifted: the quoted indexes are wrong; rewrite declines

    def insert(self, at: Any, value: Any) -> None:
        self._moved()
        super().insert(at, value)

    def pop(self, at: Any = -1) -> Any:
        self._moved()
        return super().pop(at)

    def __delitem__(self, at: Any) -> None:
        self._moved()
        super().__delitem__(at)

    def remove(self, value: Any) -> None:
        self._moved()
        super().remove(value)


def editable(data: Any) -> Any:
    """Data read by store/yamlfast, ready to change and ``rewrite``: its
    mappings and lists behave as ruamel's round-trip ones, and know which
    of their texts this layout quotes."""
    if isinstance(data, dict):
        made = Map((key, editable(value)) for key, value in data.items())
        made.quoted.update(key for key, value in data.items() if _quoted(value))
        return made
    if isinstance(data, list):
        seq = Seq(editable(item) for item in data)
        seq.quoted.update(at for at, item in enumerate(data) if _quoted(item))
        return seq
    return data


def _quoted(value: Any) -> bool:
    try:
        return isinstance(value, str) and _text(value)[0] == "'"
    except _Declined:
        return False  # not in this layout: rewrite declines the text


def render(data: Mapping[str, Any]) -> str | None:
    """The text ruamel's round-trip dumper writes for ``data`` (a mapping
    of plain dicts, lists and scalars), or None: not sure."""
    lines: list[str] = []
    try:
        _mapping(data, 0, "", lines)
    except _Declined:
        return None
    return "".join(lines)


def rewrite(old_text: str, new: Mapping[str, Any]) -> str | None:
    """The text ruamel's round trip of ``old_text`` writes once its data is
    changed to ``new``, or None: not sure. The header comments are kept."""
    end = 0
    while old_text.startswith("#", end):  # the header: whole comment lines
        end = old_text.find("\n", end) + 1
        if end == 0:
            return None
    old = yamlfast.load(old_text)
    if end == 0 or old is None or render(old) != old_text[end:]:  # (no header: the caller adds it)
        return None  # not this layout: ruamel keeps what it keeps
    body = render(new)
    if body is None:
        return None
    text = old_text[:end] + body
    return text if same(yamlfast.load(text), new) else None


def same(a: Any, b: Any) -> bool:
    """Equal, with the same kinds of value and the same order of keys (True is not 1)."""
    if _kind(a) is not _kind(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _kind(value: Any) -> type:
    for kind in (bool, int, str, dict, list):
        if isinstance(value, kind):
            return kind
    return type(value)


def _mapping(data: Mapping[str, Any], col: int, first: str, lines: list[str]) -> None:
    """Keys at ``col``; the first line starts with ``first`` (a list item's dash)."""
    pad = " " * col
    quoted = data.quoted if isinstance(data, Map) else ()
    for key, value in data.items():
        if not isinstance(key, str) or _text(key) != key:
            raise _Declined
        lead = first or pad
        first = ""
        if isinstance(value, dict):
            if not value:
                lines.append(f"{lead}{key}: {{}}\n")
            else:
                lines.append(f"{lead}{key}:\n")
                _mapping(value, col + 2, "", lines)
        elif isinstance(value, list):
            if not value:
                lines.append(f"{lead}{key}: []\n")
            else:
                lines.append(f"{lead}{key}:\n")
                _sequence(value, col + 2, lines)
        elif value is None:
            lines.append(f"{lead}{key}:\n")
        else:
            lines.append(f"{lead}{key}: {_scalar(value, key in quoted)}\n")


def _sequence(items: list[Any], col: int, lines: list[str]) -> None:
    dash = " " * col + "- "
    quoted = items.quoted if isinstance(items, Seq) else ()
    if isinstance(items, Seq) and items.moved:
        raise _Declined
    for at, item in enumerate(items):
        if isinstance(item, dict) and item:
            _mapping(item, col + 2, dash, lines)
        elif isinstance(item, (dict, list)) or item is None:
            raise _Declined
        else:
            lines.append(f"{dash}{_scalar(item, at in quoted)}\n")


def _scalar(value: Any, quoted: bool = False) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    if type(value) is not str:
        raise _Declined  # floats, dates, ruamel's own types
    written = _text(value)
    if quoted and written[0] != "'":  # in place of a quoted text: quoted as well
        if "'" in value:
            raise _Declined
        return f"'{value}'"
    return written


@functools.lru_cache(maxsize=1024)  # keys and the common values repeat
def _text(text: str) -> str:
    """Text as ruamel writes it: plain when it reads back as the same text,
    else in single quotes."""
    if len(text) > LONGEST or yamlfast.unusual(text):
        raise _Declined  # escapes, line breaks, folding: ruamel's to write
    if text[:1] in ("-", "?", ":") and text[1:2] not in ("", " "):
        raise _Declined  # ruamel writes '-x' plain, and yamlfast does not read it
    plain = (
        text
        and text[0] != " "
        and text[-1] != " "
        and not text.startswith(("---", "..."))
        and yamlfast.plain_text(text)
    )
    if plain:
        return text
    if "'" in text:
        raise _Declined  # ruamel turns to double quotes
    return f"'{text}'"
