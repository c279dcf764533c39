"""The OpenAPI 3.1 document served at /api/openapi.json (hand-written: no pydantic in the Lambda package)."""

from __future__ import annotations

from talksearch.contracts import (
    FACET_NAMES,
    MAX_FACET_VALUES,
    MAX_PAGE,
    MAX_QUERY_CHARS,
    MAX_SIZE,
    MAX_SUGGESTIONS,
    MAX_TALK_ID_CHARS,
    SORTS,
    SUGGESTION_KINDS,
)

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _facet_parameter(name: str, description: str, item: dict) -> dict:
    return {
        "name": name,
        "in": "query",
        "description": f"{description} Repeat for several values (OR); at most {MAX_FACET_VALUES}.",
        "schema": {"type": "array", "items": item, "maxItems": MAX_FACET_VALUES},
        "style": "form",
        "explode": True,
    }


#: Each facet parameter's description and value type.
_FACET_VALUES = {
    "speaker": ("Exact speaker name.", {"type": "string"}),
    "company": ("Exact company name.", {"type": "string"}),
    "event": ("Exact event name.", {"type": "string"}),
    "year": ("Four-digit year.", {"type": "integer"}),
    "lang": ("ISO 639-1 language code.", {"type": "string"}),
}
_TALK_FIELDS = {
    "id": {"type": "string"},
    "title": {"type": "string"},
    "speakers": {"type": "array", "items": {"type": "string"}},
    "company": {"type": "string"},
    "event": {"type": "string"},
    "date": {"type": "string", "description": "YYYY-MM-DD, or empty when unknown"},
    "year": {"type": ["integer", "null"]},
    "lang": {"type": "string", "description": "ISO 639-1 code, or empty when unknown"},
    "url": {"type": "string"},
}
_INDEX = {
    "type": "object",
    "properties": {"version": {"type": "string"}, "built_at": {"type": "string"}},
}
_FACET_COUNTS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"value": {"type": ["string", "integer"]}, "count": {"type": "integer"}},
    },
}

OPENAPI_DOCUMENT: dict = {
    "openapi": "3.1.0",
    "info": {
        "title": "talksearch API",
        "version": "1",
        "description": "Search conference talk summaries (French and English): typo-tolerant, faceted, highlighted.",
    },
    "paths": {
        "/api/search": {
            "get": {
                "summary": "Search talks (an empty q lists talks, newest first)",
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "description": 'Words (all must match), "phrases", -excluded, prefix*, a OR b, '
                        "speaker:, event:, company:, year:2019 or year:2015-2019. Never a syntax error.",
                        "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS},
                    },
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
                    {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SIZE}},
                    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": list(SORTS)}},
                    {
                        "name": "exact",
                        "in": "query",
                        "description": "1 (or true): the words as typed only, without the translations and"
                        " synonyms a run of words also searches (see expanded); 0 or absent: with them.",
                        "schema": {"type": "string", "enum": ["0", "1", "false", "true"]},
                    },
                    *(_facet_parameter(name, *_FACET_VALUES[name]) for name in FACET_NAMES),
                ],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/SearchResults"}, "One page of results"),
                    "304": {"description": "Not modified (If-None-Match matched the index version)"},
                    "400": _json(_ERROR, "A parameter is out of bounds"),
                    "503": _json(_ERROR, "No index published yet"),
                },
            }
        },
        "/api/talks/{id}": {
            "get": {
                "summary": "One talk with its full summary and up to 5 related talks",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "description": "The talk id; it may contain '/'.",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Talk"}, "The talk"),
                    "404": _json(_ERROR, "No talk has this id"),
                    "503": _json(_ERROR, "No index published yet"),
                },
            }
        },
        "/api/suggest": {
            "get": {
                "summary": f"Up to {MAX_SUGGESTIONS} completions of what is being typed (words, speakers, titles)",
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS}}
                ],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Suggestions"}, "Completions"),
                    "400": _json(_ERROR, "A parameter is out of bounds"),
                },
            }
        },
        "/api/opened": {
            "get": {
                "summary": "Report a result of a search opened (one log record for `make stats`; never cached)",
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "description": "The query whose results were shown (empty: the talks listed without one).",
                        "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS},
                    },
                    {
                        "name": "talk",
                        "in": "query",
                        "required": True,
                        "description": "The id of the talk opened; it must be in the published index.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_TALK_ID_CHARS},
                    },
                ],
                "responses": {
                    "204": {"description": "Recorded"},
                    "400": _json(_ERROR, "A parameter is missing, repeated, unknown or out of bounds"),
                    "404": _json(_ERROR, "No talk has this id"),
                    "503": _json(_ERROR, "No index published yet"),
                },
            }
        },
        "/api/health": {
            "get": {
                "summary": "Which index version is served",
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Health"}, "Serving"),
                    "503": _json(_ERROR, "No index published yet"),
                },
            }
        },
        "/api/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI document"}}}
        },
    },
    "components": {
        "schemas": {
            "Error": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
            "Hit": {
                "type": "object",
                "properties": {
                    **_TALK_FIELDS,
                    "snippet": {"type": "string", "description": "HTML: escaped text, <mark> is the only markup"},
                    "score": {"type": ["number", "null"], "description": "null when listing without q"},
                },
            },
            "SearchResults": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "total": {"type": "integer"},
                    "page": {"type": "integer"},
                    "size": {"type": "integer"},
                    "took_ms": {"type": "number"},
                    "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                    "facets": {
                        "type": "object",
                        "description": "Counts per facet; each applies every filter except its own",
                        "properties": {name: _FACET_COUNTS for name in FACET_NAMES},
                    },
                    "did_you_mean": {"type": ["string", "null"]},
                    "expanded": {
                        "type": "array",
                        "description": "What runs of typed words also searched (glossary and site synonyms);"
                        " empty with exact=1",
                        "items": {
                            "type": "object",
                            "required": ["from", "to"],
                            "properties": {
                                "from": {"type": "string", "description": "the words as typed"},
                                "to": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    },
                    "matched": {
                        "type": "string",
                        "enum": ["all", "some", "any"],
                        "description": (
                            "all: every hit has every word; some: fewer than a page of talks had every word,"
                            " they come first, then talks with some of the words; any: no talk had every word"
                        ),
                    },
                    "partial": {"type": "boolean", "description": "the time budget ran out; best results so far"},
                    "index": _INDEX,
                },
            },
            "Talk": {
                "type": "object",
                "properties": {
                    **_TALK_FIELDS,
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "summary": {"type": "string"},
                    "related": {"type": "array", "items": {"type": "object", "properties": _TALK_FIELDS}},
                    "index": _INDEX,
                },
            },
            "Suggestions": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "suggestions": {
                        "type": "array",
                        "maxItems": MAX_SUGGESTIONS,
                        "items": {
                            "type": "object",
                            "properties": {
                                "text": {"type": "string"},
                                "kind": {"type": "string", "enum": list(SUGGESTION_KINDS)},
                            },
                        },
                    },
                },
            },
            "Health": {
                "type": "object",
                "properties": {
                    "status": {"type": "string"},
                    "index": {
                        "type": "object",
                        "properties": {
                            "version": {"type": "string"},
                            "talks": {"type": "integer"},
                            "built_at": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}
