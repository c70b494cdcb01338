"""Documents as a customer or a manager reads them: the summary and the reply
say what they should (and the customer's copy nothing internal), the report
speaks Chinese and Excel, its charts are real SVG, and a Chinese PDF prints
on a machine with no Chinese font."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.helpers import Workspace, open_args
from tests.test_letters import settled


def ok(run: Any, *args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, (args, result.stderr)
    return str(result.stdout)


# ---------------------------------------------------------------- summary and reply


def test_the_summary_says_what_it_holds_and_where_the_case_stands(run: Any, ws: Workspace) -> None:
    case_id = ok(run, *open_args(at="2026-11-10T09:00")).strip()  # 12 days unresolved by now: hot
    masked = ok(run, "render", case_id, "summary")
    assert "customer data masked" in masked and "张*" in masked and "张三" not in masked
    assert "hot (recorded: general)" in masked  # the effective severity, not only the stored one
    assert "<tr><th>Stalled</th>" in masked  # never answered: the first reply is breached
    assert "<tr><th>When</th><th>What</th><th>By</th><th>Details</th></tr>" in masked  # a headed history
    shown = ok(run, "render", case_id, "summary", "--show-pii")
    assert "customer data masked" not in shown and "contains customer personal data" in shown
    assert "张三, 13812341234" in shown
    zh = ok(run, "render", case_id, "summary", "--lang", "zh", "--format", "md")
    assert "| 类别 | 收费 |" in zh and "| 当前级别 | 热点投诉（登记级别：一般投诉） |" in zh
    assert "| 状态 | 已受理 |" in zh and "| 2026-11-10 09:00 | 受理 | Alice Wang |" in zh
    assert not re.search(r"\| (billing|general|open|front-line) \|", zh)  # no raw codes
    assert "T09:00:00+08:00" not in zh  # no raw timestamps


def test_the_customers_copy_of_a_reply_has_no_internal_trail(run: Any, ws: Workspace) -> None:
    case_id = settled(run)  # drafted, then signed off by legal review (Erin)
    for lang in ("en", "zh"):
        for fmt in ("html", "md"):
            text = ok(run, "render", case_id, "reply", "--lang", lang, "--format", fmt)
            assert "erin@example.com" not in text and "Erin" not in text, (lang, fmt)
            assert "legal review:" not in text, (lang, fmt)
    html = ok(run, "render", case_id, "reply", "--format", "html")
    assert '@top-left { content: "DRAFT: not to be sent"' in html  # on every printed page
    assert "88 Jinxiu Road, Pudong, Shanghai 200120" in html  # the letterhead
    zh = ok(run, "render", case_id, "reply", "--lang", "zh", "--format", "html")
    assert '<p class="salute">此致</p>\n<p class="respect">敬礼！</p>' in zh
    assert "（盖章）" in zh and "发出日期：______年____月____日" in zh
    md = ok(run, "render", case_id, "reply", "--lang", "zh", "--format", "md")
    assert "　　此致\n\n敬礼！" in md  # two lines, 此致 indented


# ---------------------------------------------------------------- report


def _settled_month(run: Any) -> str:
    case_id = settled(run)
    for args in (
        ["plan", case_id, "Credit CNY 120", "--by", "finance", "--due", "1d", "--at", "2026-11-20T14:30"],
        ["execute", case_id, "1", "--at", "2026-11-20T15:00"],
        ["close", case_id, "--resolution", "agreed", "--told", "sms", "--at", "2026-11-20T16:00"],
    ):
        ok(run, *args)
    return case_id


PERIOD = ("--since", "2026-11-01", "--until", "2026-12-01")


def test_the_report_in_chinese(run: Any, ws: Workspace) -> None:
    _settled_month(run)
    text = ok(run, "report", *PERIOD, "--lang", "zh")
    assert text.startswith("投诉统计：2026-11-01T00:00+08:00 至 2026-12-01T00:00+08:00")
    assert "受理分布：类别\n类别    件数    占比\n------  ------  ------\n收费    1       100.0%" in text
    assert "2026年11月" in text and "账户抵扣" in text and "其中双倍返还" in text
    html = ok(run, "report", *PERIOD, "--lang", "zh", "--format", "html")
    assert '<html lang="zh-CN">' in html and "逐月受理与办结" in html and "Received" not in html


def test_csv_for_excel_and_the_workbook(run: Any, ws: Workspace, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    _settled_month(run)
    assert not ok(run, "report", *PERIOD, "--format", "csv").startswith("\ufeff")  # a pipe: no BOM
    out = tmp_path / "summary.csv"
    ok(run, "report", *PERIOD, "--format", "csv", "--table", "category", "--lang", "zh", "-o", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel on Chinese Windows reads it as UTF-8
    assert raw.decode("utf-8-sig").splitlines()[:2] == [
        "类别,件数,占比 (%)",
        "收费,1,100.0",
    ]  # shares are numbers
    plain = tmp_path / "plain.csv"
    ok(run, "report", *PERIOD, "--format", "csv", "--no-bom", "-o", str(plain))
    assert not plain.read_bytes().startswith(b"\xef\xbb\xbf")
    book_path = tmp_path / "november.xlsx"
    assert ok(run, "report", *PERIOD, "--format", "xlsx", "-o", str(book_path)) == f"Wrote {book_path}\n"
    book = load_workbook(book_path)
    assert book.sheetnames[:4] == ["summary", "hotspots", "oldest", "status"] and "money" in book.sheetnames
    summary = book["summary"]
    assert [c.value for c in summary[2]] == ["Figure", "Value"]
    assert [c.value for c in summary[3]] == ["Received", 1]
    share = book["category"]["C3"]
    assert (share.value, share.number_format) == (1.0, "0.0%")
    money = [[c.value for c in row] for row in book["money"].iter_rows(min_row=3)]
    assert money == [["credit", "CNY", 1, 120.0], ["double refunds (of the above)", "CNY", 1, 120.0]]
    refused = run("report", *PERIOD, "--format", "xlsx")
    assert (refused.exit_code, refused.stderr) == (
        2,
        "complaintctl: an Excel workbook is a file of figures; give -o FILE.xlsx, without --cases\n",
    )


def _svg(html: str, name: str) -> str:
    found = re.search(rf'<svg [^>]*id="chart-{name}".*?</svg>', html, re.S)
    assert found, name
    return found.group(0)


def test_the_charts_are_svg_a_person_can_read(run: Any, ws: Workspace) -> None:
    _settled_month(run)
    ok(run, *open_args(at="2026-10-05T09:00", phone="13900000002", category="delivery-delay"))
    html = ok(run, "report", *PERIOD, "--format", "html")
    assert html == ok(run, "report", *PERIOD, "--format", "html")  # the same figures draw the same page
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/", "")
    months = _svg(html, "months")
    # Twelve months up to the period's end, whatever the period, on one axis for both series.
    labels = re.findall(r"<text[^>]*>(\d{4}-\d{2}(?: \*)?)</text>", months)
    assert labels[:12] == ["2025-12"] + [f"2026-{m:02d}" for m in range(1, 11)] + ["2026-11 *"]
    assert "Received" in months and "Resolved" in months
    assert "2026-10" in labels  # October's case is drawn beside November's: a comparison
    # Whole numbers on the value axis, never 0.2 of a complaint.
    for name in ("months", "category", "severity", "satisfaction"):
        ticks = re.findall(r'class="axis [xy][^"]*".*?</g>', _svg(html, name), re.S)  # x: horizontal bars
        numbers = re.findall(r">(\d+(?:\.\d+)?)</text>", " ".join(ticks))
        assert numbers and all("." not in n for n in numbers), (name, numbers)
    # Every category and severity of the policy, zeros too, with their full names.
    category = _svg(html, "category")
    for name in ("information-not-given", "construction-quality", "sales-promise", "billing"):
        assert f">{name}</text>" in category, name
    severity = _svg(html, "severity")
    assert [s for s in ("general", "important", "hot", "major") if f">{s}</text>" in severity] == [
        "general", "important", "hot", "major",
    ]  # fmt: skip
    from complaintctl.reports.charts import SEVERITY_COLOURS

    assert all(f"fill: {colour}" in severity for colour in SEVERITY_COLOURS)  # one colour per severity
    assert re.search(r"font-size:1[2-9]px", months)  # text readable in print
    within = _svg(html, "within-limit")  # first replies in time by month, against policy's target (95)
    assert "First reply within the limit" in within and ">Target</text>" in within
    assert all(f">{n}</text>" in within for n in (0, 20, 40, 60, 80, 100))  # a percent axis


def test_the_month_still_running_is_marked(run: Any, ws: Workspace) -> None:
    ok(run, *open_args(at="2026-11-20T09:00"))
    html = ok(run, "report", "--since", "2026-11-01", "--until", "2026-12-01", "--format", "html")
    assert ">2026-11 *</text>" in html and "* the month still running" in html  # now: 22 Nov


# ---------------------------------------------------------------- fonts


def test_a_chinese_pdf_prints_where_the_system_has_no_chinese_font(
    run: Any, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from complaintctl.reports import letters

    monkeypatch.setattr(letters, "cjk_font_installed", lambda: False)  # a fresh machine
    case_id = settled(run)
    out = tmp_path / "agreement.zh.pdf"
    ok(run, "render", case_id, "agreement", "--lang", "zh", "--format", "pdf", "-o", str(out))
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "投诉处理和解协议" in text and "人民币壹佰贰拾元整" in text and "第 1 页 共" in text
    fonts = {
        str(font.get_object().get("/BaseFont"))
        for page in reader.pages
        for font in (page["/Resources"].get("/Font") or {}).values()
    }
    assert any("complaintctl-CJK" in f for f in fonts), fonts  # the bundled font (Noto Sans SC), embedded
    # A workspace that carries no font, on a machine with the package gone: the clear refusal.
    monkeypatch.setattr(letters, "bundled_cjk_font", lambda search: None)
    refused = run("render", case_id, "agreement", "--lang", "zh", "--format", "pdf", "-o", str(out))
    assert refused.exit_code == 1
    assert "no Chinese font is installed" in refused.stderr and "templates/fonts/" in refused.stderr


def test_printed_pages_carry_their_furniture_as_a_person_sees_them(
    run: Any, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rasterised (PDFium): every page of the Chinese agreement has ink in
    its header (the case number) and its footer (第X页 共Y页), and body text;
    printed with the system's Chinese font and with the bundled one, cut
    down to the letter's characters, the same."""
    import pypdfium2

    from complaintctl.reports import letters

    case_id = settled(run)

    def printed(name: str) -> list[Any]:
        out = tmp_path / name
        ok(run, "render", case_id, "agreement", "--lang", "zh", "--format", "pdf", "-o", str(out))
        return [page.render(scale=100 / 72).to_pil().convert("L") for page in pypdfium2.PdfDocument(out)]

    def ink(image: Any, top: float, bottom: float) -> int:
        width, height = image.size
        box = image.crop((0, int(height * top), width, int(height * bottom)))
        return sum(box.histogram()[:200])  # pixels darker than light grey

    as_it_is = printed("agreement.pdf")
    monkeypatch.setattr(letters, "cjk_font_installed", lambda: False)  # a fresh machine: the bundled font
    bundled = printed("agreement.bundled.pdf")
    for pages in (as_it_is, bundled):
        assert len(pages) >= 1
        for number, image in enumerate(pages, 1):
            assert ink(image, 0.0, 0.07) > 20, number  # the case number at the top right
            assert ink(image, 0.93, 1.0) > 20, number  # the page number at the bottom
            assert ink(image, 0.1, 0.9) > 500, number  # the agreement itself


