"""`agree` with consent evidence: files copied, hashed and committed with the case, or nothing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.helpers import Workspace, git, open_args


def agreed_case(run: Any, ws: Workspace) -> str:
    case_id = str(run(*open_args()).stdout.strip())
    assert (
        run(
            "propose",
            case_id,
            "--amount",
            "180",
            "--not-overcharge",
            "Goodwill",
            "--terms",
            "Refund in 7 days",
        ).exit_code
        == 0
    )
    return case_id


def test_evidence_and_letter_are_committed_with_their_hashes(run: Any, ws: Workspace, tmp_path: Path) -> None:
    case_id = agreed_case(run, ws)
    scan = tmp_path / "签字 scan (1).pdf"
    scan.write_bytes(b"%PDF-1.4 signed")
    mail = tmp_path / "reply.eml"
    mail.write_text("From: customer\n\nI accept.")
    before = ws.commits()
    result = run("agree", case_id, "--evidence", str(scan), "--evidence", str(mail), "--signed-by", "张三")
    assert result.exit_code == 0, result.stderr
    assert ws.commits() == before + 1 and ws.status() == ""
    folder = f"evidence/{case_id}"
    committed = sorted(git(ws.root, "show", "--name-only", "--format=", "HEAD").split())
    assert committed == sorted([
        str(ws.case_file(case_id).relative_to(ws.root)),
        f"{folder}/offer-1-1.pdf",
        f"{folder}/offer-1-2.eml",
        f"{folder}/agreement-offer-1.html",
    ])  # fmt: skip
    event = YAML(typ="safe").load(ws.case_file(case_id).read_text())["events"][-1]
    assert event["evidence"] == [
        {"file": f"{folder}/offer-1-1.pdf", "sha256": hashlib.sha256(b"%PDF-1.4 signed").hexdigest(), "bytes": 15},
        {"file": f"{folder}/offer-1-2.eml", "sha256": hashlib.sha256(mail.read_bytes()).hexdigest(), "bytes": 25},
    ]  # fmt: skip
    letter = (ws.root / event["letter"]["file"]).read_bytes()
    assert hashlib.sha256(letter).hexdigest() == event["letter"]["sha256"]
    assert "CNY 180.00" in letter.decode() and "张三" in letter.decode()
    assert (ws.root / f"{folder}/offer-1-1.pdf").read_bytes() == b"%PDF-1.4 signed"
    assert event["letter"]["lang"] == "en" and "Settlement Agreement" in letter.decode()
    assert run("check").stdout == ""


def test_the_agreement_is_filed_in_the_customers_language(run: Any, ws: Workspace) -> None:
    case_id = agreed_case(run, ws)
    result = run("agree", case_id, "--lang", "zh", "--signed-by", "张三")
    assert result.exit_code == 0, result.stderr
    event = YAML(typ="safe").load(ws.case_file(case_id).read_text())["events"][-1]
    letter = (ws.root / event["letter"]["file"]).read_text()
    assert event["letter"]["lang"] == "zh"
    assert "投诉处理和解协议" in letter and "甲方（盖章）：示例物业服务有限公司" in letter
    assert "人民币壹佰捌拾元整" in letter
    assert run("agree", case_id, "--lang", "fr").exit_code == 2


def test_missing_or_oversized_evidence_is_refused_before_anything_is_written(
    run: Any, ws: Workspace, tmp_path: Path
) -> None:
    case_id = agreed_case(run, ws)
    before, files = ws.commits(), ws.snapshot()
    missing = run("agree", case_id, "--evidence", str(tmp_path / "nope.pdf"))
    assert (missing.exit_code, missing.stderr) == (
        2,
        f"complaintctl: evidence file {tmp_path / 'nope.pdf'} does not exist; give the path of a scan, e-mail or "
        "recording (a plain file)\n",
    )
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text().replace("evidence_max_bytes: 20000000", "evidence_max_bytes: 10"))
    assert (
        run("policy", "commit", "--reason", "Small evidence limit", "--as", "dave@example.com").exit_code == 0
    )
    big = tmp_path / "big.pdf"
    big.write_bytes(b"x" * 11)
    result = run("agree", case_id, "--evidence", str(big))
    assert result.stderr == (
        f"complaintctl: evidence file {big} is over the limit of 10 bytes; attach a smaller copy, or raise "
        "evidence_max_bytes in policy.yaml\n"
    )
    assert ws.commits() == before + 1 and not (ws.root / "evidence").exists()
    assert {k: v for k, v in ws.snapshot().items() if k != "policy.yaml"} == {
        k: v for k, v in files.items() if k != "policy.yaml"
    }


def test_a_refused_commit_leaves_no_evidence_behind(run: Any, ws: Workspace, tmp_path: Path) -> None:
    case_id = agreed_case(run, ws)
    hook = ws.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"scan")
    before, files = ws.commits(), ws.snapshot()
    result = run("agree", case_id, "--evidence", str(scan))
    assert result.exit_code == 1 and "commit refused" in result.stderr
    assert ws.commits() == before and ws.snapshot() == files and ws.status() == ""
    assert not (ws.root / "evidence").exists()


def test_offer_refusals_leave_the_workspace_unchanged(run: Any, ws: Workspace) -> None:
    from tests.test_cli import refused

    case_id = str(run(*open_args()).stdout.strip())
    assert (
        run(
            "propose", case_id, "--amount", "1500", "--not-overcharge", "Goodwill", "--terms", "Refund"
        ).exit_code
        == 0
    )  # pending
    assert refused(run, ws, "agree", case_id).startswith(
        f"complaintctl: {case_id}: offer 1 waits for approval"
    )
    assert "may not approve it" in refused(run, ws, "approve", case_id, "1")  # the proposer: alice
    assert "above bob@example.com's approval limit" in refused(
        run, ws, "approve", case_id, "1", "--as", "bob@example.com"
    )
    assert run("withdraw", case_id, "1", "--reason", "Wrong amount").exit_code == 0
    assert (
        run(
            "propose",
            case_id,
            "--amount",
            "500",
            "--not-overcharge",
            "Goodwill",
            "--bottom-line",
            "--terms",
            "Final",
            "--as",
            "carol@example.com",
        ).exit_code
        == 0
    )
    assert run("refuse", case_id, "2", "--reason", "Wants more").exit_code == 0
    assert run("escalate", case_id, "--reason", "Insists", "--to", "carol@example.com").exit_code == 0
    err = refused(
        run,
        ws,
        "propose",
        case_id,
        "--amount",
        "501",
        "--not-overcharge",
        "Goodwill",
        "--terms",
        "More",
        "--as",
        "dave@example.com",
    )
    assert "exceeds the refused bottom-line offer 2 (CNY 500.00)" in err
    err = refused(
        run,
        ws,
        "propose",
        case_id,
        "--overcharge",
        "--charged",
        "100",
        "--due",
        "120",
        "--terms",
        "x",
        code=2,
    )
    assert "there is no overcharge" in err
    log = git(ws.root, "log", "--format=%s", "-6").splitlines()
    assert log[:4] == [
        f"Escalate {case_id} to supervisor (carol@example.com)",
        f"Customer refuses offer 2 (CNY 500.00) (bottom line: it now caps every later offer) on {case_id}",
        f"Propose CNY 500.00 refund (bottom line) on {case_id}",
        f"Withdraw offer 1 (CNY 1500.00) on {case_id}",
    ]


def test_check_finds_changed_or_missing_evidence(run: Any, ws: Workspace, tmp_path: Path) -> None:
    case_id = agreed_case(run, ws)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"signed")
    assert run("agree", case_id, "--evidence", str(scan)).exit_code == 0
    assert run("check").stdout == ""
    rel = ws.case_file(case_id).relative_to(ws.root)
    stored = ws.root / "evidence" / case_id / "offer-1-1.pdf"
    stored.write_bytes(b"forged")
    letter = ws.root / "evidence" / case_id / "agreement-offer-1.html"
    letter.unlink()
    result = run("check")
    assert result.exit_code == 1
    assert result.stdout == (
        f"{rel}: evidence file evidence/{case_id}/offer-1-1.pdf was changed after it was recorded; run 'complaintctl repair' to restore it\n"
        f"{rel}: evidence file evidence/{case_id}/agreement-offer-1.html is missing; run 'complaintctl repair' to restore it\n"
    )
    assert run("repair").exit_code == 0  # the advice works
    assert run("check").stdout == "" and stored.read_bytes() == b"signed" and letter.exists()


def test_check_names_committed_evidence_no_case_records(run: Any, ws: Workspace, tmp_path: Path) -> None:
    """A 'signed agreement' committed by hand beside a case's evidence, and a
    folder for a case that does not exist, passed check and verify."""
    case_id = agreed_case(run, ws)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"signed")
    assert run("agree", case_id, "--evidence", str(scan)).exit_code == 0
    extra = ws.root / "evidence" / case_id / "signed-agreement.pdf"
    extra.write_bytes(b"customer accepts CNY 50000")
    ghost = ws.root / "evidence" / "C-20261130-ZZZZZZ" / "agreement-offer-1.html"
    ghost.parent.mkdir()
    ghost.write_text("x")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "scan")
    result = run("check")
    assert result.exit_code == 1
    fix = "no case records this file; remove it (git rm), or record evidence through 'complaintctl agree --evidence'"
    assert result.stdout == (
        f"evidence/{case_id}/signed-agreement.pdf: {fix}\n"
        f"evidence/C-20261130-ZZZZZZ/agreement-offer-1.html: {fix}\n"
    )
    git(ws.root, "rm", "-q", str(extra), str(ghost))
    git(ws.root, "commit", "-qm", "Remove what no case records")
    assert run("check").stdout == ""


@pytest.mark.parametrize("kind", ["symlink", "fifo", "proc", "directory"])
def test_evidence_is_a_plain_file_only(run: Any, ws: Workspace, tmp_path: Path, kind: str) -> None:
    # A link to /etc/shadow, a FIFO (which hangs a reader), /proc/self/environ (size 0, full of secrets).
    case_id = agreed_case(run, ws)
    before, files = ws.commits(), ws.snapshot()
    path = tmp_path / "evidence.pdf"
    if kind == "symlink":
        target = tmp_path / "secret.txt"
        target.write_text("secret\n")
        path.symlink_to(target)
        what = "is a symbolic link"
    elif kind == "fifo":
        os.mkfifo(path)
        what = "is not a plain file"
    elif kind == "proc":
        path = Path("/proc/self/environ")
        what = "is not a plain file"
    else:
        path.mkdir()
        what = "is not a plain file"
    result = run("agree", case_id, "--evidence", str(path))
    assert (result.exit_code, result.stderr) == (
        2,
        f"complaintctl: evidence file {path} {what}; give the path of a scan, e-mail or recording (a plain file)\n",
    )
    assert ws.commits() == before and ws.snapshot() == files


def test_evidence_is_stored_under_a_neutral_name(run: Any, ws: Workspace, tmp_path: Path) -> None:
    case_id = agreed_case(run, ws)
    scan = tmp_path / "offer-Li_Wei_13812341234_ID.PDF"
    scan.write_bytes(b"%PDF-1.4 signed")
    assert run("agree", case_id, "--evidence", str(scan)).exit_code == 0
    stored = sorted(p.name for p in (ws.root / "evidence" / case_id).iterdir())
    assert stored == ["agreement-offer-1.html", "offer-1-1.pdf"]
