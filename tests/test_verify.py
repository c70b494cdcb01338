"""verify: replay the history of cases/ and name every commit that breaks it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from complaintctl.core.records import case_relpath
from complaintctl.errors import CaseFileError
from complaintctl.store import workspace, yamlio
from tests.helpers import Result, Workspace, git, open_args

BOB = "bob@example.com"


def rel_of(case_id: str) -> str:
    return case_relpath(case_id)


@pytest.fixture
def worked(ws: Workspace, run: object, tmp_path: Path) -> str:
    """A case taken through most commands, with evidence."""
    r = run  # type: ignore[assignment]
    case_id = r(*open_args()).stdout.strip()
    evidence = tmp_path / "signed.txt"
    evidence.write_text("signed by the customer\n")
    for args in (
        ["note", case_id, "Sorry; checking", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T09:30"],
        ["propose", case_id, "--amount", "500.00", "--not-overcharge", "Goodwill", "--currency", "CNY", "--kind", "refund",
         "--terms", "Refund in 7 days", "--at", "2026-11-20T10:00"],
        ["approve", case_id, "1", "--as", "carol@example.com", "--at", "2026-11-20T10:30"],
        ["agree", case_id, "--evidence", str(evidence), "--signed-by", "张三", "--at", "2026-11-20T11:00"],
        ["plan", case_id, "Refund CNY 500", "--by", "finance", "--due", "2d", "--at", "2026-11-20T11:30"],
        ["execute", case_id, "1", "--at", "2026-11-21T08:00"],
        ["close", case_id, "--resolution", "agreed", "--executed", "--at", "2026-11-21T09:00"],
        ["followup", case_id, "--satisfaction", "4", "--at", "2026-11-22T09:00"],
    ):  # fmt: skip
        result = r(*args)
        assert result.exit_code == 0, result.stderr
    return case_id


def verify(run: object, *args: str) -> Result:
    return run("verify", *args)  # type: ignore[operator,no-any-return]


def test_a_sound_history_is_silent(worked: str, run: object) -> None:
    result = verify(run)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_hand_edit_committed_with_plain_git(ws: Workspace, worked: str, run: object) -> None:
    path = ws.root / rel_of(worked)
    path.write_text(path.read_text().replace("amount: '500.00'", "amount: '50.00'"))
    git(ws.root, "commit", "--quiet", "-am", "fix typo")
    commit = git(ws.root, "rev-parse", "--short=10", "HEAD").strip()
    result = verify(run)
    assert result.exit_code == 1
    assert result.stdout == f"{commit} {worked}: changed outside complaintctl (no Complaintctl trailers)\n"
    assert result.stderr == "complaintctl: 1 problem(s) in the history of cases/ and the policy\n"


def test_amended_commit_with_a_changed_file(ws: Workspace, worked: str, run: object) -> None:
    assert run("note", worked, "Customer called back", "--at", "2026-11-22T09:30").exit_code == 0  # type: ignore[operator]
    path = ws.root / rel_of(worked)
    path.write_text(path.read_text().replace("\nsatisfaction: 4\n", "\nsatisfaction: 5\n"))
    git(ws.root, "-c", "user.email=alice@example.com", "commit", "--quiet", "--amend", "--no-edit", "-a")
    commit = git(ws.root, "rev-parse", "--short=10", "HEAD").strip()
    result = verify(run)
    assert result.stdout == (
        f"{commit} {worked}: the file does not match its events (satisfaction is 5, the events give 4)\n"
    )


def head(ws: Workspace) -> str:
    return git(ws.root, "rev-parse", "--short=10", "HEAD").strip()


def test_an_event_dated_after_its_commit(ws: Workspace, worked: str, run: object) -> None:
    """Amended to a time to come, a note passed, and froze the case: every
    later command was refused as before its last event."""
    assert run("note", worked, "Called", "--at", "2026-11-22T09:30").exit_code == 0  # type: ignore[operator]
    path = ws.root / rel_of(worked)
    path.write_text(
        path.read_text().replace("at: '2026-11-22T09:30:00+08:00'", "at: '2099-06-01T09:00:00+08:00'")
    )
    git(ws.root, "-c", "user.email=alice@example.com", "commit", "--quiet", "--amend", "--no-edit", "-a")
    when = git(ws.root, "log", "-1", "--format=%ct").strip()
    from datetime import datetime, timedelta, timezone

    made = datetime.fromtimestamp(int(when), timezone(timedelta(hours=8))).isoformat(timespec="minutes")
    assert verify(run).stdout == (
        f"{head(ws)} {worked}: an event is dated 2099-06-01T09:00:00+08:00, after the commit that records it "
        f"({made})\n"
    )


def test_entered_by_names_who_typed_it(ws: Workspace, worked: str, run: object) -> None:
    """Taken out of an --as commit, the Entered-By trailer made Dave's typing
    Alice's own; put into another, it named someone who never typed it."""
    entered = run("note", worked, "Alice phoned", "--as", "alice@example.com", "--at", "2026-11-22T09:30",
                  env={"COMPLAINTCTL_USER": "dave@example.com"}, literal=True)  # type: ignore[operator]  # fmt: skip
    assert entered.exit_code == 0, entered.stderr
    assert verify(run).exit_code == 0
    message = git(ws.root, "log", "-1", "--format=%B")
    assert "Complaintctl-Entered-By: dave@example.com\n" in message
    dave = ["-c", "user.email=dave@example.com"]
    git(
        ws.root,
        *dave,
        "commit",
        "--quiet",
        "--amend",
        "-m",
        message.replace("Complaintctl-Entered-By: dave@example.com\n", ""),
    )
    assert verify(run).stdout == (
        f"{head(ws)} {worked}: committed by dave@example.com for alice@example.com with no Entered-By trailer "
        "naming them\n"
    )
    git(
        ws.root,
        *dave,
        "commit",
        "--quiet",
        "--amend",
        "-m",
        message.replace("dave@example.com", "bob@example.com"),
    )
    assert (
        verify(run).stdout
        == f"{head(ws)} {worked}: Entered-By says bob@example.com, but dave@example.com committed it\n"
    )


