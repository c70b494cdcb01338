"""Colour on a terminal, never in a pipe or a log (https://no-color.org)."""

from __future__ import annotations

import os
from typing import TextIO

# Terminal style codes (SGR), by what they mean here.
RED = "31"
YELLOW = "33"
BOLD = "1"
DIM = "2"

# How a row of the queue is coloured, by its effective severity.
SEVERITY = {"major": f"{BOLD};{RED}", "hot": RED, "important": YELLOW}


def wanted(stream: TextIO) -> bool:
    """Colour only on a terminal, and not when NO_COLOR is set (to anything)
    or the terminal says it cannot (TERM=dumb)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, style: str, on: bool) -> str:
    return f"\033[{style}m{text}\033[0m" if on and style else text
