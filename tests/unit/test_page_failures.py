"""Which failures of an article page may pass (crawler.spider.is_transient): a section page's
link whose page failed so stays owed for a later poll; any other failure gives it up."""

from __future__ import annotations

import pytest
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectionLost, DNSLookupError, TimeoutError

from haitiwatch.crawler.spider import is_transient


def http_error(status: int) -> HttpError:
    return HttpError(Response("https://outlet.example/a", status=status), "ignored")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (http_error(404), False),
        (http_error(410), False),
        (http_error(403), False),
        (http_error(500), True),
        (http_error(503), True),
        (http_error(408), True),
        (http_error(429), True),
        (TimeoutError(), True),
        (DNSLookupError(), True),
        (ConnectionLost(), True),
        (IgnoreRequest("disallowed by robots.txt"), False),
        (CancelledError(), False),  # the size cap
    ],
    ids=lambda value: (
        (f"HTTP {value.response.status}" if isinstance(value, HttpError) else type(value).__name__)
        if isinstance(value, Exception)
        else str(value)
    ),
)
def test_server_errors_and_timeouts_may_pass_client_errors_and_refusals_do_not(
    error: Exception, transient: bool
) -> None:
    assert is_transient(error) is transient
