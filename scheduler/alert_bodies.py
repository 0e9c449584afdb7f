"""Alert and digest bodies (plain text and HTML) from Jinja2 templates a deployment can
override: ``[alerts] templates = "/path"`` holds files named like the package's own
(scheduler/alert_templates/: ``alert.txt``, ``alert.html``, ``digest.txt``, ``digest.html``,
and the ``item.*`` each includes); a file missing there comes from the package.

Each template is rendered in the rule's language: the package's templates mark our own words
with Jinja2's i18n tags (``{% trans %}``, ``_()``), translated from the shared catalogs
(scheduler/catalogs.py); an override without them simply renders its own text.

HTML templates are autoescaped, so feed text in them cannot inject markup; text templates are
not (scheduler/messages.py makes their values one-line and bounded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)

from haitiwatch.db.errors import ConfigError
from haitiwatch.scheduler.catalogs import DEFAULT, translations

TEMPLATE_NAMES = ("alert.txt", "alert.html", "digest.txt", "digest.html", "item.txt", "item.html")


class AlertBodies:
    """The templates, loaded once per language; ``render`` fills one."""

    def __init__(self, override: Path | None = None) -> None:
        package = PackageLoader("haitiwatch.scheduler", "alert_templates")
        loaders: list[BaseLoader] = [package]
        if override is not None:
            loaders.insert(0, FileSystemLoader(override))
        self.loader = ChoiceLoader(loaders)
        self.override = override
        self._envs: dict[str, Environment] = {}
        self.env = self.environment(DEFAULT)

    def environment(self, language: str) -> Environment:
        """The templates with ``language``'s translations installed (one Environment each,
        so rendering in one language never changes another's)."""
        if language not in self._envs:
            env = Environment(
                loader=self.loader,
                autoescape=select_autoescape(enabled_extensions=("html",), default=False),
                undefined=StrictUndefined,  # a misspelt name in an override fails, not renders ""
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=False,
                extensions=["jinja2.ext.i18n"],
            )
            env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
            self._envs[language] = env
        return self._envs[language]

    def check(self) -> None:
        """Load and render every template now with a full sample item, so that an override
        that does not parse, or names what no item has, stops start-up with its file and
        line, rather than failing each alert later."""
        if self.override is not None and not self.override.is_dir():
            raise ConfigError(f"alerts.templates: {self.override} is not a folder")
        sample = _sample_context()
        for name in TEMPLATE_NAMES:
            try:
                self.env.get_template(name).render(**sample)
            except TemplateError as e:
                where, line = _where(e, name)
                raise ConfigError(
                    f"alerts.templates: {where}" + (f" line {line}" if line else "") + f": {e}"
                ) from e

    def render(self, name: str, language: str = DEFAULT, **context: Any) -> str:
        return self.environment(language).get_template(name).render(**context).strip()


def _where(error: TemplateError, name: str) -> tuple[str, int | None]:
    """The template file and line an error comes from: a syntax error says so; a render
    error's traceback has frames in the template files (Jinja2 rewrites them so)."""
    if isinstance(error, TemplateSyntaxError):
        return error.filename or error.name or name, error.lineno
    found: tuple[str, int | None] = (name, None)
    frame = error.__traceback__
    while frame is not None:
        file = frame.tb_frame.f_code.co_filename
        if file.endswith(TEMPLATE_NAMES):
            found = (file, frame.tb_lineno)
        frame = frame.tb_next
    return found


def _sample_context() -> dict[str, Any]:
    from markupsafe import Markup

    from haitiwatch.scheduler.messages import ItemView  # the messages module renders with us

    link = "https://news.example.org/a"
    item = ItemView(
        rule="rule", title="Title", link=link, url=link, meta="outlet · 2026-01-01 07:00 UTC",
        snippet_text="*match*", snippet_html=Markup("<mark><b>match</b></mark>"),
        terms="Rule rule matched: match", archive_url=link, marks=(link, link), also="Also: x",
    )  # fmt: skip
    return {"item": item, "title": "Title", "items": [item], "more": "more", "archive_url": link}
