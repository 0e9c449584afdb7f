"""The poll queue's JSON codec: what scrapy-redis stores of a request comes back equal."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from scrapy.http import Request

from haitiwatch.crawler.cluster import Dispatch, _JsonCodec

leaves = st.none() | st.booleans() | st.integers() | st.text() | st.binary()
documents = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(documents)
def test_any_document_of_bytes_and_text_round_trips(document: object) -> None:
    assert _JsonCodec.loads(_JsonCodec.dumps(document)) == document


@given(
    source=st.text(min_size=1, max_size=64),
    dispatch_id=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    path=st.text(alphabet="abcdefghij/-_.", max_size=40),
)
def test_a_queued_request_comes_back_as_its_dispatch(
    source: str, dispatch_id: str, path: str
) -> None:
    """What PollQueue.push stores (a Request as dict) decodes to the same dispatch."""
    url = f"https://news.example/{path}"
    request = Request(
        url, dont_filter=True, meta={"source": source, "dispatch_id": dispatch_id}, priority=-5
    )
    stored = _JsonCodec.dumps(request.to_dict())
    back = _JsonCodec.loads(stored)
    assert Dispatch(back["meta"]["source"], back["meta"]["dispatch_id"], back["url"]) == Dispatch(
        source, dispatch_id, request.url
    )
    assert isinstance(back["body"], bytes)
