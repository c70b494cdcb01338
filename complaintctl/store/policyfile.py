"""Read policy.yaml (from a file, or a text git gave) into a core Policy.

Parsing YAML and reading files is the store's job; the rules of what a policy
may say are ``core.policy.parse``.
"""

from __future__ import annotations

from pathlib import Path

from complaintctl.core import validate as v
from complaintctl.core.policy import Policy, parse
from complaintctl.errors import PolicyError


def load_text(text: str, source: str) -> Policy:
    from complaintctl.store.yamlio import line_of, load_plain

    data = load_plain(text, source, PolicyError)
    try:
        return parse(data)
    except v.Invalid as exc:
        line = line_of(text, exc.path)
        where = f"{source}:{line}" if line else source
        raise PolicyError(exc.what, where=where, fix=exc.fix) from None


def load(path: Path, display: str = "policy.yaml") -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(
            "no policy.yaml", where=display, fix="run 'complaintctl init DIR' to make a workspace"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read: {exc}", where=display) from None
    return load_text(text, display)
