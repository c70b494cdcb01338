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
        try:
            return cls(text)
        except ValueError:
            names = ", ".join(c.value for c in cls)
            raise UsageError(f"unknown {cls.what()} '{text}'", fix=f"use one of: {names}") from None

    @classmethod
    def metavar(cls) -> str:
        return "[" + "|".join(c.value for c in cls) + "]"


class ReportFormat(Choice):
    TABLE = "table"
    MARKDOWN = "markdown"
    CSV = "csv"
    JSON = "json"
    HTML = "html"


class OverdueFormat(Choice):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


class DocFormat(Choice):
    HTML = "html"
    MD = "md"
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
