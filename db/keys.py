"""The identities an article is stored under (``article_keys``): pure, stdlib only, so the
crawl's worker processes can compute them too."""

from __future__ import annotations

import hashlib

from haitiwatch.db.records import ArticleRecord

#: Longer key values are stored as their hash (index entries have a size limit on PostgreSQL).
MAX_KEY_CHARS = 512


def key_value(value: str) -> str:
    if len(value) <= MAX_KEY_CHARS:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def record_keys(record: ArticleRecord) -> list[tuple[str, str]]:
    """All identities of a record, strongest first (URL, then GUID, then outlet + text hash)."""
    keys = [("url", key_value(record.canonical_url))]
    keys += [("url", key_value(u)) for u in record.alias_urls if u != record.canonical_url]
    if record.guid_key:
        keys.append(("guid", key_value(record.guid_key)))
    if record.content_hash and record.outlet:
        keys.append(("hash", key_value(f"{record.outlet}|{record.content_hash}")))
    return keys
