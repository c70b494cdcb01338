"""`report` against a workspace of 20 cases whose figures were worked out by hand.

Case k (0..19) is opened on 1 Oct 2026 09:00 + 2k days, by phone; billing when
k is even, else delivery-delay; owned by alice for k < 10, else bob.
Replied after k+1 hours for k < 16; closed (explained) after 24(k+1) hours
for k < 12; followed up with score 1 + k % 5 for k < 10. Cases 0, 2 and 4
share the matter 'oct-batch'. Cases 12 and 13 are escalated. The policy's
resolution limit is 7 calendar days; "now" is 22 Nov 2026 10:00.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.conftest import Workspace, git, open_args

START = datetime.fromisoformat("2026-10-01T09:00:00+08:00")


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def twenty(run: Any, ws: Workspace) -> list[str]:
    policy = ws.root / "policy.yaml"
    text = policy.read_text()
    old = "  resolution:\n    - {severity: [major], limit: 5d}\n    - {urgent: true, limit: 7d}\n    - {limit: 80h, count: business}\n"
    assert old in text
    policy.write_text(text.replace(old, "  resolution:\n    - {limit: 7d}\n"))
    git(ws.root, "commit", "-qam", "Resolution limit: 7 calendar days")
    ids = []
    for k in range(20):
        opened = START + timedelta(days=2 * k)
        over: dict[str, str | bool] = {
            "at": stamp(opened), "phone": f"1380000{k:04d}", "customer": f"Customer {k}",
            "category": "billing" if k % 2 == 0 else "delivery-delay",
            "owner": "alice@example.com" if k < 10 else "bob@example.com",
        }  # fmt: skip
        if k in (0, 2, 4):
            over["matter"] = "oct-batch"
        result = run(*open_args(**over))
        assert result.exit_code == 0, result.stderr
        case_id = result.stdout.strip()
        ids.append(case_id)
        steps = []
        if k < 16:
            steps.append((k + 1, ["note", case_id, "Sorry", "--kind", "reply", "--channel", "phone"]))
        if k in (12, 13):
            steps.append((k + 2, ["escalate", case_id, "--reason", "Slow"]))
        if k < 12:
            steps.append((24 * (k + 1), ["close", case_id, "--resolution", "explained"]))
        if k < 10:
            steps.append((24 * (k + 1) + 1, ["followup", case_id, "--satisfaction", str(1 + k % 5)]))
        for hours, args in steps:
            result = run(*args, "--at", stamp(opened + timedelta(hours=hours)))
            assert result.exit_code == 0, (args, result.stderr)
    return ids


def figures(run: Any, *args: str) -> dict[str, Any]:
    result = run("report", "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_figures_match_the_hand_computed_ones(run: Any, ws: Workspace, twenty: list[str]) -> None:
    r = figures(run)
    assert (r["received"], r["resolved"], r["open"], r["overdue"], r["repeat"]) == (20, 12, 8, 8, 0)
    assert r["breakdowns"]["category"] == {"delivery-delay": 10, "billing": 10}
    assert r["breakdowns"]["owner"] == {"alice@example.com": 10, "bob@example.com": 10}
    assert r["breakdowns"]["status"] == {"open": 4, "in-progress": 4, "closed": 2, "followed-up": 10}
    # Closed at 7 days or later (k >= 6) and still open (k >= 12): a week unresolved is hot;
    # so are 0, 2 and 4, the same matter from 3 customers. Left general: 1, 3, 5.
    assert r["breakdowns"]["severity"] == {"hot": 17, "general": 3}
    # Replies after 1..16 hours: median 8.5, mean 8.5, p90 between the 14th and 15th: 14.5.
    assert r["first_reply"] == {"count": 16, "median_h": 8.5, "mean_h": 8.5, "p90_h": 14.5}
    # Closed after 24..288 hours: median and mean 156; p90 = 240 + 0.9 * 24.
    assert r["resolution"] == {"count": 12, "median_h": 156.0, "mean_h": 156.0, "p90_h": 261.6}
    # First reply: 16 met, 4 never answered (breached). Resolution: 7 within 168 h,
    # 5 closed later, 8 still open and past 7 days.
    assert r["within_limit"] == {
        "first_reply": {"met": 16, "decided": 20, "percent": 80.0},
        "resolution": {"met": 7, "decided": 20, "percent": 35.0},
    }
    assert r["escalations"] == {"supervisor": 2}
    assert (r["satisfaction_mean"], r["reached"], r["unreachable"], r["followed_up"]) == (3.0, 10, 0, 10)
    assert r["satisfaction"] == {"1": 2, "2": 2, "3": 2, "4": 2, "5": 2}
    assert r["hot_spots"] == [
        {"category": "billing", "matter": "oct-batch", "cases": 3, "customers": 3, "open": 0}
    ]
    # Opened 1 Oct + 2k days: k <= 15 in October. Closed 1 Oct + (3k + 1) days: k <= 9 in October.
    assert r["trend"] == [
        {"month": "2026-10", "received": 16, "resolved": 10},
        {"month": "2026-11", "received": 4, "resolved": 2},
    ]
    assert [o["case"] for o in r["oldest_open"]] == twenty[12:17]
    assert r["oldest_open"][0] == {
        "case": twenty[12], "opened": "2026-10-25", "days": 28, "state": "in-progress", "severity": "hot",
        "owner": "bob@example.com", "category": "billing",
    }  # fmt: skip


def test_period_scope_and_as_of(run: Any, ws: Workspace, twenty: list[str]) -> None:
    november = figures(run, "--since", "2026-11-01", "--until", "2026-12-01")
    assert (november["received"], november["resolved"]) == (4, 2)
    assert november["trend"] == [{"month": "2026-11", "received": 4, "resolved": 2}]
    bob = figures(run, "--owner", "bob@example.com")
    assert (bob["received"], bob["resolved"], bob["open"]) == (10, 2, 8)
    billing = figures(run, "--category", "billing")
    assert billing["received"] == 10
    early = figures(run, "--as-of", "2026-10-10T00:00")
    # By then: k = 0..4 opened; k = 0, 1, 2 closed (2 Oct, 5 Oct, 8 Oct).
    assert (early["received"], early["resolved"], early["open"]) == (5, 3, 2)
    assert run("report", "--category", "misc").stderr.startswith("complaintctl: unknown category 'misc'")


def test_every_format(run: Any, ws: Workspace, twenty: list[str]) -> None:
    table = run("report").stdout
    assert "Time taken (hours)\nMeasure      Cases    Median    Mean    90th pct\n" in table
    assert max(len(line) for line in table.splitlines()) <= 100
    markdown = run("report", "--format", "markdown").stdout
    assert "## Within the time limit\n\n| Clock       | Met   | Decided   | Share   |\n" in markdown
    csv = run("report", "--format", "csv", "--table", "times").stdout
    assert (
        csv
        == "Measure,Cases,Median,Mean,90th pct\nFirst reply,16,8.5,8.5,14.5\nResolution,12,156,156,261.6\n"
    )
    trend = run("report", "--format", "csv", "--table", "trend").stdout
    assert trend == "Month,Received,Resolved\n2026-10,16,10\n2026-11,4,2\n"
    bad = run("report", "--format", "csv", "--table", "nope")
    assert bad.exit_code == 2 and "no table 'nope'" in bad.stderr
    html = run("report", "--format", "html").stdout
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert html.count("<svg") == 5 and "13800000" not in html and "Customer 1" not in html
    Checker().check(html)


class Checker(HTMLParser):
    """Every element that is opened is closed, in order (void elements aside)."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr"})

    def check(self, html: str) -> None:
        self.stack: list[str] = []
        self.feed(html)
        self.close()
        assert self.stack == []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()


