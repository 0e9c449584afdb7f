"""Secrets out of the logs: a filter on every handler masks what db/redact.py knows."""

from __future__ import annotations

import logging

from haitiwatch.db.redact import redact

#: The attributes every LogRecord has; anything else came from ``extra=``.
STANDARD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


class RedactingFilter(logging.Filter):
    """Masks secrets (db/redact.py) in every record a handler writes, from any logger
    (Apprise logs a channel URL it cannot parse, and its tokens at debug level): the message,
    the traceback and string ``extra=`` fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message), ()
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in vars(record).items():
            if key not in STANDARD_FIELDS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


def redact_logs() -> None:
    """Put the ``RedactingFilter`` on every handler of the root logger."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