def test_a_first_commit_that_brings_cases(ws: Workspace, worked: str, run: object) -> None:
    """A second root commit with a made-up case, merged in with
    --allow-unrelated-histories, was never replayed."""
    rel = rel_of(worked)
    fake = rel.replace(worked, "C-20261120-AAAAAA")
    text = (ws.root / rel).read_text().replace(worked, "C-20261120-AAAAAA").replace("'500.00'", "'9999.00'")
    git(ws.root, "checkout", "-q", "--orphan", "forged")
    git(ws.root, "rm", "-rqf", "cases", "evidence")  # the policy and templates stay: the made-up case alone
    (ws.root / fake).parent.mkdir(parents=True, exist_ok=True)
    (ws.root / fake).write_text(text)
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "import")
    root_commit = head(ws)
    git(ws.root, "checkout", "-q", "main")
    git(ws.root, "merge", "-q", "--allow-unrelated-histories", "forged", "-m", "Merge")
    assert verify(run).stdout.splitlines() == [
        f"{root_commit} C-20261120-AAAAAA: a first commit (no parent) holds a case file",
        f"{head(ws)} -: merges a history that shares no commit with this one",
    ]


def test_a_merge_that_changes_the_policy(ws: Workspace, worked: str, run: object) -> None:
    """A merge commit raised the agents' approval limit by hand: verify looked only at cases/."""
    git(ws.root, "checkout", "-q", "-b", "side")
    git(ws.root, "commit", "-q", "--allow-empty", "-m", "side")
    git(ws.root, "checkout", "-q", "main")
    git(ws.root, "merge", "-q", "--no-ff", "--no-commit", "side")
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text().replace('agent: {CNY: "200.00"', 'agent: {CNY: "99999.00"'))
    git(ws.root, "commit", "-qam", "Merge side")
    assert verify(run).stdout == (
        f"{head(ws)} policy.yaml: changed in a merge, outside complaintctl (not the merge of both sides); "
        "record policy changes with 'complaintctl policy commit' or 'complaintctl team'\n"
    )