def test_the_bundled_font_is_cut_down_to_the_letter_before_it_is_printed(tmp_path: Path) -> None:
    """Noto Sans SC is a variable font of ~30,000 glyphs: the PDF engine made
    a static copy of all of them for each weight (~10 s and ~220 MB a
    letter). It gets the letter's characters only, entities and the
    characters the engine draws itself (bullets, page numbers) included;
    and with its weights, so bold stays bold. A font that cannot be cut down
    is printed with as it is."""
    from fontTools.ttLib import TTFont

    from complaintctl.reports import letters

    font = letters.bundled_cjk_font([])
    assert font is not None
    html = "<p>和解协议 &middot; Refund &#165;120</p>"
    cut = letters._subset_font(font, html, tmp_path)
    assert cut != font and cut.stat().st_size < font.stat().st_size // 20
    with TTFont(cut) as small, TTFont(font) as full:
        mapped = small.getBestCmap()
        assert {ord(c) for c in "和解协议·¥Rfund120•"} <= mapped.keys() and len(mapped) < 100
        assert "fvar" in small and [a.axisTag for a in small["fvar"].axes] == ["wght"]
        assert small["fvar"].axes[0].maxValue == full["fvar"].axes[0].maxValue  # bold stays bold
        assert len(small.getGlyphOrder()) < 200 < len(full.getGlyphOrder())
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    assert letters._subset_font(broken, html, tmp_path) == broken


