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
import shutil
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import Workspace, git, open_args

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
        if k in (12, 13):  # to the supervisor tier: Carol takes them on
            steps.append((k + 2, ["escalate", case_id, "--reason", "Slow", "--to", "carol@example.com"]))
        if k < 12:  # closed by the owner (first-contact ownership)
            steps.append(
                (24 * (k + 1), ["close", case_id, "--resolution", "explained", "--as", str(over["owner"])])
            )
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


@given(st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1, max_size=60))
def test_durations_are_the_statistics_modules(hours: list[float]) -> None:
    """figures.durations takes median, mean and 90th percentile by the
    statistics module's own formulas, without sorting again."""
    import statistics

    from complaintctl.reports import figures as rep

    ordered = sorted(hours)
    p90 = ordered[0] if len(hours) == 1 else statistics.quantiles(ordered, n=10, method="inclusive")[8]
    want = rep.Durations(
        len(hours),
        round(statistics.median(hours), 2),
        round(statistics.fmean(hours), 2),
        round(p90, 2),
    )
    assert rep.durations(hours) == want
    assert rep.mean([int(h) for h in hours]) == statistics.fmean([int(h) for h in hours])


def test_figures_match_the_hand_computed_ones(run: Any, ws: Workspace, twenty: list[str]) -> None:
    r = figures(run)
    assert (r["received"], r["resolved"], r["open"], r["overdue"], r["repeat"]) == (20, 12, 8, 8, 0)
    assert r["breakdowns"]["category"] == {"delivery-delay": 10, "billing": 10}
    assert r["breakdowns"]["owner"] == {"alice@example.com": 10, "bob@example.com": 8, "carol@example.com": 2}
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
    # Keep informed (72 h): closed within 72 h of the reply for k <= 2 (met); later for 3..11 and
    # still open for 12..15 (breached); 16..19 were never answered (not decided: first reply was).
    # Follow-up (7 days): 10 within an hour of closing, 10 and 11 never.
    assert r["within_limit"] == {
        "first_reply": {"met": 16, "decided": 20, "percent": 80.0},
        "resolution": {"met": 7, "decided": 20, "percent": 35.0},
        "keep_informed": {"met": 3, "decided": 16, "percent": 18.8},
        "followup": {"met": 10, "decided": 12, "percent": 83.3},
    }
    # Every open case has a clock breached and no escalation after it (12 and 13 were escalated
    # before their resolution limit): all 8 are stalled. No money, no lessons, no period.
    assert (r["stalled"], r["compensation"], r["double_refunds"], r["lessons"]) == (8, [], [], [])
    assert r["year_before"] is None
    assert r["escalations"] == {"supervisor": 2}
    assert (r["satisfaction_mean"], r["reached"], r["unreachable"], r["followed_up"]) == (3.0, 10, 0, 10)
    assert r["satisfaction"] == {"1": 2, "2": 2, "3": 2, "4": 2, "5": 2}
    assert r["hot_spots"] == [
        {"category": "billing", "matter": "oct-batch", "cases": 3, "customers": 3, "open": 0}
    ]
    # Opened 1 Oct + 2k days: k <= 15 in October. Closed 1 Oct + (3k + 1) days: k <= 9 in October.
    # First reply by month received: October's 16 all answered in time; November's 4 never.
    assert r["trend"] == [
        {"month": "2026-10", "received": 16, "resolved": 10,
         "first_reply_met": 16, "first_reply_decided": 16, "first_reply_percent": 100.0},
        {"month": "2026-11", "received": 4, "resolved": 2,
         "first_reply_met": 0, "first_reply_decided": 4, "first_reply_percent": 0.0},
    ]  # fmt: skip
    assert [o["case"] for o in r["oldest_open"]] == twenty[12:17]
    assert r["oldest_open"][0] == {
        "case": twenty[12], "opened": "2026-10-25", "days": 28, "state": "in-progress", "severity": "hot",
        "owner": "carol@example.com", "category": "billing",
    }  # fmt: skip


def test_period_scope_and_as_of(run: Any, ws: Workspace, twenty: list[str]) -> None:
    november = figures(run, "--since", "2026-11-01", "--until", "2026-12-01")
    assert (november["received"], november["resolved"]) == (4, 2)
    assert november["trend"] == [
        {"month": "2026-11", "received": 4, "resolved": 2,
         "first_reply_met": 0, "first_reply_decided": 4, "first_reply_percent": 0.0}
    ]  # fmt: skip
    bob = figures(run, "--owner", "bob@example.com")
    assert (bob["received"], bob["resolved"], bob["open"]) == (8, 2, 6)  # 12 and 13 went up to Carol
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
    assert "## Within the time limit\n\n| Clock                | Met   | Decided   | Share   |\n" in markdown
    csv = run("report", "--format", "csv", "--table", "times").stdout
    assert (
        csv
        == "Measure,Cases,Median,Mean,90th pct\nFirst reply,16,8.5,8.5,14.5\nResolution,12,156,156,261.6\n"
    )
    trend = run("report", "--format", "csv", "--table", "trend").stdout
    assert trend == (
        "Month,Received,Resolved,First reply within the limit (%)\n2026-10,16,10,100.0\n2026-11,4,2,0.0\n"
    )
    bad = run("report", "--format", "csv", "--table", "nope")
    assert bad.exit_code == 2 and "no table 'nope'" in bad.stderr
    html = run("report", "--format", "html").stdout
    fetched = html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, never fetched
    assert "<script" not in html and "http://" not in fetched and "https://" not in fetched
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
    assert list(index_dir.glob("v*/rows-*.json")) and list(index_dir.glob("v*/sums-*.json"))
    for index in index_dir.glob("v*/*-*.json"):
        index.write_text('{"policy": "x", "blobs": {"abc": {"row": 1}}')  # corrupt
    assert run("report", "--format", "json").stdout == fresh
    for index in index_dir.glob("v*/*-*.json"):
        index.unlink()
    assert run("report", "--format", "json").stdout == fresh
    early = run("report", "--format", "json", "--as-of", "2026-10-10T00:00").stdout
    assert '"received": 5' in early
    facts = list(index_dir.glob("v*/facts-*.json"))
    assert facts
    for path in facts:
        path.unlink()  # settled cases then re-read their files for an earlier as-of
    assert run("report", "--format", "json", "--as-of", "2026-10-10T00:00").stdout == early
    git(ws.root, "checkout", "-q", "HEAD~5")  # an older history: fewer events
    older = run("report", "--format", "json").stdout
    git(ws.root, "checkout", "-q", "main")
    assert older != fresh and run("report", "--format", "json").stdout == fresh
    path = ws.case_file(twenty[19])
    path.write_text(path.read_text().replace("category: delivery-delay", "category: billing"))
    assert run("report", "--format", "json").stdout == fresh  # not on record: not counted
    git(ws.root, "commit", "-qam", "hand edit")  # on record (verify names it)
    edited = figures(run)
    assert edited["breakdowns"]["category"] == {"delivery-delay": 9, "billing": 11}


