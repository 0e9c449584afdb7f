"""The ``haitiwatch`` console script's entry point, deliberately free of imports.

The crawl's worker processes are spawned, and a spawned process re-imports the script that
started its parent. Pointing the script at ``scheduler.cli`` would make every worker import
the whole CLI (SQLAlchemy, Alembic, typer...) for nothing.
"""


def main() -> None:
    from haitiwatch.scheduler import stop_signals

    stop_signals.hold()  # until the command starts (scheduler/stop_signals.py)
    from haitiwatch.scheduler.cli import main as cli_main

    cli_main()
