"""'check' reads committed case files through the index and parses only the
rest: it must say exactly what parsing every file says.

The oracle below is the plain algorithm (every file under cases/ parsed,
its evidence checked), run on the same workspace after each kind of damage
a team can do around the tool.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from complaintctl.core.records import is_case_path
from complaintctl.errors import ComplaintError
from complaintctl.store import workspace as wsmod
from tests.helpers import Workspace, git, open_args
from tests.test_evidence import agreed_case


def _oracle(ws: Workspace) -> list[str]:
    """Every file parsed, as 'check' did before it used the index."""
    found = wsmod.find_workspace(str(ws.root))
    problems = []
    for rel in _walked(ws):
        path = ws.root / rel
        if path.is_symlink():
            problems.append(f"{rel}: is a symbolic link; replace it with a plain file")
            continue
        if not path.is_file():
            problems.append(f"{rel}: is not a plain file (a folder, FIFO, socket or device)")
            continue
        if not is_case_path(rel):
            continue  # named by the same function either way (_misplaced)
        try:
            data = wsmod.parse_case(path.read_text(encoding="utf-8"), rel, found.policy, roundtrip=False)
        except ComplaintError as exc:
            problems.append(str(exc))
            continue
        for event in data["events"]:
            for item in [*(event.get("evidence") or ()), *([event["letter"]] if event.get("letter") else [])]:
                target = ws.root / item["file"]
                if not target.is_file():
                    problems.append(f"{rel}: evidence file {item['file']} is missing")
                elif hashlib.sha256(target.read_bytes()).hexdigest() != item["sha256"]:
                    problems.append(f"{rel}: evidence file {item['file']} was changed after it was recorded")
    return problems


def _walked(ws: Workspace) -> list[str]:
    """The files under cases/ as os.walk lists them (dot files left out)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(ws.root / "cases"):
        dirnames.sort()
        out += [os.path.relpath(os.path.join(dirpath, n), ws.root) for n in sorted(filenames) if n[0] != "."]
    return out


def test_the_case_files_are_those_os_walk_lists_with_links_and_fifos_told(ws: Workspace) -> None:
    case = ws.root / "cases/2026/11/C-20261120-AAAAAA.yaml"
    case.parent.mkdir(parents=True)
    case.write_text("x\n", encoding="utf-8")
    (ws.root / "cases/2026/11/C-20261120-LINKED.yaml").symlink_to(case)
    (ws.root / "cases/2026/11/.C-20261120-AAAAAA.yaml.x1y2z3.tmp").write_text("", encoding="utf-8")
    (ws.root / "cases/2026/11/a-folder/b").mkdir(parents=True)
    (ws.root / "cases/2026/11/a-folder/b/z.yaml").write_text("", encoding="utf-8")
    (ws.root / "cases/2026/11/a-folder/note.txt").write_text("", encoding="utf-8")
    (ws.root / "cases/2026/10").symlink_to(ws.root / "cases/2026/11")  # a linked folder: not entered
    (ws.root / "cases/README").write_text("", encoding="utf-8")
    os.mkfifo(ws.root / "cases/2026/11/C-20261120-FIFO00.yaml")
    listed = list(wsmod.case_files(wsmod.find_workspace(str(ws.root))))
    assert [rel for rel, _ in listed] == _walked(ws)
    assert [rel for rel, kind in listed if kind == wsmod.LINK] == ["cases/2026/11/C-20261120-LINKED.yaml"]
    assert [rel for rel, kind in listed if kind == wsmod.OTHER] == ["cases/2026/11/C-20261120-FIFO00.yaml"]
    assert {kind for _, kind in listed} == {wsmod.LINK, wsmod.OTHER, wsmod.PLAIN}
    assert "cases/2026/11/a-folder/b/z.yaml" in dict(listed) and "cases/README" in dict(listed)


def _case_lines(stdout: str) -> list[str]:
    """check's lines about case files' contents (the oracle's subject), advice cut."""
    out = []
    for line in stdout.splitlines():
        if " is missing; run" in line or " was changed after it was recorded; run" in line:
            line = line.split("; run", 1)[0]
        if " is not a plain file " in line:
            line = line.split("; remove it, or run", 1)[0]
        if "staged but not committed" in line or "changed but not committed" in line:
            continue
        if "not committed (a file git does not track)" in line or "not a case file name" in line:
            continue
        if "wrong folder" in line or "duplicate case id" in line:
            continue
        out.append(line)
    return out


