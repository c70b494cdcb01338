"""Reading a case's history from git (GitPython, imported only here)."""

from __future__ import annotations

from pathlib import Path

from complaintctl.store.gitwrite import TRAILER_PREFIX


def parse_trailers(message: str) -> dict[str, str]:
    found = {}
    for line in message.splitlines():
        if line.startswith(TRAILER_PREFIX) and ": " in line:
            key, value = line[len(TRAILER_PREFIX) :].split(": ", 1)
            found[key.lower()] = value.strip()
    return found


def case_log(root: Path, rel: str) -> list[dict[str, str]]:
    """Commits that touched the case file, oldest first."""
    import git

    repo = git.Repo(root)
    entries = []
    for commit in repo.iter_commits(paths=rel):
        message = str(commit.message)
        tr = parse_trailers(message)
        entries.append(
            {
                "commit": commit.hexsha[:10],
                "date": commit.authored_datetime.isoformat(timespec="seconds"),
                "author": f"{commit.author.name} <{commit.author.email}>",
                "subject": message.splitlines()[0] if message else "",
                "action": tr.get("action", "?"),
                "from": tr.get("from", ""),
                "to": tr.get("to", ""),
                "by_tool": "yes" if tr.get("case") else "no",
            }
        )
    entries.reverse()
    return entries