def test_an_id_that_is_not_the_day_of_receipt(ws: Workspace, run: object) -> None:
    """Renamed inside its 'open' commit, a case moved to another day and month folder."""
    case_id = run(*open_args(at="2026-11-20T07:00")).stdout.strip()  # type: ignore[operator]
    other = "C-20261115-ABCDEF"
    new_rel = rel_of(other)
    git(ws.root, "mv", rel_of(case_id), new_rel)
    path = ws.root / new_rel
    path.write_text(path.read_text().replace(case_id, other))
    message = git(ws.root, "log", "-1", "--format=%B").replace(case_id, other)
    git(ws.root, "-c", "user.email=alice@example.com", "commit", "--quiet", "--amend", "-a", "-m", message)
    assert verify(run).stdout == (
        f"{head(ws)} {other}: the id's date is not the day the case was received (2026-11-20)\n"
    )


def test_a_keep_for_a_case_only_one_side_changed(ws: Workspace, worked: str, run: object) -> None:
    """A forged Keep trailer rolled a case back to an older side, dropping its later events."""
    assert run("note", worked, "Customer thanked us", "--at", "2026-11-22T09:30").exit_code == 0  # type: ignore[operator]
    git(ws.root, "checkout", "-q", "-b", "old", "HEAD~2")
    git(ws.root, "commit", "-q", "--allow-empty", "-m", "side work")
    git(ws.root, "checkout", "-q", "main")
    git(ws.root, "merge", "-q", "--no-ff", "--no-commit", "-s", "ours", "old")
    git(ws.root, "checkout", "old", "--", rel_of(worked))
    git(ws.root, "commit", "-q", "-m", "Merge old", "-m", f"Complaintctl-Keep: {worked} theirs")
    assert (
        verify(run).stdout == f"{head(ws)} {worked}: the merge keeps theirs of a case only one side changed\n"
    )


def test_trailers_that_lie_about_the_transition(ws: Workspace, worked: str, run: object) -> None:
    assert run("archive", worked, "--at", "2026-11-22T09:30").exit_code == 0  # type: ignore[operator]
    message = git(ws.root, "log", "-1", "--format=%B").replace("From: followed-up", "From: closed")
    git(ws.root, "-c", "user.email=alice@example.com", "commit", "--quiet", "--amend", "-m", message)
    commit = git(ws.root, "rev-parse", "--short=10", "HEAD").strip()
    result = verify(run)
    assert result.stdout == f"{commit} {worked}: trailer From says closed, the events say followed-up\n"


def test_a_transition_the_policy_did_not_allow(ws: Workspace, worked: str, run: object) -> None:
    """A hand-made commit with plausible trailers: reopening a settled case."""
    path = ws.root / rel_of(worked)
    doc = yamlio.load_roundtrip(path.read_text(), str(path), CaseFileError)
    doc["state"] = "in-progress"
    del doc["resolution"], doc["closed_at"]
    doc["events"].append(
        {"at": "2026-11-22T09:40:00+08:00", "by": "alice@example.com", "action": "reopen",
         "from": "followed-up", "to": "in-progress", "reason": "more"}
    )  # fmt: skip
    path.write_text(workspace.dump_case(doc))
    git(ws.root, "-c", "user.email=alice@example.com", "commit", "--quiet", "-a", "--author", "Alice Wang <alice@example.com>", "-m",
        "Reopen\n\nComplaintctl-Case: " + worked + "\nComplaintctl-Action: reopen\nComplaintctl-From: "
        "followed-up\nComplaintctl-To: in-progress\nComplaintctl-Actor: alice@example.com\n")  # fmt: skip
    commit = git(ws.root, "rev-parse", "--short=10", "HEAD").strip()
    result = verify(run)
    assert result.stdout == (
        f"{commit} {worked}: replay refused: the case ended as 'agreed' and cannot be reopened "
        "(not accepted again)\n"
    )


def test_a_commit_that_changes_another_case_than_it_names(ws: Workspace, worked: str, run: object) -> None:
    other = run(*open_args(phone="13900001111", at="2026-11-22T09:00")).stdout.strip()  # type: ignore[operator]
    path = ws.root / rel_of(other)
    path.write_text(path.read_text().replace("Charged twice", "Charged thrice"))
    git(
        ws.root,
        "commit",
        "--quiet",
        "-a",
        "-m",
        f"x\n\nComplaintctl-Case: {worked}\nComplaintctl-Action: note\n",
    )
    commit = git(ws.root, "rev-parse", "--short=10", "HEAD").strip()
    assert (
        verify(run).stdout == f"{commit} {worked}: the commit says it changes {worked} but changes {other}\n"
    )


