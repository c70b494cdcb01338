"""Pure: what 'overdue' lists of a case as of a moment: one item per
breached (and with warn, nearly breached) running clock, and with warn the
wait on the customer a case is in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from complaintctl.core.casestatus import CaseStatus
from complaintctl.core.deadlines import format_span, left_text
from complaintctl.core.records import case_relpath

ORDER = {"breached": 0, "warning": 1, "waiting": 2}


def items(st: CaseStatus, warn: bool, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """The case's items (docs/json.md), in the order of its clocks."""
    out = []
    row = st.row
    wanted = st.breached + (st.warnings if warn else [])
    for c in wanted:
        out.append(
            {
                "case": row["id"],
                "file": case_relpath(row["id"]),
                "clock": c.clock,
                "status": c.status,
                "due": c.due.isoformat() if c.due else None,
                "late": format_span(c.late_seconds) if c.status == "breached" else None,
                "late_seconds": int(c.late_seconds),
                "left": left_text(c) if c.status == "warning" else None,
                "owner": row["owner"],
                "tier": row["tier"],
                "severity": st.level,
                "stalled": st.stalled,
            }
        )
    since = st.waiting_since(as_of) if warn and as_of is not None else None
    if since is not None:  # paused clocks: listed so that a wait is never forgotten
        out.append(
            {
                "case": row["id"],
                "file": case_relpath(row["id"]),
                "clock": "waiting on the customer",
                "status": "waiting",
                "due": None,
                "since": since.isoformat(),
                "late": None,
                "late_seconds": 0,
                "left": None,
                "owner": row["owner"],
                "tier": row["tier"],
                "severity": st.level,
                "stalled": st.stalled,
            }
        )
    return out


def sort_key(item: dict[str, Any]) -> tuple[int, int, str]:
    """Overdue first, the latest first; then near their limit; then waiting."""
    return (ORDER[str(item["status"])], -int(item["late_seconds"] or 0), str(item["case"]))
