"""policy.yaml is parsed once per text and kept in .git/complaintctl/policy.pickle.

The cache must never change what a command sees: a miss, a damaged file, an
edited or broken policy and a folder that cannot be written all give what
parsing the text gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from complaintctl.errors import PolicyError
from complaintctl.store.policyfile import load, load_text
from complaintctl.store.workspace import Workspace


def _cache(ws: Workspace) -> Path:
    return ws.root / ".git" / "complaintctl" / "policy.pickle"


def _fresh(ws: Workspace) -> Any:
    return Workspace(ws.root).policy


def test_the_kept_policy_is_the_parsed_one(ws: Workspace) -> None:
    text = (ws.root / "policy.yaml").read_text(encoding="utf-8")
    first = _fresh(ws)  # parses and keeps
    assert _cache(ws).is_file()
    kept_at = _cache(ws).stat().st_mtime_ns
    second = _fresh(ws)  # from the kept file
    assert _cache(ws).stat().st_mtime_ns == kept_at, "a hit must not rewrite the file"
    assert first == second == load_text(text, "policy.yaml")


@pytest.mark.parametrize(
    "damage",
    [b"", b"garbage", b"complaintctl policy cache 1\0" + b"x" * 32 + b"not a pickle", None],
    ids=["empty", "garbage", "right-prefix-wrong-key", "truncated"],
)
def test_a_damaged_cache_is_a_miss(ws: Workspace, damage: bytes | None) -> None:
    expected = _fresh(ws)
    kept = _cache(ws).read_bytes()
    _cache(ws).write_bytes(kept[: len(kept) // 2] if damage is None else damage)
    assert _fresh(ws) == expected
    assert _cache(ws).read_bytes() == kept, "the miss keeps the right data again"


def test_an_edited_policy_is_read_afresh(ws: Workspace) -> None:
    before = _fresh(ws)
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("timezone: Asia/Shanghai", "timezone: UTC"))
    after = _fresh(ws)
    assert before.timezone == "Asia/Shanghai" and after.timezone == "UTC"


def test_a_broken_policy_is_named_with_its_line_though_the_old_one_is_kept(ws: Workspace) -> None:
    _fresh(ws)
    policy = ws.root / "policy.yaml"
    lines = policy.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if line.startswith("timezone:"))
    lines[number] = "timezone: Mars/Olympus\n"
    policy.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        _fresh(ws)
    assert caught.value.where == f"policy.yaml:{number + 1}"


def test_a_folder_that_cannot_be_made_only_costs_the_parse(ws: Workspace) -> None:
    folder = ws.root / ".git" / "complaintctl"
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    folder.write_text("a file where the cache folder goes")  # mkdir fails, even as root
    assert _fresh(ws) == load(ws.root / "policy.yaml")
    assert folder.read_text() == "a file where the cache folder goes"


def test_a_cache_path_that_is_a_folder_only_costs_the_parse(ws: Workspace) -> None:
    _cache(ws).mkdir(parents=True)
    assert _fresh(ws) == load(ws.root / "policy.yaml")
    assert _cache(ws).is_dir() and not list(_cache(ws).parent.glob("policy.pickle.*.tmp"))


def test_a_cache_others_may_write_is_not_read(ws: Workspace) -> None:
    """Unpickling runs code: a file anyone else could have written is a miss."""
    import hashlib
    import pickle

    expected = _fresh(ws)
    text = (ws.root / "policy.yaml").read_text(encoding="utf-8")
    key = b"complaintctl policy cache 1\0" + hashlib.sha256(text.encode("utf-8")).digest()
    forged = pickle.loads(pickle.dumps({"forged": True}))
    _cache(ws).write_bytes(key + pickle.dumps(forged))
    _cache(ws).chmod(0o666)
    assert _fresh(ws) == expected  # not read: parsed afresh (and kept again, this user's only)
    assert _cache(ws).stat().st_mode & 0o777 == 0o600
    _cache(ws).write_bytes(key + pickle.dumps(forged))  # the same forgery, this user's own file
    _cache(ws).chmod(0o600)
    with pytest.raises(PolicyError):  # read: the forged data is what the policy check sees
        _fresh(ws)
