"""The web archive: search, stories, coverage, sources, Atom feeds and a JSON API.

``mount_web`` adds it to an aiohttp application: the service's own (``haitiwatch run`` with
``[web] enabled = true``) or a standalone one (``haitiwatch serve``).
"""

from haitiwatch.scheduler.web.app import create_app, mount_web

__all__ = ["create_app", "mount_web"]
