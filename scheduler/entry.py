"""The ``haitiwatch`` console script's entry point, deliberately free of imports.

The crawl's worker processes are spawned, and a spawned process re-imports the script that
started its parent. Pointing the script at ``scheduler.cli`` would make every worker import
the whole CLI (SQLAlchemy, Alembic, typer...: about a second of CPU each) for nothing.
"""


def main() -> None:
    import gc

    from scheduler.cli import main as cli_main

    # The modules just imported are ~150,000 objects that live as long as the process. Frozen,
    # they are left out of every later garbage collection: a full collection during a crawl
    # then scans what the crawl allocated, not the libraries.
    gc.freeze()
    cli_main()