def _commit_by_hand(ws: Workspace, rel: str, text: str) -> None:
    (ws.root / rel).parent.mkdir(parents=True, exist_ok=True)
    (ws.root / rel).write_text(text, encoding="utf-8")
    git(ws.root, "add", "--", rel)
    git(ws.root, "commit", "-q", "-m", f"by hand: {rel}")


def _bad_committed(ws: Workspace, ids: list[str]) -> None:
    _commit_by_hand(ws, "cases/2026/11/C-20261120-BADYAM.yaml", "id: [unclosed\n")


def _bad_field_committed(ws: Workspace, ids: list[str]) -> None:
    rel = f"cases/2026/11/{ids[0]}.yaml"
    text = (ws.root / rel).read_text(encoding="utf-8").replace("category: billing", "category: nonsense")
    _commit_by_hand(ws, rel, text)


def _impossible_date(ws: Workspace, ids: list[str]) -> None:
    """A date no calendar has (YAML reads it as a date, Python refuses it), committed by hand."""
    rel = f"cases/2026/11/{ids[0]}.yaml"
    text = (ws.root / rel).read_text(encoding="utf-8")
    _commit_by_hand(ws, rel, text + "born: 2026-13-45\n")


def _hand_edit(ws: Workspace, ids: list[str]) -> None:
    path = ws.root / f"cases/2026/11/{ids[1]}.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("state: ", "state: nowhere-", 1), encoding="utf-8"
    )


def _hidden_from_git(ws: Workspace, ids: list[str]) -> None:
    """A file git was told not to look at (skip-worktree, assume-unchanged), then damaged."""
    rel = f"cases/2026/11/{ids[1]}.yaml"
    git(ws.root, "update-index", "--skip-worktree", rel)
    (ws.root / rel).write_text("garbage: [\n", encoding="utf-8")
    scan = f"evidence/{ids[2]}/offer-1-1.pdf"
    git(ws.root, "update-index", "--assume-unchanged", scan)
    (ws.root / scan).write_bytes(b"forged")


def _evidence_gone_in_other_ways(ws: Workspace, ids: list[str]) -> None:
    """The letter made a folder; the scan, hidden from git, deleted."""
    letter = ws.root / f"evidence/{ids[2]}/agreement-offer-1.html"
    letter.unlink()
    letter.mkdir()
    (letter / "inside.html").write_text("<p>x</p>")
    scan = f"evidence/{ids[2]}/offer-1-1.pdf"
    git(ws.root, "update-index", "--skip-worktree", scan)
    (ws.root / scan).unlink()


def _untracked(ws: Workspace, ids: list[str]) -> None:
    (ws.root / "cases/2026/11/C-20261121-NEWBAD.yaml").write_text("id: C-20261121-NEWBAD\n", encoding="utf-8")


def _ignored(ws: Workspace, ids: list[str]) -> None:
    (ws.root / ".gitignore").write_text("cases/2026/11/C-20261121-GN0RE0.yaml\n")
    (ws.root / "cases/2026/11/C-20261121-GN0RE0.yaml").write_text("id: nope\n", encoding="utf-8")


def _policy_change(ws: Workspace, ids: list[str]) -> None:
    """A smaller case-file limit: a committed case over it no longer checks."""
    rel = f"cases/2026/11/{ids[0]}.yaml"
    _commit_by_hand(ws, rel, (ws.root / rel).read_text(encoding="utf-8") + "# " + "x" * 11000 + "\n")
    assert run_check_is_clean(ws)
    policy = ws.root / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    assert "case_file_max_bytes: " in text
    lines = [
        ln if not ln.startswith("case_file_max_bytes:") else "case_file_max_bytes: 10000"
        for ln in text.splitlines()
    ]
    policy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    git(ws.root, "commit", "-q", "-am", "policy by hand")


def run_check_is_clean(ws: Workspace) -> bool:
    return _oracle(ws) == []


def _evidence(ws: Workspace, ids: list[str]) -> None:
    folder = ws.root / "evidence" / ids[2]
    (folder / "offer-1-1.pdf").write_bytes(b"forged")
    (folder / "agreement-offer-1.html").unlink()


def _evidence_committed_by_hand(ws: Workspace, ids: list[str]) -> None:
    """A forged scan committed around the tool: clean in the work tree, not what was recorded."""
    _commit_by_hand(ws, f"evidence/{ids[2]}/offer-1-1.pdf", "forged")


