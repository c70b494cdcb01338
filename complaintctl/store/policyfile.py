"""Read policy.yaml (from a file, or a text git gave) into a core Policy.

Parsing YAML and reading files is the store's job; the rules of what a policy
may say are ``core.policy.parse``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from complaintctl.core import validate as v
from complaintctl.core.policy import Policy, parse
from complaintctl.errors import PolicyError


def load_text(text: str, source: str, cache: Path | None = None) -> Policy:
    """The policy ``text`` says; with ``cache``, its parsed YAML is kept there
    for the next command (see ``_cached``)."""
    from complaintctl.store.yamlio import line_of

    data = _cached(text, source, cache) if cache is not None else _plain(text, source)
    try:
        return parse(data)
    except v.Invalid as exc:
        line = line_of(text, exc.path)
        where = f"{source}:{line}" if line else source
        raise PolicyError(exc.what, where=where, fix=exc.fix) from None


def _plain(text: str, source: str) -> Any:
    from complaintctl.store.yamlio import load_plain

    return load_plain(text, source, PolicyError)


# Bumped when what the cache file holds changes.
_CACHE_FORMAT = b"complaintctl policy cache 1\0"


def _cached(text: str, source: str, cache: Path) -> Any:
    """policy.yaml's plain data, parsed once per text: every command reads the
    policy, and its YAML (comments and all, so the pure-Python parser) cost
    more than the rest of a 'note' in Python. The file holds the text's
    SHA-256 and the data, pickled; it is read only when this user owns it and
    no one else may write it (unpickling runs code; git refuses a workspace
    of another user's anyway). The data is only dicts, lists and scalars. A missing,
    damaged or foreign file is a miss; a file that cannot be written is fine."""
    import hashlib
    import pickle

    key = _CACHE_FORMAT + hashlib.sha256(text.encode("utf-8")).digest()
    try:
        with cache.open("rb") as handle:
            st = os.fstat(handle.fileno())
            # Unpickling runs code: only a file of this user's that no one else may write.
            if st.st_uid == os.getuid() and not st.st_mode & 0o022:
                kept = handle.read()
                if kept.startswith(key):
                    return pickle.loads(kept[len(key) :])
    except Exception:  # any damage is a miss: the text is parsed below
        pass
    data = _plain(text, source)
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(key + pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.chmod(0o600)
        os.replace(tmp, cache)
    except (OSError, pickle.PicklingError):
        with contextlib.suppress(OSError):
            tmp.unlink()
    return data


def load(path: Path, display: str = "policy.yaml", cache: Path | None = None) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(
            "no policy.yaml", where=display, fix="run 'complaintctl init DIR' to make a workspace"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read: {exc}", where=display) from None
    return load_text(text, display, cache)


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
