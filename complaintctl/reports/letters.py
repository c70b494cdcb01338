"""The only Jinja user: letters and summaries from templates/.

Templates run in an immutable sandbox with StrictUndefined (a missing value
fails loudly instead of printing "Pay  CNY"), and HTML templates
(``*.html.j2``) are autoescaped so customer text is shown, never run. The
workspace's own templates/ override the packaged defaults.
"""

from __future__ import annotations

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
    from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
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

    return ImmutableSandboxedEnvironment(
        loader=PlainFilesLoader([str(p) for p in search]),
        finalize=isolate_bidi,
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


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


def _offline_fetcher() -> Any:
    """A fetcher that fetches nothing: letters are self-contained, and a
    template must not pull files from the disk or anything from the network."""
    from weasyprint.urls import URLFetcher

    class Offline(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"complaintctl fetches nothing while making a PDF (asked for {url})")

    return Offline()


def to_pdf(html: str, name: str) -> bytes:
    """Print the HTML to PDF with WeasyPrint (a real HTML/CSS engine), offline."""
    if _has_cjk(html) and not cjk_font_installed():
        raise TemplateError(
            "the letter has Chinese text but no Chinese font is installed, so the PDF would show empty boxes",
            where=f"templates/{name}",
            fix="install one (Debian/Ubuntu: apt-get install fonts-noto-cjk), or use --format html",
        )
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # its refused-fetch warnings are ours
    return bytes(HTML(string=html, url_fetcher=_offline_fetcher()).write_pdf())
