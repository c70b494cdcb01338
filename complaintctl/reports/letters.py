"""The only Jinja user: letters and summaries from templates/.

Templates run in an immutable sandbox with StrictUndefined (a missing value
fails loudly instead of printing "Pay  CNY"), and HTML templates
(``*.html.j2``) are autoescaped so customer text is shown, never run. The
workspace's own templates/ override the packaged defaults.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from complaintctl.errors import TemplateError

# Bidi embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def isolate_bidi(value: Any) -> Any:
    """A value with bidi controls, isolated (FSI ... PDI): a right-to-left
    override in a customer's name must not reverse the letter's text after
    it (the closing PDI ends any override left open inside)."""
    if isinstance(value, str) and not _BIDI_CONTROLS.isdisjoint(value):
        return value.__class__("\u2068" + str(value) + "\u2069")
    return value


@lru_cache(maxsize=4)
def _environment_for(search: tuple[str, ...]) -> Any:
    return _environment([Path(p) for p in search])


def _environment(search: list[Path]) -> Any:
    from jinja2 import FileSystemLoader, StrictUndefined, pass_context, select_autoescape
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class PlainFilesLoader(FileSystemLoader):
        """Templates are plain files: a symbolic link under a template folder
        (to ~/.ssh/id_rsa, say) would put its target's text into a letter."""

        def get_source(self, environment: Any, template: str) -> Any:
            source = super().get_source(environment, template)
            found = Path(source[1])
            for root in self.searchpath:
                if found.is_relative_to(root):
                    step = Path(root)
                    for part in found.relative_to(root).parts:
                        step = step / part
                        if step.is_symlink():
                            raise TemplateError(
                                "is a symbolic link; templates are plain files",
                                where=f"templates/{template}",
                                fix="replace it with a copy of the file it points to, if that is a template",
                            )
            return source

    env = ImmutableSandboxedEnvironment(
        loader=PlainFilesLoader([str(p) for p in search]),
        finalize=isolate_bidi,
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from complaintctl.core.columns import markdown_cell

    env.filters["label"] = pass_context(label)
    env.filters["when"] = when
    env.filters["cell"] = markdown_cell  # free text in a Markdown table
    return env


def label(ctx: Any, code: Any, group: str) -> Any:
    """A policy code as the document's language names it (policy.yaml
    ``labels``, given to the template as ``labels``); else the code itself."""
    labels = ctx.get("labels") or {}
    return labels.get(group, {}).get(code, str(code).replace("_", " "))


def when(stamp: Any) -> str:
    """A recorded time as a document prints it: date and minute, no seconds."""
    text = str(stamp)
    return text[:16].replace("T", " ") if len(text) >= 16 else text


def render(search: list[Path], name: str, context: Mapping[str, Any]) -> str:
    from jinja2 import TemplateNotFound, TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    env = _environment_for(tuple(str(p) for p in search))
    try:
        template = env.get_template(name)
        return str(template.render(**context))
    except TemplateNotFound:
        raise TemplateError(
            f"no template {name}", where="templates/", fix="restore it from 'complaintctl init'"
        ) from None
    except TemplateSyntaxError as exc:
        raise TemplateError(
            f"template syntax: {exc.message}", where=f"templates/{name}:{exc.lineno}"
        ) from None
    except UndefinedError as exc:
        raise TemplateError(
            f"template refers to something undefined: {exc.message}",
            where=f"templates/{name}",
            fix="check the variable names (see docs/templates.md)",
        ) from None
    except SecurityError as exc:
        raise TemplateError(f"template tried something unsafe: {exc}", where=f"templates/{name}") from None


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def cjk_font_installed() -> bool:
    """Whether fontconfig knows a font with Chinese glyphs (what WeasyPrint uses)."""
    import subprocess

    try:
        found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return False
    return bool(found.stdout.strip())


def _offline_fetcher(allowed: str | None = None) -> Any:
    """A fetcher that fetches nothing but the one font file we chose: letters
    are self-contained, and a template must not pull files from the disk or
    anything from the network."""
    from weasyprint.urls import URLFetcher

    class Offline(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if allowed is not None and url == allowed:
                return super().fetch(url, headers)
            raise ValueError(f"complaintctl fetches nothing while making a PDF (asked for {url})")

    return Offline()


CJK_FAMILY = "complaintctl CJK"  # the name the bundled font is given in a PDF's style
# Characters WeasyPrint may draw that the HTML does not hold: list bullets,
# dashes and quotes its styles generate, page numbers.
_DRAWN_TOO = "\u2022\u25e6\u25aa\u2013\u2014\u2026\u2018\u2019\u201c\u201d0123456789"


def _subset_font(font: Path, html: str, folder: Path) -> Path:
    """The font cut down to the glyphs of the characters in ``html`` (the
    letter's text, and more), with its variations and layout features, in
    ``folder``; the font itself if that fails. The bundled Noto Sans SC is a
    variable font of ~30,000 glyphs: WeasyPrint makes a static instance of
    all of them for each weight it uses (~10 s and ~220 MB for a letter);
    of a few hundred it takes well under a second."""
    from html import unescape

    from fontTools import subset
    from fontTools.ttLib import TTLibError

    options = subset.Options(layout_features=["*"], name_IDs=["*"], name_languages=["*"], notdef_outline=True)
    try:
        with subset.load_font(str(font), options, lazy=True) as loaded:
            subsetter = subset.Subsetter(options)
            subsetter.populate(unicodes={ord(ch) for ch in unescape(html) + _DRAWN_TOO})  # '&middot;' too
            subsetter.subset(loaded)
            out = folder / ("letter" + font.suffix.lower())
            subset.save_font(loaded, str(out), options)
    except (TTLibError, OSError, ValueError, KeyError, AssertionError):
        return font  # WeasyPrint cuts it down itself, slowly
    return out


def bundled_cjk_font(search: list[Path]) -> Path | None:
    """A Chinese font to print with when the system has none: one the
    workspace carries (templates/fonts/*.ttf or *.otf, first by name), else
    Noto Sans SC from the justmytype-intl-cjk package (SIL OFL 1.1)."""
    for folder in search:
        found = sorted(
            p
            for p in (folder / "fonts").glob("*")
            if p.suffix.lower() in (".ttf", ".otf") and not p.is_symlink() and p.is_file()  # plain files only
        )
        if found:
            return found[0]
    try:
        import justmytype_intl_cjk
    except ImportError:
        return None
    font = Path(justmytype_intl_cjk.__file__).parent / "fonts" / "ofl" / "notosanssc" / "NotoSansSC[wght].ttf"
    return font if font.is_file() else None


def to_pdf(html: str, name: str, search: list[Path] | None = None) -> bytes:
    """Print the HTML to PDF with WeasyPrint (a real HTML/CSS engine), offline.
    Chinese text is printed with the system's Chinese font, else a bundled
    one, cut down to the letter in a folder of its own while it prints."""
    with tempfile.TemporaryDirectory(prefix="complaintctl-font-") as folder:
        return _to_pdf(html, name, search or [], Path(folder))


def _to_pdf(html: str, name: str, search: list[Path], folder: Path) -> bytes:
    allowed = None
    if _has_cjk(html) and not cjk_font_installed():
        font = bundled_cjk_font(search)
        if font is None:
            raise TemplateError(
                "the letter has Chinese text but no Chinese font is installed, so the PDF would show "
                "empty boxes",
                where=f"templates/{name}",
                fix="put a .ttf or .otf font with Chinese in templates/fonts/, install one "
                "(Debian/Ubuntu: apt-get install fonts-noto-cjk), or use --format html",
            )
        allowed = _subset_font(font, html, folder).as_uri()
        face = (
            f'<style>@font-face {{ font-family: "{CJK_FAMILY}"; src: url("{allowed}"); }}\n'
            f'body, h1, h2, th, td, p, div {{ font-family: "Noto Serif", "Noto Serif CJK SC", '
            f'"{CJK_FAMILY}", serif; }}</style>'
        )
        html = html.replace("</head>", face + "</head>", 1) if "</head>" in html else face + html
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # its refused-fetch warnings are ours
    return bytes(HTML(string=html, url_fetcher=_offline_fetcher(allowed)).write_pdf())
