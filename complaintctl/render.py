"""The only Jinja user: letters and summaries from templates/.

Templates run in an immutable sandbox with StrictUndefined (a missing value
fails loudly instead of printing "Pay  CNY"), and HTML templates
(``*.html.j2``) are autoescaped so customer text is shown, never run. The
workspace's own templates/ override the packaged defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import TemplateError

FORMATS = ("html", "md")


def _environment(search: list[Path]) -> Any:
    from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        loader=FileSystemLoader([str(p) for p in search]),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(search: list[Path], name: str, context: Mapping[str, Any]) -> str:
    from jinja2 import TemplateNotFound, TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    env = _environment(search)
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