def _evidence_cache_damaged(ws: Workspace, ids: list[str]) -> None:
    for cache in (ws.root / ".git" / "complaintctl").glob("v*/evidence.sqlite"):
        cache.write_bytes(b"{ not a database" + cache.read_bytes()[16:])
    _commit_by_hand(ws, f"evidence/{ids[2]}/agreement-offer-1.html", "<p>another letter</p>")


def _evidence_cache_truncated(ws: Workspace, ids: list[str]) -> None:
    for cache in (ws.root / ".git" / "complaintctl").glob("v*/evidence.sqlite"):
        data = cache.read_bytes()
        assert len(data) > 1024
        cache.write_bytes(data[: len(data) // 2])
    (ws.root / f"evidence/{ids[2]}/offer-1-1.pdf").write_bytes(b"forged")


def _evidence_cache_of_another_shape(ws: Workspace, ids: list[str]) -> None:
    """A database, but not what the cache writes: every kept fact the wrong
    shape, or another layout."""
    import sqlite3

    caches = sorted((ws.root / ".git" / "complaintctl").glob("v*/evidence.sqlite"))
    assert caches
    for cache in caches:
        con = sqlite3.connect(cache, isolation_level=None)
        assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 1  # the agreed case
        con.execute("UPDATE cases SET records = '[1]'")
        con.execute("UPDATE files SET sha256 = '7'")
        con.close()
    (ws.root / f"evidence/{ids[2]}/offer-1-1.pdf").write_bytes(b"forged")
    _commit_by_hand(ws, f"evidence/{ids[2]}/agreement-offer-1.html", "<p>another letter</p>")


def _evidence_cache_of_another_layout(ws: Workspace, ids: list[str]) -> None:
    import sqlite3

    for cache in (ws.root / ".git" / "complaintctl").glob("v*/evidence.sqlite"):
        con = sqlite3.connect(cache, isolation_level=None)
        con.execute("ALTER TABLE files RENAME COLUMN sha256 TO digest")
        con.close()
    (ws.root / f"evidence/{ids[2]}/offer-1-1.pdf").write_bytes(b"forged")


def _fifo(ws: Workspace, ids: list[str]) -> None:
    """A FIFO in a committed case file's place: a reader that opens it waits for ever."""
    path = ws.root / f"cases/2026/11/{ids[0]}.yaml"
    path.unlink()
    os.mkfifo(path)


def _symlink(ws: Workspace, ids: list[str]) -> None:
    (ws.root / "cases/2026/11/C-20261121-L1NKED.yaml").symlink_to(ws.root / f"cases/2026/11/{ids[0]}.yaml")


@pytest.mark.parametrize(
    "damage",
    [
        _bad_committed,
        _bad_field_committed,
        _impossible_date,
        _hand_edit,
        _hidden_from_git,
        _untracked,
        _ignored,
        _policy_change,
        _evidence,
        _evidence_committed_by_hand,
        _evidence_gone_in_other_ways,
        _evidence_cache_damaged,
        _evidence_cache_truncated,
        _evidence_cache_of_another_shape,
        _evidence_cache_of_another_layout,
        _symlink,
        _fifo,
    ],
)
def test_check_says_what_parsing_every_file_says(
    run: Any, ws: Workspace, tmp_path: Path, damage: Callable[[Workspace, list[str]], None]
) -> None:
    ids = [
        run(*open_args(category="delivery-delay" if i == 1 else "billing")).stdout.strip() for i in range(2)
    ]
    ids.append(agreed_case(run, ws))
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"signed")
    assert run("agree", ids[2], "--evidence", str(scan)).exit_code == 0
    assert run("check").stdout == "" and _oracle(ws) == []
    run("list")  # a warm index, as in daily use
    assert run("check").stdout == ""  # and the evidence of every case seen once
    damage(ws, ids)
    result = run("check")
    assert _oracle(ws), "the damage must show"
    assert _case_lines(result.stdout) == _oracle(ws)
    assert result.exit_code == 1
    assert _case_lines(run("check").stdout) == _oracle(ws)  # and again, the index warm
    assert run("list").exit_code in (0, 1)  # every reader says it in a line, no traceback


def test_check_works_without_the_evidence_cache_while_another_check_writes_it(
    run: Any, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache held by another command is left alone (not deleted as
    damaged): this check hashes and parses for itself, and says the same."""
    import sqlite3

    from complaintctl.store import evidencecache

    case_id = agreed_case(run, ws)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"signed")
    assert run("agree", case_id, "--evidence", str(scan)).exit_code == 0
    old = ws.root / ".git" / "complaintctl" / "v11" / "evidence.json"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text("{}")  # the earlier layout: removed
    assert run("check").stdout == ""
    assert not old.exists()
    [cache] = sorted((ws.root / ".git" / "complaintctl").glob("v*/evidence.sqlite"))
    before = cache.read_bytes()
    (ws.root / f"evidence/{case_id}/agreement-offer-1.html").write_text("<p>another letter</p>")
    monkeypatch.setattr(evidencecache, "BUSY_S", 0.05)
    holder = sqlite3.connect(cache, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = run("check")
    finally:
        holder.close()
    assert (result.exit_code, _case_lines(result.stdout)) == (1, _oracle(ws))
    assert len(_oracle(ws)) == 1 and cache.read_bytes() == before


def test_the_evidence_cache_reads_planned_blobs_a_window_at_a_time_as_it_reads_them_alone(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows of planned blobs (in order, out of order, repeated, not kept,
    not planned) give what one query a blob gives."""
    import random

    from complaintctl.store import evidencecache

    found = wsmod.find_workspace(str(ws.root))
    blobs = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(60)]
    kept = evidencecache.EvidenceCache(found)
    for i, blob in enumerate(blobs[:40]):
        kept.keep_records(blob, [(f"evidence/C-{i}/scan.pdf", hashlib.sha256(blob.encode()).hexdigest())])
        kept._files[blob] = hashlib.sha256(blob.encode()).hexdigest()
    kept.save(set(blobs[:40]))
    alone = evidencecache.EvidenceCache(found)
    expected = {blob: (alone.records(blob), alone.sha256(blob, ws.root / "policy.yaml")) for blob in blobs}
    alone.save(set(blobs))  # (what it learnt: the hashes of the files not kept)
    monkeypatch.setattr(evidencecache, "WINDOW", 7)
    rng = random.Random(4)
    for _ in range(5):
        planned = rng.sample(blobs, 45) + blobs[:3]
        asked = planned[:30] + rng.sample(blobs, 20)
        windows = evidencecache.EvidenceCache(found)
        windows.plan(planned, planned)
        for blob in asked:
            assert (windows.records(blob), windows.sha256(blob, ws.root / "policy.yaml")) == expected[blob]
        windows.save(set(blobs))


def test_the_evidence_cache_writes_what_it_learns_as_it_goes_and_keeps_it_when_it_cannot(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every FLUSH entries learnt are written (a first check at 100k cases
    no longer holds them all); while another command holds the file they
    stay in memory, and save writes them; save drops what is not at HEAD."""
    import sqlite3

    from complaintctl.store import evidencecache

    monkeypatch.setattr(evidencecache, "FLUSH", 3)
    monkeypatch.setattr(evidencecache, "BUSY_S", 0.05)
    found = wsmod.find_workspace(str(ws.root))
    blobs = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(10)]
    sha = {blob: hashlib.sha256(blob.encode()).hexdigest() for blob in blobs}
    path = ws.root / "policy.yaml"
    learner = evidencecache.EvidenceCache(found)
    [cache] = sorted((ws.root / ".git" / "complaintctl").glob("v*/evidence.sqlite"))

    def written() -> set[str]:
        con = sqlite3.connect(cache)
        try:
            return {b for (b,) in con.execute("SELECT blob FROM cases UNION SELECT blob FROM files")}
        finally:
            con.close()

    for i, blob in enumerate(blobs[:4]):
        learner.keep_records(blob, [(f"evidence/C-{i}/scan.pdf", sha[blob])])
    assert written() == set(blobs[:3])  # the first three, at the third
    holder = sqlite3.connect(cache, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another check writing: readers go on, writers wait
    for blob in blobs[4:]:
        assert learner.sha256(blob, path) == hashlib.sha256(path.read_bytes()).hexdigest()
    holder.close()
    assert written() == set(blobs[:3])  # not written meanwhile, and not tried again
    learner.save(set(blobs[1:]))
    assert written() == set(blobs[1:])  # the rest written; blobs[0], no longer at HEAD, gone
    again = evidencecache.EvidenceCache(found)
    assert [again.records(b) for b in blobs[1:4]] == [
        [(f"evidence/C-{i}/scan.pdf", sha[blobs[i]])] for i in (1, 2, 3)
    ]
    assert again.records(blobs[0]) is None