def test_since_checks_only_later_commits(ws: Workspace, worked: str, run: object) -> None:
    path = ws.root / rel_of(worked)
    path.write_text(path.read_text() + "# a comment\n")
    git(ws.root, "commit", "--quiet", "-am", "hand edit")
    assert verify(run, "--since", "HEAD").exit_code == 0
    assert verify(run, "--since", "HEAD~1").exit_code == 1
    bad = verify(run, "--since", "nope")
    assert (bad.exit_code, bad.stderr) == (
        2,
        "complaintctl: --since nope: no such commit; give a commit id, tag or branch\n",
    )


def test_a_shallow_clone_gets_no_verdict(ws: Workspace, worked: str, run: object, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "--quiet", "--depth", "2", f"file://{ws.root}", str(clone)], check=True)
    result = run("verify", "--root", str(clone))  # type: ignore[operator]
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "complaintctl: this is a shallow clone; verify needs the whole history to give a verdict; fetch it "
        "with 'git fetch --unshallow' (in CI: actions/checkout with fetch-depth: 0)\n"
    )


# ---------------------------------------------------------------- signatures


def ssh_key(tmp_path: Path, name: str) -> tuple[Path, str]:
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key, (tmp_path / f"{name}.pub").read_text().strip()


def test_signatures_from_allowed_keys(ws: Workspace, run: object, tmp_path: Path) -> None:
    good, good_pub = ssh_key(tmp_path, "team")
    bad, _ = ssh_key(tmp_path, "stranger")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"alice@example.com {good_pub}\n")  # the key is Alice's
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text() + f"allowed_signers: {allowed}\n")
    # The policy changes through the tool, by a manager in person (dave).
    committed = run("policy", "commit", "--reason", "Sign the record", "--as", "dave@example.com")  # type: ignore[operator]
    assert committed.exit_code == 0, committed.stderr
    signed_from = git(ws.root, "rev-parse", "HEAD").strip()  # earlier commits were never signed
    for key, value in (("gpg.format", "ssh"), ("user.signingkey", str(good)), ("commit.gpgsign", "true")):
        git(ws.root, "config", key, value)
    case_id = run(*open_args()).stdout.strip()  # type: ignore[operator]
    assert "Good \"git\" signature" in subprocess.run(
        ["git", "-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-commit", "HEAD"],
        cwd=ws.root, capture_output=True, text=True,
    ).stderr  # fmt: skip
    # Alice enters Carol's note for her (--as): signed with the typist's key, whom Entered-By names.
    entered = run("note", case_id, "Carol phoned it in", "--as", "carol@example.com", "--at", "2026-11-20T09:10",
                  literal=True)  # type: ignore[operator]  # fmt: skip
    assert entered.exit_code == 0, entered.stderr
    assert verify(run, "--signatures", "--since", signed_from).exit_code == 0
    # Carol's note signed with Alice's key: the key is not the actor's.
    assert (
        run(
            "note", case_id, "Carol's note", "--as", "carol@example.com", "--at", "2026-11-20T09:30"
        ).exit_code
        == 0
    )  # type: ignore[operator]
    borrowed = git(ws.root, "rev-parse", "--short=10", "HEAD").strip()
    git(ws.root, "config", "user.signingkey", str(bad))
    assert run("note", case_id, "signed by a stranger", "--at", "2026-11-20T10:00").exit_code == 0  # type: ignore[operator]
    stranger = git(ws.root, "rev-parse", "--short=10", "HEAD").strip()
    git(ws.root, "config", "commit.gpgsign", "false")
    assert run("note", case_id, "not signed", "--at", "2026-11-20T11:00").exit_code == 0  # type: ignore[operator]
    unsigned = git(ws.root, "rev-parse", "--short=10", "HEAD").strip()
    result = verify(run, "--signatures", "--since", signed_from)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{unsigned} {case_id}: not signed",
        f"{stranger} {case_id}: signed by a key that is not in the allowed signers file",
        f"{borrowed} {case_id}: recorded as carol@example.com's but signed with alice@example.com key",
    ]
    assert verify(run).exit_code == 0  # without --signatures the record itself is sound


