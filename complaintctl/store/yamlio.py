"""The only module that parses or emits YAML.

Two loaders, each for its job:

* ``load_plain``: ruamel's safe loader over the C parser (ruamel.yaml.clib),
  YAML 1.2 meaning, for bulk reads and validation; ~10x faster than round-trip.
* ``load_roundtrip`` / ``dump_roundtrip``: ruamel's round-trip mode, for the
  one file a command rewrites, so that a commit's diff shows only the change.

Both refuse duplicate keys and anchors/aliases (a case file is a record, not
a program). Errors carry the file and line.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from typing import Any

from complaintctl.errors import ComplaintError

KeyPath = Sequence[str | int]

_plain = None
_rt = None


@functools.cache
def yaml12_resolver() -> Any:
    """ruamel's resolver, pinned to YAML 1.2 (also store/yamlfast's)."""
    from ruamel.yaml.resolver import VersionedResolver

    class Yaml12Resolver(VersionedResolver):
        # The stock resolver works out the YAML version for every scalar
        # (a third of bulk load time); files with a %YAML directive take
        # the stock path (see load_plain).
        @property
        def processing_version(self) -> tuple[int, int]:
            return (1, 2)

    return Yaml12Resolver


def _plain_yaml() -> Any:
    global _plain
    if _plain is None:
        from ruamel.yaml import YAML

        _plain = YAML(typ="safe")
        _plain.Resolver = yaml12_resolver()
        _plain.allow_duplicate_keys = False
    return _plain


def _directive_yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="safe")
    y.allow_duplicate_keys = False
    return y


def _rt_yaml() -> Any:
    global _rt
    if _rt is None:
        from ruamel.yaml import YAML

        y = YAML(typ="rt")
        y.allow_duplicate_keys = False
        y.preserve_quotes = True
        y.width = 4096  # never fold long lines: a folded line is a noisy diff
        y.indent(mapping=2, sequence=4, offset=2)
        y.allow_unicode = True
        _rt = y
    return _rt


def _mark_line(exc: Exception) -> int | None:
    for attr in ("problem_mark", "context_mark"):
        mark = getattr(exc, attr, None)
        if mark is not None:
            return int(mark.line) + 1
    return None


def _refuse_anchors(text: str, source: str, error: type[ComplaintError]) -> None:
    # Cheap pre-check: only texts with '&' or '*' can hold anchors or aliases.
    if "&" not in text and "*" not in text:
        return
    from ruamel.yaml.events import AliasEvent

    for event in _plain_yaml().parse(io.StringIO(text)):
        anchor = getattr(event, "anchor", None)
        if anchor is not None or isinstance(event, AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else None
            where = f"{source}:{line}" if line else source
            raise error(
                "YAML anchors and aliases are not allowed",
                where=where,
                fix="write the value out in full",
            )


_DATE_RE = r"(?<![\w.-])(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"


def _bad_value(exc: Exception, text: str, source: str, error: type[ComplaintError]) -> ComplaintError:
    """A value YAML reads as a date or time that no calendar has, at its line."""
    import re
    from datetime import datetime

    for number, line in enumerate(text.splitlines(), 1):
        for found in re.finditer(_DATE_RE, line.split(" #")[0]):
            parts = [int(p) for p in found.groups(default="0")]
            try:
                datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
            except (ValueError, OverflowError):
                return error(
                    f"{found.group(0)} is not a date ({exc})",
                    where=f"{source}:{number}",
                    fix="correct it, or quote it if it is text",
                )
    return error(f"a value cannot be read ({exc})", where=source, fix="correct it, or quote it if it is text")


def _parse_error(exc: Exception, source: str, error: type[ComplaintError]) -> ComplaintError:
    line = _mark_line(exc)
    where = f"{source}:{line}" if line else source
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if "duplicate key" in str(exc):
        problem = "duplicate key " + str(exc).split("duplicate key", 1)[1].split("\n")[0].strip()
        return error(problem, where=where, fix="keep one of the two entries")
    return error(f"not valid YAML: {problem}", where=where, fix="correct the syntax")


def _refuse_conflict_markers(text: str, source: str, error: type[ComplaintError]) -> None:
    if "<<<<<<< " not in text and ">>>>>>> " not in text and "=======" not in text:
        return  # the common case, decided at C speed
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "=======":
            raise error(
                "git conflict markers in the file",
                where=f"{source}:{number}",
                fix="resolve the merge by hand, keeping every event, then commit",
            )


# Nesting no record or policy needs; far below what crashes the C parser
# (60,000 levels end in SIGSEGV, and a crash travels to every clone by sync).
MAX_DEPTH = 64
_DEEP_INDENT = "\n" + " " * (MAX_DEPTH // 2)  # a line indented that far
_DEEP_ITEMS = "- " * (MAX_DEPTH // 4)  # '- - - ...' items in items


def _refuse_deep(text: str, source: str, error: type[ComplaintError]) -> None:
    """Bound the nesting before any parser sees the text: block levels by
    indentation and '- ' items, flow levels by brackets outside quotes."""
    if (
        text.count("[") + text.count("{") <= MAX_DEPTH // 2
        and _DEEP_INDENT not in text
        and _DEEP_ITEMS not in text
    ):
        return  # the common case, decided at C speed (~10 us a case file)
    indents: list[int] = []
    flow = 0
    quote = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip(" ")
        if not quote and stripped and not stripped.startswith("#"):
            indent = len(line) - len(stripped)
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
            items = len(stripped) - len(stripped.lstrip("- ")) if stripped.startswith("- ") else 0
            if len(indents) + items // 2 > MAX_DEPTH:
                raise error(f"too deeply nested (over {MAX_DEPTH} levels)", where=f"{source}:{number}")
        for i, char in enumerate(stripped):
            if quote:
                if char == quote and not (quote == '"' and stripped[i - 1 : i] == "\\"):
                    quote = ""
            elif char in "'\"" and (i == 0 or stripped[i - 1] in " :,[{-"):
                quote = char
            elif char in "[{":
                flow += 1
                if len(indents) + flow > MAX_DEPTH:
                    raise error(f"too deeply nested (over {MAX_DEPTH} levels)", where=f"{source}:{number}")
            elif char in "]}" and flow:
                flow -= 1
            elif char == "#" and (i == 0 or stripped[i - 1] == " "):
                break


def load_plain(text: str, source: str, error: type[ComplaintError]) -> Any:
    """Parse fast into plain dicts/lists/scalars; refuse unsafe YAML."""
    from complaintctl.store import yamlfast

    _refuse_deep(text, source, error)  # before any parser: the fast one recurses too
    fast = yamlfast.load(text)  # the layout complaintctl writes, ~15x faster; None: not sure
    if fast is not None:
        return fast  # (that layout has no conflict markers, anchors or aliases: yamlfast declines them)
    _refuse_conflict_markers(text, source, error)
    _refuse_anchors(text, source, error)
    from ruamel.yaml.error import YAMLError  # (imports ruamel: ~25 ms)

    loader = _directive_yaml() if text.startswith("%") or "\n%" in text else _plain_yaml()
    try:
        return loader.load(text)
    except YAMLError as exc:
        raise _parse_error(exc, source, error) from None
    except (ValueError, OverflowError) as exc:  # an impossible date: 2026-13-45
        raise _bad_value(exc, text, source, error) from None


def load_roundtrip(text: str, source: str, error: type[ComplaintError]) -> Any:
    """Parse keeping comments, order and quoting, for a rewrite."""
    from ruamel.yaml.error import YAMLError

    _refuse_deep(text, source, error)
    _refuse_conflict_markers(text, source, error)
    _refuse_anchors(text, source, error)
    try:
        return _rt_yaml().load(text)
    except YAMLError as exc:
        raise _parse_error(exc, source, error) from None
    except (ValueError, OverflowError) as exc:
        raise _bad_value(exc, text, source, error) from None


def dump_roundtrip(data: Any) -> str:
    out = io.StringIO()
    _rt_yaml().dump(data, out)
    return out.getvalue()


def line_of(text: str, path: KeyPath) -> int | None:
    """The 1-based line of the value at ``path`` (or its nearest parent)."""
    try:
        node = _rt_yaml().load(text)
    except Exception:
        return None
    line: int | None = None
    for key in path:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None and isinstance(node, dict) and key in node:
                line = lc.key(key)[0] + 1
            elif lc is not None and isinstance(node, list) and isinstance(key, int):
                line = lc.item(key)[0] + 1
            node = node[key]
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    if line is None and hasattr(node, "lc"):
        line = 1
    return line
