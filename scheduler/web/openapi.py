"""The OpenAPI 3.1 description of /api/ (hand-written; validated by tests/unit/test_web_api.py)."""

from __future__ import annotations

from typing import Any, Final


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}  # fmt: skip


_STR: Final = {"type": "string"}
_DATE: Final = {"type": "string", "format": "date"}
_NULL_STR: Final = {"type": ["string", "null"]}
_NULL_TIME: Final = {"type": ["string", "null"], "format": "date-time"}
_LINK: Final = {
    "type": "string",
    "description": "The article's address: the canonical URL the page declares on its own "
    "outlet, else the URL fetched after redirects, else the feed's link (tracking parameters "
    "removed). Not the dedupe key.",
}

FILTERS: Final = [
    _param(
        "q",
        'Query, same syntax as alert rules: words, "phrases", OR, NOT, NEAR/n, '
        "prefix*, title:/text:. Empty: every article.",
        _STR,
    ),
    _param("since", "From this day (UTC).", _DATE),
    _param("until", "Up to this day, inclusive (UTC).", _DATE),
    _param("source", "Only this source (repeatable).", _STR),
    _param("lang", "Only this language code (repeatable).", _STR),
    _param("rule", "Only articles this alert rule matched.", _STR),
    _param("story", "Only copies of this story.", {"type": "integer", "minimum": 1}),
]
LIMIT: Final = _param("limit", "At most this many.", {"type": "integer", "minimum": 1,
                                                        "maximum": 100})  # fmt: skip
ERROR: Final = {
    "description": "A bad request (e.g. a query syntax error), with a message.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _ok(schema: str) -> dict[str, Any]:
    return {
        "description": "OK",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


SCHEMAS: Final[dict[str, Any]] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": _STR}},
    "Hit": {
        "type": "object",
        "required": ["id", "title", "url", "source"],
        "properties": {
            "id": {"type": "integer"},
            "title": _STR,
            "url": _LINK,
            "source": _STR,
            "language": _NULL_STR,
            "published": _NULL_TIME,
            "first_seen": {"type": "string", "format": "date-time"},
            "story_id": {"type": ["integer", "null"]},
            "event_id": {"type": ["integer", "null"]},
            "score": {"type": ["number", "null"]},
            "snippet": {
                "description": "Plain text and [start, end) offsets of the matched words.",
                "type": ["object", "null"],
                "properties": {
                    "text": _STR,
                    "highlights": {
                        "type": "array",
                        "items": {"type": "array", "items": {"type": "integer"}},
                    },
                },
            },
        },
    },
    "SearchResults": {
        "type": "object",
        "properties": {
            "query": _STR,
            "sort": {"enum": ["relevance", "date"]},
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
        },
    },
    "Copy": {
        "type": "object",
        "properties": {
            "article_id": {"type": "integer"},
            "source": _STR,
            "url": _LINK,
            "title": _STR,
            "first_seen": _NULL_TIME,
            "published": _NULL_TIME,
            "revisions": {"type": "integer"},
            "is_origin": {"type": "boolean"},
        },
    },
    "Stories": {
        "type": "object",
        "properties": {
            "stories": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "updated_at": _NULL_TIME,
                        "article_count": {"type": "integer"},
                        "origin": {
                            "oneOf": [{"$ref": "#/components/schemas/Copy"}, {"type": "null"}]
                        },
                    },
                },
            }
        },
    },
    "Story": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "copies": {"type": "array", "items": {"$ref": "#/components/schemas/Copy"}},
        },
    },
    "Report": {
        "type": "object",
        "properties": {
            "article_id": {"type": "integer"},
            "story_id": {"type": ["integer", "null"]},
            "source": _STR,
            "url": _LINK,
            "title": _STR,
            "language": _NULL_STR,
            "first_seen": _NULL_TIME,
            "published": _NULL_TIME,
            "is_first": {"type": "boolean"},
        },
    },
    "Event": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "updated_at": _NULL_TIME,
            "article_count": {"type": "integer"},
            "source_count": {"type": "integer"},
            "languages": {"type": "array", "items": _STR},
            "first": {"oneOf": [{"$ref": "#/components/schemas/Report"}, {"type": "null"}]},
            "reports": {"type": "array", "items": {"$ref": "#/components/schemas/Report"}},
        },
    },
    "Events": {
        "type": "object",
        "properties": {
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
        },
    },
    "Coverage": {
        "type": "object",
        "properties": {
            "by": {"enum": ["source", "language", "rule", "tag"]},
            "count": {"enum": ["articles", "events"]},
            "points": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "day": {"type": "string", "format": "date"},
                        "key": _STR,
                        "count": {"type": "integer"},
                    },
                },
            },
        },
    },
    "Sources": {
        "type": "object",
        "properties": {
            "sources": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": _STR,
                        "kind": _STR,
                        "status": {"enum": ["ok", "failing", "never"]},
                        "last_success": _NULL_TIME,
                        "last_error_at": _NULL_TIME,
                        "consecutive_failures": {"type": "integer"},
                        "articles": {"type": "integer"},
                        "fetches": {"type": "integer"},
                        "pages_owed": {
                            "type": "integer",
                            "description": "article pages listed and not fetched yet: the "
                            "next polls fetch them, newest first",
                        },
                        "items_failed": {
                            "type": "integer",
                            "description": "items of the source's listings that failed alone "
                            "(no record could be made of them; the others were stored)",
                        },
                    },
                },
            }
        },
    },
    "NearMisses": {
        "type": "object",
        "properties": {
            "rule": _STR,
            "days": {"type": "integer"},
            "near_misses": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "article_id": {"type": "integer"},
                        "title": _STR,
                        "url": _LINK,
                        "source": _STR,
                        "published": _NULL_TIME,
                        "first_seen": {"type": "string", "format": "date-time"},
                        "story_id": {"type": ["integer", "null"]},
                        "score": {"type": "number", "description": "Lexical closeness, 0 to 1"},
                        "classifier_score": {"type": ["number", "null"]},
                        "reasons": {"type": "array", "items": _STR},
                    },
                },
            },
        },
    },
}

