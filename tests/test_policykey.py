"""The index is keyed to the parts of the policy its rows and sums read
(indexrow.policy_key): a team change keeps it, a new time limit rebuilds it.
At 100k cases a rebuild takes minutes, and 'team add' is in the first hour
of the README."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from complaintctl.core import indexrow
from complaintctl.core.deadlines import Limit
from complaintctl.core.policy import Member, Policy, Tier
from complaintctl.store import calendar, caseindex, workspace
from complaintctl.store.workspace import parse_case
from tests.helpers import Workspace, git
from tests.test_report import twenty  # noqa: F401  (the fixture)

DEFAULTS = workspace.defaults_dir() / "policy.yaml"

# Each field the key leaves out, set to something else (an empty team even
# changes who may approve what): rows and sums must not notice.
OTHERWISE: dict[str, Any] = {
    "organisation": "Another Co.",
    "organisation_names": {"zh": "别的公司"},
    "letterhead": {"en": "1 Other Road"},
    "letter_language": "zh",
    "labels": {},
    "report_targets": {"first_reply": 10},
    "team": (Member("zed@example.com", "Zed", ("agent",)),),
    "roles": ("agent", "boss"),
    "policy_roles": ("boss",),
    "owner_only": (),
    "self_only": ("approve",),
    "approval_limits": {},
    "reply_signoffs": (Tier("boss", ("boss",)),),
    "evidence_max_bytes": 7,
    "allowed_signers": ".signers",
}


def default_policy() -> Policy:
    from complaintctl.store import policyfile

    return policyfile.load(DEFAULTS)


def test_the_table_covers_every_field_the_key_leaves_out() -> None:
    assert set(OTHERWISE) == indexrow.NOT_IN_ROWS
    assert {f.name for f in dataclasses.fields(Policy)} > indexrow.NOT_IN_ROWS


@pytest.mark.parametrize("name", sorted(OTHERWISE))
def test_a_field_rows_do_not_read_keeps_the_key(name: str) -> None:
    policy = default_policy()
    changed = dataclasses.replace(policy, **{name: OTHERWISE[name]})
    assert getattr(changed, name) != getattr(policy, name)
    assert indexrow.policy_key(changed) == indexrow.policy_key(policy)


def _rule(policy: Policy) -> Any:
    return dataclasses.replace(policy.rules, same_matter_within_s=60.0)


def _hours(policy: Policy, **change: Any) -> Any:
    assert policy.business_hours is not None
    return dataclasses.replace(policy.business_hours, **change)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("timezone", lambda p: "UTC"),
        ("categories", lambda p: (*p.categories, "parking")),
        ("severities", lambda p: tuple(reversed(p.severities))),
        ("stall_after_s", lambda p: p.stall_after_s + 1),
        ("time_limits", lambda p: dataclasses.replace(p.time_limits, warn_at=0.5)),
        ("business_hours", lambda p: _hours(p, closed=frozenset({date(2026, 12, 31)}))),
        ("business_hours", lambda p: _hours(p, holidays=None)),
        ("business_hours", lambda p: None),
        ("currencies", lambda p: {**p.currencies, "XTS": 2}),
        ("rules", _rule),
        ("case_file_max_bytes", lambda p: 5),
        ("states", lambda p: dict(reversed(list(p.states.items())))),  # the report's order
    ],
)
def test_a_field_rows_read_changes_the_key(name: str, value: Any) -> None:
    policy = default_policy()
    changed = dataclasses.replace(policy, **{name: value(policy)})
    assert indexrow.policy_key(changed) != indexrow.policy_key(policy)


def test_what_a_policy_works_out_once_is_not_in_its_key_nor_carried_into_a_changed_copy() -> None:
    """Limits, tier names and open states are made once per policy object
    (cached outside its fields): not in the key, not in ==, and a copy with
    other limits works its own out."""
    policy, fresh = default_policy(), default_policy()
    key = indexrow.policy_key(policy)
    general = policy.limits_for("general", False)
    assert policy.tier_names and policy.open_states and general["resolution"]
    assert policy.limits_for("general", False) is general  # made once
    assert indexrow.policy_key(policy) == key and policy == fresh
    rules = {
        c: tuple(dataclasses.replace(r, limit=Limit(60.0, False)) for r in rs)
        for c, rs in policy.time_limits.rules.items()
    }
    quicker = dataclasses.replace(policy, time_limits=dataclasses.replace(policy.time_limits, rules=rules))
    assert quicker.limits_for("general", False)["resolution"] == Limit(60.0, False) != general["resolution"]
    assert dataclasses.replace(policy, tiers=policy.tiers[:1]).tier_names == policy.tier_names[:1]


def test_the_key_is_the_same_in_every_process() -> None:
    """Sets of dates iterate in an order that differs between processes
    (string and date hashes are salted): the key sorts them."""
    script = (
        "import dataclasses; from datetime import date; from complaintctl.core import indexrow;"
        "from tests.test_policykey import default_policy; p = default_policy();"
        "days = frozenset(date(2026, 1, d) for d in range(1, 29));"
        "h = dataclasses.replace(p.business_hours, closed=days, open=days);"
        "print(indexrow.policy_key(dataclasses.replace(p, business_hours=h)))"
    )
    root = Path(__file__).resolve().parent.parent
    keys = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)},
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(keys) == 1 and len(keys.pop().strip()) == 64


def test_a_field_the_key_cannot_encode_is_refused() -> None:
    policy = default_policy()
    odd = dataclasses.replace(policy, organisation_names={"en": object()}, timezone=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot encode a object"):
        indexrow.policy_key(odd)
    assert indexrow.policy_key(dataclasses.replace(policy, evidence_max_bytes=Decimal(1))) == (  # type: ignore[arg-type]
        indexrow.policy_key(policy)
    )


def _rows(root: Path, policy: Policy) -> list[Any]:
    cal = calendar.build(policy, root / ".git" / "complaintctl")
    out = []
    for path in sorted((root / "cases").rglob("*.yaml")):
        rel = str(path.relative_to(root))
        case = parse_case(path.read_text(encoding="utf-8"), rel, policy, roundtrip=False)
        out.append(indexrow.row(case, policy.time_limits.pause_states, policy, cal))
    return out


def test_rows_do_not_read_the_fields_the_key_leaves_out(ws: Workspace, twenty: list[str]) -> None:  # noqa: F811
    policy = workspace.find_workspace(str(ws.root)).policy
    rows = _rows(ws.root, policy)
    assert len(rows) == 20 and any(r["settled"] for r in rows) and any(r["work_hours"] is None for r in rows)
    assert _rows(ws.root, dataclasses.replace(policy, **OTHERWISE)) == rows


def test_a_team_change_keeps_the_index_and_a_time_limit_rebuilds_it(
    run: Any,
    ws: Workspace,
    twenty: list[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    views = [("list", "--all"), ("report", "--format", "json"), ("overdue", "--format", "json")]

    def outputs() -> list[tuple[int, str]]:
        return [(r.exit_code, r.stdout) for r in (run(*args) for args in views)]

    before = outputs()
    flagged = run("verify").stdout  # the fixture's own policy edit, committed with git alone
    assert flagged.count("\n") == 1 and "policy.yaml: changed outside complaintctl" in flagged
    assert before[1][0] == 0 and json.loads(before[1][1])["received"] == 20
    parsed: list[str] = []
    entry = caseindex._entry

    def counted(ws: Any, rel: str, blob: str) -> dict[str, Any]:
        parsed.append(rel)
        return entry(ws, rel, blob)

    monkeypatch.setattr(caseindex, "_entry", counted)
    manager = "dave@example.com"
    added = run("team", "add", "zed@example.com", "--name", "Zed", "--role", "agent", "--reason", "Joined")
    assert added.exit_code == 1 and "may not change the team" in added.stderr  # alice is no manager
    for args in [
        (
            "team",
            "add",
            "zed@example.com",
            "--name",
            "Zed",
            "--role",
            "agent",
            "--reason",
            "Joined",
            "--as",
            manager,
        ),
        ("team", "roles", "zed@example.com", "--role", "supervisor", "--reason", "Promoted", "--as", manager),
    ]:
        assert run(*args).exit_code == 0
        assert outputs() == before
    assert parsed == []  # no case file read again
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text().replace("stall_after: 72h", "stall_after: 24h"))
    assert run("policy", "commit", "--reason", "Stalled after a day", "--as", manager).exit_code == 0
    assert outputs()[1][0] == 0
    assert sorted(set(parsed)) == sorted(
        str(p.relative_to(ws.root)) for p in (ws.root / "cases").rglob("*.yaml")
    )
    assert (run("verify").stdout, git(ws.root, "status", "--porcelain")) == (flagged, "")
