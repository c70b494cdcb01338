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


def _scalar(text: str) -> str:
    """A YAML scalar for a name or id: plain when that is safe, else quoted."""
    import json
    import re

    if re.fullmatch(r"[^\s:#\[\]{},&*!|>'\"%@`-][^:#\[\]{},]*", text) and text == text.strip():
        return text
    return json.dumps(text, ensure_ascii=False)


def replace_team(text: str, team: list[tuple[str, str, tuple[str, ...]]]) -> str:
    """policy.yaml's text with its top-level ``team:`` block rewritten to
    ``team`` (id, name, roles), everything else byte for byte (comments too),
    so the commit's diff shows only the team."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.startswith("team:")), None)
    if start is None:
        raise PolicyError("no top-level 'team:' key", where="policy.yaml", fix="add 'team: []'")
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():  # blank lines stay with what follows
        end -= 1
    if not team:
        block = ["team: []\n"]
    else:
        block = ["team:\n"]
        for member_id, name, roles in team:
            block += [
                f"  - id: {_scalar(member_id)}\n",
                f"    name: {_scalar(name)}\n",
                f"    roles: [{', '.join(roles)}]\n",
            ]
    return "".join(lines[:start] + block + lines[end:])
