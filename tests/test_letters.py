"""Letters: golden renders in both languages, a real PDF read back, and template safety.

Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.helpers import Workspace, git, open_args

GOLDEN = Path(__file__).parent / "golden"
ID_RE = re.compile(r"C-\d{8}-[0-9A-Z]{6}")


def settled(run: Any, **over: str) -> str:
    fields: dict[str, str | bool] = {"demand": "Refund the extra charge", "account": "HT-2026-0415", **over}
    case_id = str(run(*open_args(**fields)).stdout.strip())
    for args in (
        ["note", case_id, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T10:00"],
        ["propose", case_id, "--overcharge", "--charged", "180.00", "--due", "120.00", "--terms",
         "Refund to the original account within 7 days", "--at", "2026-11-20T11:00"],
        ["agree", case_id, "--signed-by", "Customer", "--at", "2026-11-20T12:00"],
        ["draft", case_id, "--text", "We refund CNY 120.00: twice what you were overcharged.\nWe apologise.",
         "--at", "2026-11-20T13:00"],
        ["signoff", case_id, "--as", "erin@example.com", "--at", "2026-11-20T14:00"],
    ):  # fmt: skip
        result = run(*args)
        assert result.exit_code == 0, result.stderr
    return case_id


@pytest.mark.parametrize(
    ("what", "lang", "fmt"),
    [
        ("agreement", "en", "html"),
        ("agreement", "en", "md"),
        ("agreement", "zh", "html"),
        ("agreement", "zh", "md"),
        ("summary", "en", "md"),
        ("summary", "zh", "md"),
        ("summary", "en", "html"),
        ("summary", "zh", "html"),
        ("reply", "en", "md"),
        ("reply", "zh", "md"),
        ("reply", "en", "html"),
        ("reply", "zh", "html"),
    ],
)
def test_golden_letters(run: Any, ws: Workspace, what: str, lang: str, fmt: str) -> None:
    case_id = settled(run)
    result = run("render", case_id, what, "--lang", lang, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    text = ID_RE.sub("C-20261120-XXXXXX", result.stdout)
    golden = GOLDEN / f"{what}.{lang}.{fmt}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_pdf_is_a_real_printable_letter(run: Any, ws: Workspace, tmp_path: Path) -> None:
    case_id = settled(run, customer="Maria Lopez")
    out = tmp_path / "agreement.pdf"
    result = run("render", case_id, "agreement", "--format", "pdf", "-o", str(out))
    assert result.stdout == f"Wrote {out}\n"
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    pages = [" ".join(page.extract_text().split()) for page in reader.pages]
    text = " ".join(pages)
    assert "Maria Lopez" in text and "CNY 120.00" in text
    assert (
        "charged CNY 180.00, due CNY 120.00, overcharged CNY 60.00; refunded 2 × overcharge = CNY 120.00"
        in text
    )
    assert "made in two copies" in text and "takes effect when both parties have signed it" in text
    last = pages[-1]  # the closing clauses and the signatures are never split from each other
    assert "not be accepted again" in last and "(signature and company seal)" in last
    assert "The customer (signature): Maria Lopez" in last and "Contact: ____" in last
    for number, page in enumerate(pages, 1):  # every page: the case number and 'Page X of Y'
        assert f"Case {case_id}" in page and f"Page {number} of {len(pages)}" in page
    assert len(pages) <= 2


def test_chinese_pdf_prints_with_the_system_font_or_the_bundled_one(
    run: Any, ws: Workspace, tmp_path: Path
) -> None:
    case_id = settled(run)  # the customer is 张三
    out = tmp_path / "agreement.pdf"
    result = run("render", case_id, "agreement", "--lang", "zh", "--format", "pdf", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    pages = ["".join(page.extract_text().split()) for page in PdfReader(str(out)).pages]
    text = "".join(pages)
    assert "张三" in text and "示例物业服务有限公司" in text  # the registered Chinese name
    assert "人民币壹佰贰拾元整" in text and "实收CNY180.00，应收CNY120.00，多收CNY60.00" in text
    assert "一式两份" in text and "自双方签字（盖章）之日起生效" in text and "不再受理" in text
    assert "甲方（盖章）" in pages[-1] and "日期：______年____月____日" in pages[-1]
    for number, page in enumerate(pages, 1):
        assert f"第{number}页共{len(pages)}页" in page and f"案件编号{case_id}" in page


def test_chinese_pdf_with_no_chinese_font_anywhere_is_refused(
    run: Any, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from complaintctl.reports import letters

    case_id = settled(run)
    monkeypatch.setattr(letters, "cjk_font_installed", lambda: False)  # none on the system
    monkeypatch.setattr(letters, "bundled_cjk_font", lambda search: None)  # none bundled or carried
    out = tmp_path / "agreement.pdf"
    result = run("render", case_id, "agreement", "--lang", "zh", "--format", "pdf", "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr == (
        "complaintctl: templates/agreement.zh.html.j2: the letter has Chinese text but no Chinese font is "
        "installed, so the PDF would show empty boxes; put a .ttf or .otf font with Chinese in "
        "templates/fonts/, install one (Debian/Ubuntu: apt-get install fonts-noto-cjk), or use --format html\n"
    )
    assert not out.exists()


def test_pdf_fetches_nothing(run: Any, ws: Workspace, tmp_path: Path) -> None:
    case_id = settled(run, customer="Maria Lopez")
    secret = tmp_path / "secret.css"
    secret.write_text("h1 { color: red }")
    (ws.root / "templates" / "agreement.html.j2").write_text(
        f'<html><head><link rel="stylesheet" href="file://{secret}">'
        '<img src="http://example.com/x.png"></head><body><h1>{{ customer.name }}</h1></body></html>'
    )
    out = tmp_path / "a.pdf"
    assert run("render", case_id, "agreement", "--format", "pdf", "-o", str(out)).exit_code == 0
    assert "Maria Lopez" in PdfReader(str(out)).pages[0].extract_text()


def test_pdf_needs_an_output_file(run: Any, ws: Workspace) -> None:
    case_id = settled(run)
    result = run("render", case_id, "agreement", "--format", "pdf")
    assert (result.exit_code, result.stderr) == (
        2,
        "complaintctl: a PDF is not for the terminal; give -o FILE.pdf\n",
    )
    assert run("render", case_id, "agreement", "--lang", "fr").stderr == (
        "complaintctl: unknown language 'fr'; use one of: en, zh\n"
    )


def test_a_right_to_left_override_in_a_name_stays_inside_it(run: Any, ws: Workspace, tmp_path: Path) -> None:
    """U+202E in a customer's name must not reverse the letter's text after it."""
    case_id = settled(run, customer="Li \u202eWei")
    html = run("render", case_id, "agreement", "--format", "html").stdout
    assert "<td>\u2068Li \u202eWei\u2069 (account HT-2026-0415)</td>" in html
    out = tmp_path / "agreement.pdf"
    assert run("render", case_id, "agreement", "--format", "pdf", "-o", str(out)).exit_code == 0
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "(account HT-2026-0415)" in text  # reversed, it reads ")5140-6202-TH tnuocca("
    # On a screen, the control is shown by its code.
    assert "Customer:  Li <U+202E>Wei, 13812341234" in run("show", case_id).stdout


def test_a_hand_edited_control_character_is_refused(run: Any, ws: Workspace) -> None:
    case_id = settled(run)
    path = ws.case_file(case_id)
    text = path.read_text()
    path.write_text(text.replace("summary: Charged twice for October", 'summary: "Charged \\e[31mtwice"'))
    git(ws.root, "commit", "-qam", "hand edit")
    rel = path.relative_to(ws.root).as_posix()
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if row.startswith("summary:"))
    expected = (
        f"{rel}:{line}: summary contains the control character U+001B; "
        "restore the file as last recorded ('complaintctl repair', or git log -- FILE)"
    )
    check = run("check")
    assert check.exit_code == 1 and expected in check.stdout
    shown = run("show", case_id)
    assert shown.exit_code == 1 and shown.stderr == f"complaintctl: {expected}\n"
    assert "\x1b" not in run("list").stdout