SCHEMAS["Mark"] = {
    "type": "object",
    "required": ["article_id", "rule", "verdict"],
    "properties": {
        "article_id": {"type": "integer"},
        "rule": {"type": "string", "description": "A rule name from the config."},
        "verdict": {"enum": ["relevant", "irrelevant"]},
        "origin": {"enum": ["cli", "web", "link"], "description": "In answers only."},
    },
}


def _recent_and_one(
    plural: str, list_summary: str, singular: str, one_summary: str
) -> dict[str, Any]:
    """/api/<plural> (updated within ?days=, at most ?limit=) and /api/<plural>/{id}."""
    return {
        f"/api/{plural}": {
            "get": {
                "summary": list_summary,
                "parameters": [
                    _param("days", "Updated within this many days.", {"type": "integer"}),
                    LIMIT,
                ],
                "responses": {"200": _ok(plural.capitalize()), "400": ERROR},
            }
        },
        f"/api/{plural}/{{id}}": {
            "get": {
                "summary": one_summary,
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {"200": _ok(singular), "404": ERROR},
            }
        },
    }


SPEC: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "info": {
        "title": "haitiwatch archive API",
        "version": "1",
        "description": "Access to the haitiwatch news archive; marks are its one write. When "
        "the server is bound to an address other than loopback, send the access token as "
        "'Authorization: Bearer TOKEN'.",
    },
    "paths": {
        "/api/search": {
            "get": {
                "summary": "Full-text search of the archive",
                "parameters": [
                    *FILTERS,
                    _param("sort", "relevance or date", {"enum": ["relevance", "date"]}),
                    LIMIT,
                    _param("page", "Page number.", {"type": "integer", "minimum": 1}),
                ],
                "responses": {"200": _ok("SearchResults"), "400": ERROR},
            }
        },
        **_recent_and_one(
            "stories",
            "Stories updated recently, newest first",
            "Story",
            "Every copy of one story, the origin marked",
        ),
        **_recent_and_one(
            "events",
            "Events (news and its coverage) updated recently, newest first",
            "Event",
            "Every report of one event, the first marked",
        ),
        "/api/coverage": {
            "get": {
                "summary": "Matching articles (or their events) per day, by source, language, rule "
                "or tag",
                "parameters": [
                    *FILTERS,
                    _param("by", "Series key.", {"enum": ["source", "language", "rule", "tag"]}),
                    _param(
                        "count",
                        "What a day counts: the matching articles (default), or the distinct "
                        "events they report; an event counts on every day it has a match.",
                        {"enum": ["articles", "events"]},
                    ),
                ],
                "responses": {"200": _ok("Coverage"), "400": ERROR},
            }
        },
        "/api/marks": {
            "post": {
                "summary": "Mark an article relevant or not relevant for a rule",
                "description": "A new mark replaces the article's earlier mark for the rule. "
                "Send JSON (Content-Type: application/json) and, when the server asks for one, "
                "the access token as a bearer token; a cross-origin Origin is refused.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Mark"}}
                    },
                },
                "responses": {
                    "201": {
                        "description": "Recorded",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Mark"}}
                        },
                    },
                    "400": ERROR,
                    "401": ERROR,
                    "403": ERROR,
                    "404": ERROR,
                    "415": ERROR,
                },
            }
        },
        "/api/sources": {
            "get": {
                "summary": "Configured sources and their health",
                "responses": {"200": _ok("Sources")},
            }
        },
        "/api/rules/{name}/audit": {
            "get": {
                "summary": "A rule's near misses: unmatched articles that look on topic, best "
                "first, one per story, with the reasons",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": _STR},
                    _param(
                        "days", "First seen within this many days (1-365).", {"type": "integer"}
                    ),
                    LIMIT,
                ],
                "responses": {"200": _ok("NearMisses"), "400": ERROR, "404": ERROR},
            }
        },
    },
    "components": {"schemas": SCHEMAS},
}
