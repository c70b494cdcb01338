"""A fast reader for the YAML layout complaintctl writes: exact, or it declines.

A case file is a block mapping, one key per line, with lists of mappings
and of scalars, as the round-trip dumper lays it out (store/yamlio.py).
ruamel's safe loader over the C parser still spends ~1.4 ms a case file in
its pure-Python composer, resolver and constructor: most of a cold index
build (docs/internals.md#cold-build). This reads that one layout
line by line in about a sixth of that and returns ``None`` (the caller takes
ruamel's path) on anything else: flow collections other than ``[]`` and
``{}``, block or multi-line scalars, comments after a value, tags,
anchors, directives, document markers, tabs, line ends with spaces,
characters YAML treats specially, duplicate or non-text keys, keys
ruamel would read other than as a name. A plain scalar's meaning is the
one ruamel's own YAML 1.2 resolver and constructor give it ('yes', '0o12',
'2026-01-01', '1_000' ...), so both paths give the same data;
tests/test_yamlfast.py parses sample and generated files both ways.
"""

from __future__ import annotations

import functools
import re
from typing import Any

# Anything but a line feed and the printable characters YAML reads as
# text (no tab, no NEL, LS or PS line breaks, no byte-order mark): the
# controls, NEL, LS, PS, surrogates, the byte-order mark, U+FFFE and U+FFFF.
# (Named as they are, not as 'none of' the rest: that took ~9 ms to compile.)
_UNUSUAL_CHARS = "\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff"
_UNUSUAL = re.compile(f"[{_UNUSUAL_CHARS}]")
_TEXT = f"[^\n{_UNUSUAL_CHARS}]"  # a character of a line's text
# Every line: indentation, then a comment, or an optional '- ' and 'key:',
# 'key: value' or (after '- ') a scalar. Keys are short names (YAML refuses
# keys of over 1024 characters; case-file keys are names). A line holding
# an unusual character does not match at all (its text is _TEXT only), so
# a text with one has fewer matches than lines: one pass checks both.
# (Each match starts a line and ends with its '\n', so the next one starts
# where it ended; possessive repeats: nothing to try again on a mismatch.)
_LINES = re.compile(
    f"^( *+)(?:(#{_TEXT}*+)|(- (?! ))?(?:([A-Za-z_][A-Za-z0-9_]{{0,63}}+):(?: ({_TEXT}*+))?|({_TEXT}++)))?\n",
    re.MULTILINE,
)
# Characters a plain scalar may not start with (kept strict: '-', '?' and ':' too).
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@` ")
# What ruamel's safe constructor gives for these tags is immutable, so it can be shared.
_KNOWN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "bool", "int", "float", "null", "timestamp")
)


class _Unsure(Exception):
    """The text is not in the layout this reader knows."""


# A line as _LINES matches it: (indentation, comment, '- ' or '', key, value
# after 'key: ', scalar after '- '). The indentation is kept as its spaces:
# for strings of one character, comparing them compares their lengths.
Token = tuple[str, str, str, str, str, str]


def load(text: str) -> dict[str, Any] | None:
    """The data of a case-file-shaped YAML text, or None: not sure (use ruamel)."""
    if not text.endswith("\n"):
        text += "\n"
    if " \n" in text:
        return None
    lines = _LINES.findall(text)
    if len(lines) != text.count("\n"):
        return None  # a line with an unusual character
    tokens = [line for line in lines if line[2] or line[3] or line[5]]  # not a blank or comment line
    if not tokens or tokens[0][0] or tokens[0][2]:
        return None
    try:
        data, end = _mapping(tokens, 0, "")
    except _Unsure:
        return None
    return data if end == len(tokens) else None


def unusual(text: str) -> bool:
    """Holds a line break, a tab or a character YAML writes escaped."""
    return "\n" in text or _UNUSUAL.search(text) is not None


# Texts ruamel's resolver surely types (a time as complaintctl writes it, a
# decimal amount): known to need quotes without loading ruamel.
_SURELY_TYPED = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:Z|[-+][0-9]{2}:[0-9]{2})?)?|[0-9]+\.[0-9]+"
)


def plain_text(text: str) -> bool:
    """``text`` written plain reads back as the same text (not a number, a
    time, an indicator, ': ', ' #')."""
    if not text or _SURELY_TYPED.fullmatch(text):
        return False
    try:
        return bool(_scalar(text) == text)
    except _Unsure:
        return False


def _mapping(tokens: list[Token], i: int, col: str) -> tuple[dict[str, Any], int]:
    """The block mapping whose keys stand at ``col`` (the first one may
    follow a '- ' two columns to the left)."""
    out: dict[str, Any] = {}
    n = len(tokens)
    first = i
    while i < n:
        at, _, dash, key, value, _ = tokens[i]
        if dash:
            if i != first or at + "  " != col:
                break
        elif at != col:
            break
        if not key:
            raise _Unsure  # a line that is not 'key: ...'
        name = _name(key)
        if name in out:
            raise _Unsure  # a duplicate (ruamel's loader names it)
        i += 1
        if value:
            out[name] = _value(value)
        elif i < n and tokens[i][0] > col:
            out[name], i = (_sequence if tokens[i][2] else _mapping)(tokens, i, tokens[i][0])
        else:
            out[name] = None  # 'key:' and nothing under it
        if i < n and tokens[i][0] > col:
            raise _Unsure  # a continued scalar, or a misplaced line
    if i < n and tokens[i][0] == col:
        raise _Unsure  # a list at the mapping's own indentation
    return out, i


def _sequence(tokens: list[Token], i: int, col: str) -> tuple[list[Any], int]:
    out: list[Any] = []
    n = len(tokens)
    while i < n and tokens[i][0] == col and tokens[i][2]:
        _, _, _, key, _, scalar = tokens[i]
        if key:
            item, i = _mapping(tokens, i, col + "  ")
            out.append(item)
            continue
        out.append(_value(scalar))
        i += 1
        if i < n and tokens[i][0] > col:
            raise _Unsure  # a continued scalar, or a misplaced line
    return out, i


@functools.lru_cache(maxsize=1024)
def _name(key: str) -> str:
    name = _scalar(key)
    if not isinstance(name, str):
        raise _Unsure  # 'true:', 'null:': ruamel reads these as values
    return name


def _value(text: str) -> Any:
    if text == "[]":
        return []
    if text == "{}":
        return {}
    return _immutable(text)


@functools.lru_cache(maxsize=8192)
def _immutable(text: str) -> Any:
    first = text[0]
    if first == "'":
        inner = text[1:-1]
        if len(text) < 2 or text[-1] != "'" or "'" in inner.replace("''", ""):
            raise _Unsure
        return inner.replace("''", "'")
    if first == '"':
        inner = text[1:-1]
        if len(text) < 2 or text[-1] != '"' or '"' in inner or "\\" in inner:
            raise _Unsure
        return inner
    return _scalar(text)


# The first characters of the plain scalars ruamel's YAML 1.2 resolver may
# type (bool, float, int, merge, null, timestamp, value); the words among
# them it reads as a bool or null, and the plain decimals it reads as an
# int. These are read without loading ruamel (~25 ms, most of it its C
# extension); tests/test_yamlfast.py holds them to ruamel's own tables.
TYPED_FIRST = frozenset("-+.0123456789<=~nNtTfF")
_WORDS = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("null", "Null", "NULL"), None),
}
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,17}")
# A letter no number or time starting with a digit holds (those hold e, E,
# t, T, Z, and after '0x', '0o', '0b' their digits): such a text is a string.
_LETTER = re.compile(r"[^\W\d_eEtTzZ]")


def _scalar(text: str) -> Any:
    """A plain scalar's value, as ruamel's YAML 1.2 resolver and constructor give it."""
    first = text[0]
    if first in _INDICATORS or ": " in text or " #" in text or text[-1] == ":":
        raise _Unsure
    if first not in TYPED_FIRST:
        return text  # no implicit type starts with this character: a string
    if text in _WORDS:
        return _WORDS[text]
    if first.isalpha():
        return text  # 'n', 't', 'f': only the words above are typed
    if " " in text and text[4:5] != "-":
        return text  # '+86 138 0013 8000': of the typed scalars only a time holds a space (YYYY-...)
    if _DECIMAL.fullmatch(text):
        return int(text)
    if first.isdigit() and text[1:2] not in ("x", "o", "b") and _LETTER.search(text):
        return text  # a file's SHA-256, a reference number
    return _typed(text)


@functools.lru_cache(maxsize=4096)
def _typed(text: str) -> Any:
    from ruamel.yaml.nodes import ScalarNode

    loader = _resolvers()[1]
    tag = loader.resolve(ScalarNode, text, (True, False))
    if str(tag) not in _KNOWN_TAGS:
        raise _Unsure  # '<<' (merge), '=' (value)
    try:
        return loader.construct_non_recursive_object(ScalarNode(tag, text))
    except Exception:
        raise _Unsure from None  # ruamel's loader reports it


@functools.cache
def _resolvers() -> tuple[frozenset[str], Any]:
    """(first characters of implicitly typed plain scalars, a resolver and
    constructor joined as ruamel joins them for the C parser)."""
    from ruamel.yaml.constructor import SafeConstructor

    from complaintctl.store.yamlio import yaml12_resolver

    resolver = yaml12_resolver()

    class Scalars(SafeConstructor, resolver):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            SafeConstructor.__init__(self, loader=self)
            resolver.__init__(self, loadumper=self)

    loader = Scalars()
    table = loader.versioned_resolver
    assert None not in table, "a resolver for every first character: nothing is sure"
    return frozenset(ch for ch in table if ch), loader
