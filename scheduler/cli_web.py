"""`haitiwatch serve`: the web archive on its own (read-only), with aiohttp's web.run_app.

Importing this module registers the command on the main typer app (scheduler/cli.py).
"""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli import _load, app, err
from scheduler.wiring import open_store


@app.command("serve")
def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default [web] host, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default [web] port, 8080).")] = None,
) -> None:
    """Serve the web archive: search, stories, coverage chart, sources, Atom feeds, JSON API."""
    from aiohttp import web

    from scheduler.web import create_app

    loaded = _load()
    bind = host or loaded.config.web.host
    chosen_port = port or loaded.config.web.port
    store = open_store(loaded)
    try:
        application = create_app(store, loaded, bind)
    except BaseException:
        store.close()
        raise
    err.print(f"haitiwatch web archive on http://{bind}:{chosen_port}/", highlight=False)
    # No access log: a first request may carry ?token=... in its URL.
    web.run_app(application, host=bind, port=chosen_port, access_log=None, print=None)
