"""Options with a fixed set of values, as Enum types: one definition each,
one way to check them (``parse``), one message for a value not among them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from complaintctl.errors import UsageError


class Choice(StrEnum):
    """A fixed choice; ``what`` names it in the one-line error."""

    @classmethod
    def what(cls) -> str:
        """What the option is called in an error (most are formats)."""
        return "format"

    @classmethod
    def parse(cls, text: str | Self) -> Self:
        if isinstance(text, cls):
            return text
        for name in (text, ALIASES.get(text, text)):
            if name in cls._value2member_map_:
                return cls(name)
        names = ", ".join(c.value for c in cls)
        raise UsageError(f"unknown {cls.what()} '{text}'", fix=f"use one of: {names}")


# One vocabulary of formats for every command: the screen form is 'table'
# (or 'text' where it is not a table), and each name is taken for the other;
# 'md' is short for 'markdown'.
ALIASES = {"md": "markdown", "text": "table", "table": "text"}


class ReportFormat(Choice):
    TABLE = "table"
    MARKDOWN = "markdown"
    CSV = "csv"
    JSON = "json"
    HTML = "html"
    XLSX = "xlsx"


class OverdueFormat(Choice):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


class RowsFormat(Choice):
    """list, customer and report --cases: one row per case."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"
    HTML = "html"


class ShowFormat(Choice):
    TEXT = "text"
    JSON = "json"


class LogFormat(Choice):
    TABLE = "table"
    JSON = "json"


class DocFormat(Choice):
    HTML = "html"
    MARKDOWN = "markdown"
    PDF = "pdf"


class Lang(Choice):
    EN = "en"
    ZH = "zh"

    @classmethod
    def what(cls) -> str:
        return "language"


class Document(Choice):
    AGREEMENT = "agreement"
    REPLY = "reply"
    SUMMARY = "summary"

    @classmethod
    def what(cls) -> str:
        return "document"