# ---------------------------------------------------------------- stored sums and timelines
#
# A report adds each month's stored sums where they are exact for it and
# looks the other cases up on their timelines. The reference is the full
# evaluation: every case through casestatus.status, no sums, no timelines.

SCOPES: list[tuple[str, ...]] = [
    (),
    ("--since", "2026-11-01", "--until", "2026-12-01"),
    ("--since", "2026-10-10"),  # cuts through October: its sums cannot tell
    ("--until", "2026-11-01"),
    ("--as-of", "2026-10-20T12:00"),
    ("--as-of", "2026-11-05T09:30", "--since", "2026-10-01"),
    ("--category", "billing"),
    ("--owner", "bob@example.com"),
    ("--severity", "hot"),
    ("--severity", "general", "--until", "2026-10-15T12:30"),
]


def full_evaluation(run: Any, monkeypatch: pytest.MonkeyPatch, *args: str, env: Any = None) -> Any:
    from complaintctl.core import timeline
    from complaintctl.reports import memo, monthsums
    from complaintctl.store import caseindex

    with monkeypatch.context() as patch:
        patch.setattr(timeline, "at", lambda *_a, **_k: None)
        patch.setattr(monthsums, "usable", lambda *_a, **_k: False)
        patch.setattr(memo, "restored", lambda *_a, **_k: None)
        patch.setattr(caseindex, "save_memo", lambda *_a, **_k: None)  # the reference keeps none
        return run("report", *args, env=env)


def sums_files(ws: Workspace) -> list[Any]:
    return sorted((ws.root / ".git" / "complaintctl").glob("v*/sums-*.json"))