def test_a_workspaces_older_report_template_still_renders(run: Any, ws: Workspace) -> None:
    """A workspace keeps the copy of report.html.j2 that 'init' gave it; after
    an upgrade its variables (the hand-drawn bars under ``charts``) still exist."""
    from tests.helpers import git

    ok(run, *open_args(at="2026-11-20T09:00"))
    (ws.root / "templates" / "report.html.j2").write_text(
        "<html><body>{% for name in ('received', 'resolved', 'category', 'severity', 'satisfaction') %}"
        '{% for b in charts[name] %}<rect x="{{ b.x }}" height="{{ b.height }}"><title>{{ b.label }}: '
        "{{ b.value }}</title></rect>{% endfor %}{% endfor %}</body></html>\n",
        encoding="utf-8",
    )
    git(ws.root, "add", "templates/report.html.j2")
    git(ws.root, "commit", "-qm", "Our own report template, from an older version")
    html = ok(run, "report", *PERIOD, "--format", "html")
    assert "<title>2026-11: 1</title>" in html and "<title>billing: 1</title>" in html


def test_free_text_stays_text_in_csv_markdown_and_a_masked_summary(run: Any, ws: Workspace) -> None:
    case_id = ok(run, *open_args(summary='=HYPERLINK("http://x") | <b>bold</b>')).strip()
    row = ok(run, "list", "--format", "csv").splitlines()[1]
    assert "'=HYPERLINK" in row  # a spreadsheet shows it, never runs it
    md = ok(run, "list", "--format", "markdown").splitlines()[2]
    assert "\\| &lt;b>bold&lt;/b>" in md and md.count(" | ") == 7  # still eight cells
    summary = ok(run, "render", case_id, "summary", "--format", "md")
    assert '| Complaint | =HYPERLINK("http://x") \\| &lt;b>bold&lt;/b> |' in summary
    for args in (
        ["note", case_id, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T10:00"],
        ["propose", case_id, "--amount", "50", "--not-overcharge", "Goodwill", "--terms", "Credit",
         "--at", "2026-11-20T11:00"],
        ["agree", case_id, "--signed-by", "Wang Lihua", "--at", "2026-11-20T12:00"],
    ):  # fmt: skip
        ok(run, *args)
    for fmt in ("md", "html"):
        masked = ok(run, "render", case_id, "summary", "--format", fmt)
        assert "Wang Lihua" not in masked and "W*** L****" in masked, fmt  # who signed for the customer
        assert "Wang Lihua" in ok(run, "render", case_id, "summary", "--format", fmt, "--show-pii")
