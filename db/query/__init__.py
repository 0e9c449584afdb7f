"""The query language alert rules and archive search share: ``parser`` turns query text into
the syntax tree of ``ast``. Stdlib only: both the matcher (scheduler.rules) and the database's
search (db.search) build on it."""