def test_stored_sums_give_the_full_evaluation(
    run: Any, ws: Workspace, twenty: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = {args: full_evaluation(run, monkeypatch, "--format", "json", *args).stdout for args in SCOPES}
    for args in SCOPES:
        for index in (ws.root / ".git" / "complaintctl").glob("v*"):
            for path in index.iterdir():
                path.unlink()
        cold = run("report", "--format", "json", *args).stdout
        assert cold == expected[args], args
        assert sums_files(ws)  # made by the cold run
        assert run("report", "--format", "json", *args).stdout == expected[args], args
    for fmt in ("table", "markdown", "html"):
        assert (
            run("report", "--format", fmt).stdout == full_evaluation(run, monkeypatch, "--format", fmt).stdout
        )
    assert run("report", "--cases").stdout == full_evaluation(run, monkeypatch, "--cases").stdout
    # Weeks later, cases that were still changing have settled: the sums take them in.
    later = {"COMPLAINTCTL_NOW": "2027-01-10T10:00:00+08:00"}
    before = [path.read_text() for path in sums_files(ws)]
    result = run("report", "--format", "json", env=later)
    assert result.stdout == full_evaluation(run, monkeypatch, "--format", "json", env=later).stdout
    assert [path.read_text() for path in sums_files(ws)] != before
    for args in SCOPES:
        got = run("report", "--format", "json", *args, env=later).stdout
        assert got == full_evaluation(run, monkeypatch, "--format", "json", *args, env=later).stdout, args


def memo_files(ws: Workspace) -> list[Any]:
    return sorted((ws.root / ".git" / "complaintctl").glob("v*/memo-*.json"))


def test_a_kept_report_serves_its_window_only(
    run: Any, ws: Workspace, twenty: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report keeps its sums for its scope until the first step of any
    case's timeline; a report in that window starts from them (the file is
    not written again), one at or after it does not, and both give what
    the full evaluation gives."""
    now = "2026-11-22T10:00:00+08:00"
    env = {"COMPLAINTCTL_NOW": now}
    assert run("report", "--format", "json", env=env).exit_code == 0
    (path,) = memo_files(ws)
    kept = json.loads(path.read_text())
    start, until = kept["memo"]["from"], kept["memo"]["until"]
    assert until is not None and until > start  # case 19 is still moving: its clocks have steps ahead
    epoch = datetime.fromisoformat("1970-01-01T00:00:00+00:00")

    def at(us: int) -> dict[str, str]:
        return {"COMPLAINTCTL_NOW": (epoch + timedelta(microseconds=us)).isoformat()}

    for moment, served in ((start, True), (until - 1, True), (until, False), (start - 1, False)):
        path.write_text(json.dumps(kept))
        got = run("report", "--format", "json", env=at(moment)).stdout
        assert (json.loads(path.read_text()) == kept) is served, moment  # not served: made again
        assert got == full_evaluation(run, monkeypatch, "--format", "json", env=at(moment)).stdout, moment
    # Each scope keeps its own; a commit (a new tree) makes every one of them stale.
    for args in SCOPES[:3]:
        assert run("report", "--format", "json", *args, env=env).exit_code == 0
    assert len(memo_files(ws)) == 4  # and the same period a year before, compared with it
    before = {p.name: p.read_text() for p in memo_files(ws)}
    result = run("note", twenty[19], "Called again", "--at", "2026-11-22T09:30", env=env)
    assert result.exit_code == 0, result.stderr
    for args in SCOPES[:3]:
        got = run("report", "--format", "json", *args, env=env).stdout
        assert got == full_evaluation(run, monkeypatch, "--format", "json", *args, env=env).stdout, args
    assert all(p.read_text() != before[p.name] for p in memo_files(ws))


def test_a_damaged_kept_report_is_made_again(
    run: Any, ws: Workspace, twenty: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"COMPLAINTCTL_NOW": "2026-11-22T10:00:00+08:00"}
    expected = full_evaluation(run, monkeypatch, "--format", "json", env=env).stdout
    assert run("report", "--format", "json", env=env).stdout == expected
    (path,) = memo_files(ws)
    good = json.loads(path.read_text())
    for damage in (
        {"received": "20"},
        {"replies": ["1.5"]},
        {"counters": {}},
        {"oldest": [[1, "a", "row", "general"]]},
        {"money": {"refund\x1fCNY": [1, 2]}},
        {"scope": None},
    ):
        path.write_text(json.dumps({**good, "memo": {**good["memo"], **damage}}))
        assert run("report", "--format", "json", env=env).stdout == expected, damage
        assert json.loads(path.read_text()) == good, damage  # made again, as it was
    path.write_text("{")
    assert run("report", "--format", "json", env=env).stdout == expected


def test_sums_follow_hand_edits_new_files_checkouts_and_damage(
    run: Any, ws: Workspace, twenty: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def same(*args: str) -> dict[str, Any]:
        got = run("report", "--format", "json", *args)
        assert got.stdout == full_evaluation(run, monkeypatch, "--format", "json", *args).stdout, args
        assert got.stderr == full_evaluation(run, monkeypatch, "--format", "json", *args).stderr, args
        return dict(json.loads(got.stdout))

    first = same()
    assert sums_files(ws)
    # A hand edit of a case closed and followed up in October (a settled month).
    path = ws.case_file(twenty[1])
    original = path.read_text()
    path.write_text(original.replace("category: delivery-delay", "category: billing"))
    assert same() == first  # not on record: the committed case is counted
    git(ws.root, "commit", "-qam", "Hand edit")  # on record, at another tree id
    assert same()["breakdowns"]["category"] == {"delivery-delay": 9, "billing": 11}
    same("--category", "billing")
    edited = same()
    # A new file nobody has added yet, and a deleted one: neither is on record.
    text = ws.case_file(twenty[3]).read_text()
    extra = ws.root / "cases" / "2026" / "10" / "C-20261007-ZZZZZZ.yaml"
    extra.write_text(text.replace(twenty[3], "C-20261007-ZZZZZZ"))
    assert same() == edited
    git(ws.root, "add", str(extra))
    assert same() == edited  # staged is not committed either
    git(ws.root, "commit", "-qm", "Hand-made case")
    assert same()["received"] == 21
    git(ws.root, "rm", "-q", str(extra))
    ws.case_file(twenty[5]).unlink()
    assert same()["received"] == 21
    git(ws.root, "commit", "-qam", "Hand deletes")
    assert same()["received"] == 19
    git(ws.root, "reset", "-q", "--hard", "HEAD~2")
    assert same() == edited
    # Staged changes of an older history, then the older history itself.
    git(ws.root, "checkout", "-q", "HEAD~6", "--", "cases")
    assert same() == edited
    git(ws.root, "reset", "-q", "--hard")
    git(ws.root, "checkout", "-q", "HEAD~6")
    older = same()
    git(ws.root, "checkout", "-q", "main")
    assert older != same()
    git(ws.root, "revert", "--no-edit", "HEAD")
    assert same() == first
    # Damaged sums: cut short, or another month's.
    files = sums_files(ws)
    assert len(files) == 2
    october = files[0].read_bytes()
    files[0].write_bytes(october[: len(october) // 2])
    files[1].write_bytes(october)
    assert same() == first
    for path in files:
        data = json.loads(path.read_text())
        data["sums"]["cells"] = {"billing\x1falice@example.com\x1fhot": {"open": "many"}}
        path.write_text(json.dumps(data))
    assert same() == first
    # An unreadable case file is reported on every run, sums or not.
    broken = ws.root / "cases" / "2026" / "10" / "C-20261008-YYYYYY.yaml"
    broken.write_text("schema: 1\nid: [\n")
    git(ws.root, "add", "cases")
    git(ws.root, "commit", "-qm", "Broken file")
    for _ in range(2):
        result = run("report", "--format", "json")
        assert "complaintctl: skipped cases/2026/10/C-20261008-YYYYYY.yaml" in result.stderr
        assert json.loads(result.stdout) == first


def settled_files(ws: Workspace) -> list[Any]:
    return sorted((ws.root / ".git" / "complaintctl").glob("v*/settled.json"))


def test_settled_months_are_read_from_one_file(
    run: Any, ws: Workspace, twenty: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once no case of a month is still moving, its sums join settled.json,
    valid for the folder's tree id at HEAD: a report reads that one file
    instead of the month's own sums, and gives what a full evaluation gives
    after commits, checkouts, a new policy and damage to the file."""
    later = {"COMPLAINTCTL_NOW": "2027-01-10T10:00:00+08:00"}  # November has settled; October
    # keeps the cases on a matter, which are always evaluated

    def same(*args: str) -> str:
        got = run("report", "--format", "json", *args, env=later)
        assert got.exit_code == 0, got.stderr
        assert got.stdout == full_evaluation(run, monkeypatch, "--format", "json", *args, env=later).stdout, (
            args
        )
        return str(got.stdout)

    first = same()
    [path] = settled_files(ws)
    november = git(ws.root, "rev-parse", "HEAD:cases/2026/11").strip()
    assert json.loads(path.read_text())["trees"] == {"2026-11": november}
    # November's own sums are not read (nor made again) while the file serves.
    scopes = [args for args in SCOPES if "--as-of" not in args]
    expected = [
        full_evaluation(run, monkeypatch, "--format", "json", *args, env=later).stdout for args in scopes
    ]
    for sums in sums_files(ws):
        sums.unlink()
    for args, want in zip(scopes, expected, strict=True):
        assert run("report", "--format", "json", *args, env=later).stdout == want, args
    assert [p.name for p in sums_files(ws)] == ["sums-2026-10.json"]
    for args in SCOPES:  # as of a moment before November settled: read month by month
        same(*args)
    # A hand edit committed to November: another tree; the file is made again for it.
    case = ws.case_file(twenty[17])
    case.write_text(case.read_text().replace("category: delivery-delay", "category: billing"))
    git(ws.root, "commit", "-qam", "Hand edit")
    edited = same()
    assert edited != first
    assert json.loads(path.read_text())["trees"] == {
        "2026-11": git(ws.root, "rev-parse", "HEAD:cases/2026/11").strip()
    }
    git(ws.root, "checkout", "-q", "HEAD~1")
    assert same() == first
    git(ws.root, "checkout", "-q", "main")
    assert same() == edited
    # Damage: cut short, numbers that are not, a tree that is not November's, cells of another shape.
    good = path.read_text()
    data = json.loads(good)
    cell = next(iter(data["sums"]["cells"].values()))
    damaged = [good[: len(good) // 2]]
    for key, value in [("replies", {"\x1ff8": "!!"}), ("replies", {"\x1ff8": "AAAA"}), ("open", "many")]:
        cell_copy = {**cell, key: value}
        damaged.append(json.dumps({**data, "sums": {**data["sums"], "cells": {"a\x1fb\x1fc": cell_copy}}}))
    damaged.append(json.dumps({**data, "trees": {"2026-11": november}}))
    damaged.append(json.dumps({**data, "trees": {"2026-11": data["trees"]["2026-11"], "2026-10": november}}))
    for text in damaged:
        path.write_text(text)
        assert same() == edited
    assert path.read_text() == good  # made again
    # A comment in the policy keeps the file; a new stall limit makes it another policy's.
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text() + "\n# a comment\n")
    git(ws.root, "commit", "-qam", "A comment in the policy")
    assert same() == edited
    assert path.read_text() == good
    policy.write_text(policy.read_text().replace("stall_after: 72h", "stall_after: 71h"))
    git(ws.root, "commit", "-qam", "Stalled an hour sooner")
    assert same() == edited
    assert json.loads(path.read_text())["policy"] != data["policy"]


def test_live_rows_keep_what_a_report_reads(run: Any, ws: Workspace, twenty: list[str]) -> None:
    """A case still moving is kept in the sums with LIVE_KEYS only: as of any
    moment its timeline covers, the report and the sums are those of the whole row."""
    from complaintctl.core import timeline
    from complaintctl.reports import figures as rep
    from complaintctl.reports import monthsums
    from complaintctl.store import caseindex, workspace

    varied(run, ws)
    bob = ("--as", "bob@example.com")
    for args in (
        ["propose", twenty[15], "--amount", "50", "--kind", "credit", "--terms", "Credit", *bob],
        ["agree", twenty[15], *bob],
        ["plan", twenty[15], "Credit CNY 50", "--by", "finance", "--due", "1d", *bob],
        ["execute", twenty[15], "1", *bob],
        ["note", twenty[15], "Check first", "--kind", "lesson", *bob],
    ):
        result = run(*args, "--at", "2026-11-21T09:00")
        assert result.exit_code == 0, (args, result.stderr)
    found = workspace.find_workspace(str(ws.root))
    rows = caseindex.read_rows(found)
    items = [(rel, row) for rel, row in zip(rows.paths, rows.rows, strict=True) if row.get("timeline")]
    caseindex.attach_facts(found, items)
    assert any(row["settlement"] for _, row in items) and any(row["lessons"] for _, row in items)
    assert any(row["measures"] for _, row in items) and any(row["first_reply_at"] for _, row in items)
    start = max(row["timeline"][0][0] for _, row in items)
    trimmed = 0
    for days in (0, 1, 3, 8, 30, 90):
        cutoff = start + days * 86400 * 10**6
        compact = [(rel, monthsums.live_row(row, cutoff)) for rel, row in items]
        assert all(set(row) <= set(monthsums.LIVE_KEYS) for _, row in compact)
        trimmed += sum(
            len(a["timeline"]) < len(b["timeline"]) for (_, a), (_, b) in zip(compact, items, strict=True)
        )
        for hours in (0, 5, 100):
            when = timeline.EPOCH + timedelta(microseconds=cutoff, hours=hours)
            reports = []
            for these in (items, compact):
                tally = rep.Tally(rep.Scope(), when)
                for rel, row in these:
                    standing = timeline.at(row, timeline.micros(when), rel)
                    assert standing is not None
                    tally.add(standing)
                reports.append(rep.finish(tally, {}))
            assert reports[0] == reports[1], (days, hours)
        whole, cut = monthsums.summarise(items, cutoff), monthsums.summarise(compact, cutoff)
        assert whole == cut and whole["cells"]
        assert monthsums.fold(monthsums.summarise(items, start), cutoff) == monthsums.fold(
            monthsums.summarise(compact, start), cutoff
        )
    assert trimmed  # the steps before the one in force at the cut-off are not kept
    # Sums of settled months merged into one add up to what each adds.
    cutoff = start + 10**6 * 86400 * 365
    halves = [monthsums.summarise(items[i::2], cutoff) for i in (0, 1)]
    assert all(not half["live"] for half in halves)
    merged = monthsums.merge(halves)
    when = timeline.EPOCH + timedelta(microseconds=cutoff)
    everything = rep.Tally(rep.Scope(), when)
    monthsums.add(everything, merged)
    assert everything.received == len(items) and everything.measures_done and everything.money
    for scope in (rep.Scope(), rep.Scope(category="billing"), rep.Scope(severity="general"),
                  rep.Scope(until=START + timedelta(days=400)), rep.Scope(since=START + timedelta(days=400))):  # fmt: skip
        one, each = rep.Tally(scope, when), rep.Tally(scope, when)
        assert monthsums.usable(merged, scope, when)
        monthsums.add(one, merged)
        for half in halves:
            monthsums.add(each, half)
        assert rep.finish(one, {}) == rep.finish(each, {}), scope


def test_timelines_agree_with_the_clocks(run: Any, ws: Workspace, twenty: list[str]) -> None:
    """At every instant from a case's last event on, its timeline says what
    casestatus.status says: around each step and on a grid of instants."""
    from complaintctl.core import casestatus, timeline
    from complaintctl.store import caseindex, workspace

    more = varied(run, ws)
    workspace = workspace.find_workspace(str(ws.root))
    rows = caseindex.read_rows(workspace)
    items = list(zip(rows.paths, rows.rows, strict=True))
    caseindex.attach_facts(workspace, items)
    policy, cal = workspace.policy, caseindex.calendar(workspace)
    peers = casestatus.peers_by_matter(rows.rows)
    tick = timedelta(microseconds=1)
    checked = 0
    for _, row in items:
        line = row["timeline"]
        if line is None:
            assert row["matter"]  # evaluated live
            continue
        start = timeline.EPOCH + timedelta(microseconds=line[0][0])
        instants = [start + timedelta(minutes=317 * i) for i in range(250)]
        for step in line:
            at = timeline.EPOCH + timedelta(microseconds=step[0])
            instants += [at - tick, at, at + tick]
        for at in instants:
            looked_up = timeline.at(row, timeline.micros(at))
            if looked_up is None:
                assert at < start
                continue
            live = timeline.of(casestatus.status(policy, row, at, cal, peers))
            overdue = live.breached and not row["closed_at"]
            stalled = live.stalled and not row["closed_at"]
            assert (looked_up.level, looked_up.outcomes, looked_up.breached, looked_up.stalled) == (
                live.level,
                live.outcomes,
                overdue,
                stalled,
            ), (row["id"], at)
            checked += 1
    assert checked > 5000 and len(items) == 20 + len(more)


def varied(run: Any, ws: Workspace) -> list[str]:
    """Cases that pause, rise, are lowered, reopened, urgent, on a matter, external."""
    policy = ws.root / "policy.yaml"
    text = policy.read_text().replace("  resolution:\n    - {limit: 7d}\n", "  resolution:\n    - {severity: [major], limit: 5d}\n    - {urgent: true, limit: 7d}\n    - {limit: 80h, count: business}\n")  # fmt: skip
    policy.write_text(text)
    git(ws.root, "commit", "-qam", "Resolution limit in business hours again")
    plans: list[tuple[dict[str, str | bool], list[tuple[int, list[str]]]]] = [
        ({"urgent": True}, [(3, ["note", "Late reply", "--kind", "reply"]), (30, ["wait", "--reason", "Docs"]),
                            (100, ["resume"]), (130, ["escalate", "--reason", "Slow", "--to", "carol@example.com"])]),
        ({}, [(50, ["flag", "--reason", "Threat", "--risk"]), (60, ["flag", "--reason", "Group", "--collective", "12"]),
              (200, ["lower", "--to", "important", "--reason", "Calmer", "--as", "carol@example.com"])]),
        ({}, [(1, ["note", "Sorry", "--kind", "reply"]), (20, ["close", "--resolution", "explained"]),
              (40, ["reopen", "--reason", "Not fixed"]), (300, ["close", "--resolution", "explained"])]),
        ({}, [(1, ["note", "Sorry", "--kind", "reply"]), (5, ["wait", "--reason", "Photos"])]),
        ({}, [(2, ["flag", "--reason", "Supplier", "--cause", "external", "--as", "carol@example.com"])]),
        ({"matter": "lift-noise"}, [(4, ["note", "Sorry", "--kind", "reply"])]),
        ({"matter": "lift-noise", "category": "billing"}, []),
        ({"severity": "major"}, [(10, ["note", "Sorry", "--kind", "reply"]), (30, ["close", "--resolution", "explained"]),
                                 (40, ["followup", "--satisfaction", "4"])]),
    ]  # fmt: skip
    ids = []
    start = datetime.fromisoformat("2026-10-28T16:30:00+08:00")
    for k, (over, steps) in enumerate(plans):
        opened = start + timedelta(days=2 * k, hours=k)
        fields: dict[str, str | bool] = {
            "at": stamp(opened),
            "phone": f"1390000{k:04d}",
            "customer": f"Other {k}",
        }
        result = run(*open_args(**{**fields, **over}))
        assert result.exit_code == 0, result.stderr
        case_id = result.stdout.strip()
        ids.append(case_id)
        for hours, (command, *rest) in steps:
            result = run(command, case_id, *rest, "--at", stamp(opened + timedelta(hours=hours)))
            assert result.exit_code == 0, (command, result.stderr)
    return ids


def test_what_changes_while_a_report_reads_is_never_stored_as_head(
    run: Any, ws: Workspace, twenty: list[str]
) -> None:
    """The index says a folder is HEAD's only for what it read from HEAD."""
    from complaintctl.store import caseindex, workspace

    workspace = workspace.find_workspace(str(ws.root))
    month = "2026-10"
    head = git(ws.root, "rev-parse", f"HEAD:cases/{month.replace('-', '/')}").strip()
    path = ws.case_file(twenty[1])
    assert caseindex.blob_id(path.read_bytes()) == git(ws.root, "hash-object", str(path)).strip()
    index = ws.root / ".git" / "complaintctl"
    shutil.rmtree(index)
    # Edited after git was asked (the snapshot says clean) and before it is read:
    # the file no longer hashes to HEAD's blob, so it is read from git.
    snap = caseindex.snapshot(workspace)
    assert snap.tree(month) == head
    original = path.read_text()
    path.write_text(original.replace("category: delivery-delay", "category: billing"))
    loaded = caseindex.month_rows(workspace, snap, [month])
    assert loaded.trees[month] == head
    assert [r["category"] for _, r in loaded.items[month] if r["id"] == twenty[1]] == ["delivery-delay"]
    rows = json.loads(next(index.glob(f"v*/rows-{month}.json")).read_text())
    assert rows["tree"] == head
    path.write_text(original)
    # Committed after the snapshot: the listing is not HEAD's as the snapshot knew it.
    path.write_text(original.replace("category: delivery-delay", "category: billing"))
    git(ws.root, "commit", "-qam", "Edit")
    loaded = caseindex.month_rows(workspace, snap, [month])
    assert loaded.trees[month] == head  # the stored rows of the snapshot's HEAD
    shutil.rmtree(index)
    loaded = caseindex.month_rows(workspace, snap, [month])
    assert loaded.trees[month] is None  # listed now: a newer HEAD than the snapshot's
    assert caseindex.tree_id({}) == git(ws.root, "hash-object", "-t", "tree", "/dev/null").strip()
    fresh = caseindex.snapshot(workspace)
    assert caseindex.month_rows(workspace, fresh, [month]).trees[month] == fresh.tree(month) != head


def test_list_as_of_a_moment_before_cases_settled(run: Any, ws: Workspace, twenty: list[str]) -> None:
    """Settled cases are stored without their raw facts; a 'now' before they
    settled (a pinned clock, a hand-edited time) needs them back."""
    early = {"COMPLAINTCTL_NOW": "2026-10-10T00:00:00+08:00"}
    run("list")  # the index holds the settled cases without their facts
    result = run("list", "--all", "--json", env=early)
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 20
    assert run("report", "--cases", env=early).exit_code == 0


def test_the_report_breaks_cases_down_by_cause(run: Any, ws: Workspace) -> None:
    ids = [
        run(*open_args(phone=f"1390000{k:04d}", at=f"2026-11-2{k}T09:00")).stdout.strip() for k in range(3)
    ]
    assert run("flag", ids[0], "--cause", "internal", "--reason", "Our billing run").exit_code == 0
    assert (
        run(
            "flag", ids[1], "--cause", "external", "--reason", "The bank", "--as", "carol@example.com"
        ).exit_code
        == 0
    )
    figures = json.loads(run("report", "--format", "json").stdout)
    assert figures["breakdowns"]["cause"] == {"internal": 1, "external": 1, "not recorded": 1}


def test_measures_on_time_and_the_reach_rate(run: Any, ws: Workspace) -> None:
    case_id = run(*open_args()).stdout.strip()
    for args in (
        ["note", case_id, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T09:30"],
        [
            "propose",
            case_id,
            "--amount",
            "100",
            "--not-overcharge",
            "Goodwill",
            "--terms",
            "Refund",
            "--at",
            "2026-11-20T10:00",
        ],
        ["agree", case_id, "--at", "2026-11-20T11:00"],
        ["plan", case_id, "Refund CNY 100", "--by", "finance", "--due", "1d", "--at", "2026-11-20T12:00"],
        [
            "plan",
            case_id,
            "Fix the billing run",
            "--by",
            "billing",
            "--due",
            "1h",
            "--at",
            "2026-11-20T12:05",
        ],
        ["execute", case_id, "1", "--at", "2026-11-20T15:00"],  # on time
        ["execute", case_id, "2", "--at", "2026-11-20T15:05"],  # late
        ["close", case_id, "--resolution", "agreed", "--at", "2026-11-20T16:00"],
        ["followup", case_id, "--satisfaction", "4", "--at", "2026-11-21T10:00"],
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr)
    figures = json.loads(run("report", "--format", "json").stdout)
    assert figures["measures_on_time"] == {"met": 1, "decided": 2, "percent": 50.0}
    assert figures["reach_rate"] == {"met": 1, "decided": 1, "percent": 100.0}
    text = run("report").stdout
    assert "measures carried out  1      2          50.0%" in text and "Reach rate" in text


def test_money_lessons_stalled_and_a_year_before(
    run: Any, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ok(*args: str) -> str:
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr)
        return str(result.stdout.strip())

    last_year = ok(*open_args(at="2025-11-05T09:00", phone="13900000001"))
    ok("close", last_year, "--resolution", "explained", "--at", "2025-11-06T09:00")
    ok(*open_args(at="2025-10-05T09:00", phone="13900000002"))  # outside last year's period
    double = ok(*open_args(at="2026-11-02T09:00", phone="13900000003"))
    credit = ok(*open_args(at="2026-11-03T09:00", phone="13900000004", category="delivery-delay"))
    quiet = ok(*open_args(at="2026-11-20T09:00", phone="13900000005"))  # answered, then left alone
    weekend = ok(*open_args(at="2026-11-06T17:00", phone="13900000006", category="service-attitude"))
    ok(
        "close", weekend, "--resolution", "explained", "--at", "2026-11-09T10:00"
    )  # Friday 17:00 to Monday 10:00
    for args in (
        ["note", double, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-02T10:00"],
        ["propose", double, "--overcharge", "--charged", "480", "--due", "240", "--terms", "Credit",
         "--as", "carol@example.com", "--at", "2026-11-02T11:00"],
        ["agree", double, "--at", "2026-11-02T12:00"],
        ["plan", double, "Credit CNY 480", "--by", "finance", "--due", "1d", "--at", "2026-11-02T12:05"],
        ["execute", double, "1", "--at", "2026-11-02T15:00"],
        ["close", double, "--resolution", "agreed", "--told", "sms", "--at", "2026-11-02T16:00"],
        ["note", double, "Batch runs must be checked before they post", "--kind", "lesson",
         "--at", "2026-11-02T17:00"],
        ["note", credit, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-03T10:00"],
        ["propose", credit, "--amount", "50.5", "--kind", "credit", "--terms", "Credit",
         "--at", "2026-11-03T11:00"],
        ["agree", credit, "--at", "2026-11-03T12:00"],
        ["note", credit, "Tell the customer the new date\nthe same day", "--kind", "lesson",
         "--at", "2026-11-03T13:00"],
        ["note", quiet, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T10:00"],
    ):  # fmt: skip
        ok(*args)
    period = ("--since", "2026-11-01", "--until", "2026-12-01")
    r = figures(run, *period)
    assert r["compensation"] == [
        {"kind": "credit", "currency": "CNY", "cases": 2, "total": "530.50"},
    ]
    assert r["double_refunds"] == [{"currency": "CNY", "cases": 1, "total": "480.00"}]
    assert r["lessons"] == [  # in the policy's order of categories
        {"category": "delivery-delay", "case": credit, "at": "2026-11-03T13:00:00+08:00",
         "text": "Tell the customer the new date\nthe same day"},
        {"category": "billing", "case": double, "at": "2026-11-02T17:00:00+08:00",
         "text": "Batch runs must be checked before they post"},
    ]  # fmt: skip
    # Resolution: calendar hours 7 (the double refund, Monday 09:00-16:00) and 65 (over the weekend);
    # the policy's limit for these counts working hours (09:00-18:00 on working days): 7 and 1 + 1.
    assert r["resolution"] == {"count": 2, "median_h": 36.0, "mean_h": 36.0, "p90_h": 59.2}
    assert r["resolution_work"] == {"count": 2, "median_h": 4.5, "mean_h": 4.5, "p90_h": 6.5}
    assert r["year_before"] == {
        "since": "2025-11-01T00:00+08:00", "until": "2025-12-01T00:00+08:00", "received": 1, "resolved": 1,
    }  # fmt: skip
    # Now (22 Nov 10:00), of the open cases whenever received: the credit case is agreed and
    # untouched since 3 Nov (a lesson note is not progress); the one of October 2025 was never
    # answered. The quiet one was answered on the 20th, 48 h ago (stalled after 72 h).
    assert r["stalled"] == 2
    assert figures(run, *period, "--as-of", "2026-11-03T11:30")["compensation"] == [
        {"kind": "credit", "currency": "CNY", "cases": 1, "total": "480.00"}
    ]
    text = run("report", *period).stdout
    assert "Received a year before (2025-11-01 to 2025-12-01)  1" in text
    assert "Stalled now" in text and "double refunds (of the above)  CNY" in text
    assert f"delivery-delay  {credit}  Tell the customer the new date the same day" in text
    # The stored sums give what a full evaluation gives, cold and warm.
    expected = full_evaluation(run, monkeypatch, "--format", "json", *period).stdout
    for _ in range(2):
        assert run("report", "--format", "json", *period).stdout == expected
    later = {"COMPLAINTCTL_NOW": "2027-03-01T10:00:00+08:00"}
    warm = run("report", "--format", "json", *period, env=later).stdout
    assert warm == full_evaluation(run, monkeypatch, "--format", "json", *period, env=later).stdout
    assert json.loads(warm)["compensation"] == r["compensation"]


def test_the_settlement_that_stands_and_a_measure_past_due(
    run: Any, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ok(*args: str) -> str:
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr)
        return str(result.stdout.strip())

    # A house whose agreed cases may close another way (rules.agreement_binds_close
    # off), so that a reopened case can be agreed again: the later settlement stands.
    policy = ws.root / "policy.yaml"
    policy.write_text(
        policy.read_text().replace("agreement_binds_close: true", "agreement_binds_close: false")
    )
    ok("policy", "commit", "--reason", "Agreed cases may close another way", "--as", "dave@example.com")
    again = ok(*open_args(at="2026-11-10T09:00"))
    late = ok(*open_args(at="2026-11-11T09:00", phone="13900000007", category="delivery-delay"))
    for args in (
        ["note", again, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-10T10:00"],
        ["propose", again, "--amount", "50", "--not-overcharge", "Goodwill", "--terms", "Credit",
         "--at", "2026-11-10T11:00"],
        ["agree", again, "--at", "2026-11-10T12:00"],
        ["close", again, "--resolution", "withdrawn", "--at", "2026-11-10T13:00"],
        ["reopen", again, "--reason", "Wants more after all", "--at", "2026-11-12T09:00"],
        ["propose", again, "--amount", "200", "--not-overcharge", "Goodwill", "--terms", "Credit",
         "--as", "carol@example.com", "--at", "2026-11-12T10:00"],
        ["agree", again, "--at", "2026-11-12T11:00"],
        ["note", late, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-11T10:00"],
        ["propose", late, "--amount", "30", "--kind", "credit", "--terms", "Credit", "--at", "2026-11-11T11:00"],
        ["agree", late, "--at", "2026-11-11T11:30"],
        ["plan", late, "Credit CNY 30", "--by", "finance", "--due", "2026-11-11T12:00", "--at", "2026-11-11T11:40"],
    ):  # fmt: skip
        ok(*args)
    r = figures(run)
    # The second agreement stands: one case, CNY 200 (not the first offer, still marked accepted).
    assert [m for m in r["compensation"] if m["cases"] and m["kind"] == "refund"] == [
        {"kind": "refund", "currency": "CNY", "cases": 1, "total": "200.00"}
    ]
    # As of 15:00 on the 11th the measure due at 12:00 is not done: the case is overdue, as
    # 'overdue' says, whether the report looks its standing up or evaluates it.
    as_of = ("--as-of", "2026-11-11T15:00")
    expected = full_evaluation(run, monkeypatch, "--format", "json", *as_of).stdout
    assert json.loads(expected)["overdue"] == 1  # the measure (the other case was closed by then)
    assert run("report", "--format", "json", *as_of).stdout == expected
    later = {"COMPLAINTCTL_NOW": "2027-03-01T10:00:00+08:00"}
    expected = full_evaluation(run, monkeypatch, "--format", "json", env=later).stdout
    assert run("report", "--format", "json", env=later).stdout == expected


def test_report_cases_read_a_month_at_a_time_say_what_every_row_says(run: Any, ws: Workspace) -> None:
    """'report --cases' keeps only the rows it shows (and those on a matter
    until the matter is known): it says what every row, held at once, says,
    in path order, for any limit, scope and moment."""
    from complaintctl.cli.text import list_table, rows_output
    from complaintctl.reports.figures import Scope
    from complaintctl.service import reads
    from complaintctl.store import workspace

    def opened(**over: str) -> str:
        result = run(*open_args(**over))
        assert result.exit_code == 0, result.stderr
        return str(result.stdout.strip())

    # Three customers on one matter in November: 'hot' for all three once the third is in
    # (the first two only through their peers: none is a week old by the 22nd).
    lift = [
        opened(at=f"2026-11-{day}T09:00", phone=phone, matter="lift")
        for day, phone in (("18", "13900000001"), ("19", "13900000002"), ("20", "13900000003"))
    ]
    for day in ("02", "09", "16", "21"):  # and others around them, in both months
        opened(at=f"2026-10-{day}T10:00", phone=f"138000000{day}", category="delivery-delay",
               summary="Parcel late", demand="Deliver it")  # fmt: skip
        opened(at=f"2026-11-{day}T10:00", phone=f"137000000{day}")

    def oracle(args: list[str], since: str | None, until: str | None, severity: str | None, at: str) -> str:
        """What report --cases printed when it held every row (list_rows)."""
        ws_ = workspace.find_workspace(str(ws.root))
        when = reads.when_of(ws_, at)
        tz = ws_.policy.timezone
        scope = Scope(
            since=datetime.fromisoformat(since).replace(tzinfo=when.tzinfo) if since else None,
            until=datetime.fromisoformat(until).replace(tzinfo=when.tzinfo) if until else None,
            severity=severity,
        )
        assert tz is not None
        rows, _problems, _uncommitted = reads.list_rows(str(ws.root), (), when)
        chosen = [
            r for r in rows
            if datetime.fromisoformat(r["opened_at"]) <= when
            and scope.in_period(datetime.fromisoformat(r["opened_at"]))
            and scope.matches_row(r, r["severity"])
        ]  # fmt: skip
        limit = int(args[args.index("--limit") + 1]) if "--limit" in args else 50
        shown = chosen if limit <= 0 else chosen[:limit]
        if "--format" in args:
            return (
                "".join(
                    rows_output(lambda: reads.public_rows(shown, False), args[args.index("--format") + 1])
                )
                + "\n"
            )
        text = "".join(list_table(shown, False))
        if len(shown) < len(chosen):
            text += f"\n(showing {len(shown)} of {len(chosen)}; use --limit 0 for all)"
        return text + "\n"

    cases = [
        ([], None, None, None, "2026-11-22T09:00"),
        (["--limit", "3"], None, None, None, "2026-11-22T09:00"),
        (["--limit", "5"], None, None, None, "2026-11-22T09:00"),  # a matter case among the first five
        (["--limit", "0", "--severity", "hot"], None, None, "hot", "2026-11-22T09:00"),
        (["--limit", "2", "--severity", "hot"], None, None, "hot", "2026-11-22T09:00"),
        (["--limit", "0", "--severity", "hot"], None, None, "hot", "2026-11-19T12:00"),  # two customers yet
        (["--limit", "0", "--format", "json"], None, None, None, "2026-11-19T12:00"),
        (["--limit", "2", "--format", "csv"], "2026-11-01", "2026-11-18", None, "2026-11-22T09:00"),
    ]
    hot_before = None
    for args, since, until, severity, at in cases:
        period = [*(["--since", since] if since else []), *(["--until", until] if until else [])]
        result = run("report", "--cases", *args, *period, "--as-of", at)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == oracle(args, since, until, severity, at), (args, at)
        if severity == "hot" and at.startswith("2026-11-19"):
            hot_before = result.stdout
    assert hot_before is not None
    hot_now = run("report", "--cases", "--severity", "hot", "--as-of", "2026-11-22T09:00").stdout
    assert all(case in hot_now for case in lift)  # hot once all three are in
    assert not any(case in hot_before for case in lift)
