"""The rules on the web: the list of rules, and each rule's near misses as a page and as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from aiohttp import web

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.scheduler.audit import Finding, audit_rule, finding_json
from haitiwatch.scheduler.numbers import whole_number
from haitiwatch.scheduler.rule_config import RuleConfig, rule_named
from haitiwatch.scheduler.web.api import MAX_LIMIT, error
from haitiwatch.scheduler.web.context import CONTEXT, WebContext
from haitiwatch.scheduler.web.i18n import translate

MAX_DAYS: Final = 365
_NAME: Final = "{name:[a-z0-9][a-z0-9._-]{0,63}}"


def _rule(context: WebContext, name: str) -> RuleConfig | None:
    try:
        return rule_named(context.loaded.config.rules, name)
    except HaitiwatchError:
        return None


def _window(query: Mapping[str, str]) -> tuple[int, int]:
    """``days`` (default 7) and ``limit`` (default 20) from a query string, checked."""
    days = whole_number(query.get("days", "7"), 1, MAX_DAYS)
    limit = whole_number(query.get("limit", "20"), 1, MAX_LIMIT)
    if days is None:
        raise HaitiwatchError(f"days: expected 1 to {MAX_DAYS}")
    if limit is None:
        raise HaitiwatchError(f"limit: expected 1 to {MAX_LIMIT}")
    return days, limit


async def _findings(context: WebContext, rule: RuleConfig, days: int, limit: int) -> list[Finding]:
    since = datetime.now(UTC) - timedelta(days=days)
    return await context.run(lambda: audit_rule(context.archive, rule, since, limit))


async def rules_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    rules = context.loaded.config.rules
    feeds = {r.name: context.feed(r.name, f"/rules/{r.name}.atom", [])["href"] for r in rules}
    return context.render("rules.html", rules=rules, rule_feeds=feeds)


async def audit_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    rule = _rule(context, request.match_info["name"])
    if rule is None:
        return context.render("error.html", 404, message=translate("No such rule."))
    try:
        days, limit = _window(request.query)
    except HaitiwatchError as e:
        return context.render("error.html", 400, message=str(e))
    findings = await _findings(context, rule, days, limit)
    feed = context.feed(
        translate("Matches of rule %(name)s (Atom)") % {"name": rule.name},
        f"/rules/{rule.name}.atom",
        [],
    )
    return context.render("rule_audit.html", rule=rule, days=days, findings=findings, feeds=[feed])


async def api_audit(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    name = request.match_info["name"]
    rule = _rule(context, name)
    if rule is None:
        return error(f"no rule named {name!r}", 404)
    try:
        days, limit = _window(request.query)
    except HaitiwatchError as e:
        return error(str(e))
    findings = await _findings(context, rule, days, limit)
    return web.json_response(
        {"rule": name, "days": days, "near_misses": [finding_json(f) for f in findings]}
    )


ROUTES: Final = (
    ("/rules", rules_page),
    (f"/rules/{_NAME}/audit", audit_page),
    (f"/api/rules/{_NAME}/audit", api_audit),
)