def test_case_lines_are_masked_and_limited(run: Any, ws: Workspace, twenty: list[str]) -> None:
    out = run("report", "--cases", "--limit", "5").stdout.splitlines()
    assert len(out) == 2 + 5 + 1 and out[-1] == "(showing 5 of 20; use --limit 0 for all)"
    assert "C******* 0" in out[2] and "Customer 0" not in "\n".join(out)
    pii = run("report", "--cases", "--limit", "0", "--show-pii").stdout.splitlines()
    assert len(pii) == 2 + 20 + 1 and "Customer 0" in pii[2]
    assert pii[-1] == "Contains customer personal data (--show-pii): do not pass it on."


def test_the_index_never_changes_an_answer(run: Any, ws: Workspace, twenty: list[str]) -> None:
    fresh = run("report", "--format", "json").stdout
    index_dir = ws.root / ".git" / "complaintctl"
    for index in index_dir.glob("index-*.json"):
        index.write_text('{"policy": "x", "blobs": {"abc": {"row": 1}}')  # corrupt
    assert run("report", "--format", "json").stdout == fresh
    for index in index_dir.glob("index-*.json"):
        index.unlink()
    assert run("report", "--format", "json").stdout == fresh
    early = run("report", "--format", "json", "--as-of", "2026-10-10T00:00").stdout
    assert '"received": 5' in early
    for facts in index_dir.glob("facts-*.json"):
        facts.unlink()  # settled cases then re-read their files for an earlier as-of
    assert run("report", "--format", "json", "--as-of", "2026-10-10T00:00").stdout == early
    git(ws.root, "checkout", "-q", "HEAD~5")  # an older history: fewer events
    older = run("report", "--format", "json").stdout
    git(ws.root, "checkout", "-q", "main")
    assert older != fresh and run("report", "--format", "json").stdout == fresh
    path = ws.case_file(twenty[19])
    path.write_text(path.read_text().replace("category: delivery-delay", "category: billing"))
    edited = figures(run)
    assert edited["breakdowns"]["category"] == {"delivery-delay": 9, "billing": 11}