def test_signatures_need_the_policy_key(worked: str, run: object) -> None:
    result = verify(run, "--signatures")
    assert (result.exit_code, result.stderr) == (
        2,
        "complaintctl: --signatures needs the policy's allowed_signers file; add 'allowed_signers: PATH' "
        "to policy.yaml (see the comment there)\n",
    )


def test_each_change_is_judged_by_the_policy_of_its_time(ws: Workspace, worked: str, run: object) -> None:
    """Bob acted while on the team; a later policy without him does not undo that."""
    assert run("note", worked, "Bob's note", "--as", BOB, "--at", "2026-11-22T09:10").exit_code == 0  # type: ignore[operator]
    policy = ws.root / "policy.yaml"
    text = policy.read_text()
    assert "  - id: bob@example.com" in text
    left = run("team", "remove", BOB, "--reason", "Bob has left", "--as", "dave@example.com")  # type: ignore[operator]
    assert (left.exit_code, left.stdout) == (0, "Team: remove bob@example.com\n"), left.stderr
    assert run("note", worked, "Bob again", "--as", BOB, "--at", "2026-11-22T09:20").exit_code == 1  # type: ignore[operator]
    assert verify(run).exit_code == 0


def test_a_merge_that_quietly_takes_one_side(ws: Workspace, worked: str, run: object) -> None:
    """A plain 'git merge' resolved by taking our file drops the other side's event."""
    git(ws.root, "switch", "--quiet", "-c", "other", "HEAD")
    assert run("note", worked, "theirs", "--at", "2026-11-22T09:10").exit_code == 0  # type: ignore[operator]
    git(ws.root, "switch", "--quiet", "main")
    assert run("note", worked, "ours", "--at", "2026-11-22T09:20").exit_code == 0  # type: ignore[operator]
    git(ws.root, "merge", "--quiet", "-s", "ours", "-m", "Merge branch 'other'", "other")
    commit = git(ws.root, "rev-parse", "--short=10", "HEAD").strip()
    assert (
        verify(run).stdout == f"{commit} {worked}: the merge result is not the merge of both sides' events\n"
    )


def test_an_opening_changed_by_hand(ws: Workspace, run: object) -> None:
    case_id = run(*open_args()).stdout.strip()  # type: ignore[operator]
    path = ws.root / rel_of(case_id)
    path.write_text(path.read_text().replace("tier: front-line", "tier: executive"))
    git(ws.root, "-c", "user.email=alice@example.com", "commit", "--quiet", "--amend", "--no-edit", "-a")
    commit = git(ws.root, "rev-parse", "--short=10", "HEAD").strip()
    assert verify(run).stdout == (
        f"{commit} {case_id}: the file does not match its opening (tier is 'executive', the events give "
        "'front-line')\n"
    )


def test_gpg_signatures_from_listed_fingerprints(
    ws: Workspace, run: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Alice Wang <alice@example.com>",
                    "ed25519", "sign", "never"], check=True, capture_output=True)  # fmt: skip
    listing = subprocess.run(["gpg", "--with-colons", "--list-secret-keys"], check=True, capture_output=True,
                             text=True).stdout  # fmt: skip
    fingerprint = next(ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr:"))
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"# Alice's key\nalice@example.com gpg {fingerprint}\n")
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text() + f"allowed_signers: {allowed}\n")
    # The policy changes through the tool, by a manager in person (dave).
    committed = run("policy", "commit", "--reason", "Sign the record", "--as", "dave@example.com")  # type: ignore[operator]
    assert committed.exit_code == 0, committed.stderr
    signed_from = git(ws.root, "rev-parse", "HEAD").strip()  # earlier commits were never signed
    git(ws.root, "config", "user.signingkey", fingerprint)
    git(ws.root, "config", "commit.gpgsign", "true")
    case_id = run(*open_args()).stdout.strip()  # type: ignore[operator]
    assert case_id.startswith("C-")
    assert verify(run, "--signatures", "--since", signed_from).exit_code == 0
    allowed.write_text(f"# not listed any more: {fingerprint}\n")
    result = verify(run, "--signatures", "--since", signed_from)
    commit = git(ws.root, "rev-parse", "--short=10", "HEAD").strip()
    assert result.stdout == f"{commit} {case_id}: signed by a key that is not in the allowed signers file\n"
