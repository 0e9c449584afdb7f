"""``/sources.opml``: the archive's feed sources for a feed reader, behind the same access
token as every other page; sources whose URL carries a key or credentials are left out."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from haitiwatch.scheduler.opml import exported, write_opml
from haitiwatch.scheduler.web.context import CONTEXT


async def sources_opml(request: web.Request) -> web.Response:
    sources = request.app[CONTEXT].loaded.config.sources
    body = write_opml(exported(sources, public=True))
    return web.Response(
        body=body,
        content_type="text/x-opml",
        charset="utf-8",
        headers={"Content-Disposition": 'inline; filename="haitiwatch-sources.opml"'},
    )


ROUTES: Final = (("/sources.opml", sources_opml),)
