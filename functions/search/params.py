"""Every request parameter checked once, for the API and for direct engine calls alike.

The bounds are the API's contract with its page (``talksearch.contracts``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from talksearch.contracts import (
    DEFAULT_SIZE,
    FACET_NAMES,
    MAX_FACET_VALUE_CHARS,
    MAX_FACET_VALUES,
    MAX_PAGE,
    MAX_QUERY_CHARS,
    MAX_SIZE,
    MAX_TALK_ID_CHARS,
    SORTS,
)

SEARCH_PARAMETERS = ("q", "page", "size", "sort", "exact", *FACET_NAMES)
#: ``exact``: search the words as typed only (no translations or synonyms).
EXACT_VALUES = {"": False, "0": False, "false": False, "1": True, "true": True}


class InvalidParameter(ValueError):
    """A request parameter is out of bounds; the message says which and why (answered as a 400)."""


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    page: int = 1
    size: int = DEFAULT_SIZE
    sort: str = "relevance"
    exact: bool = False
    #: facet name -> selected values (OR within a facet, AND across facets)
    filters: dict[str, tuple] = field(default_factory=dict)

    @classmethod
    def from_values(cls, **values: object) -> SearchParams:
        """Validate Python values (``str``/``int``, a list for repeated facets): what ``SearchEngine.search`` takes."""
        unknown = sorted(set(values) - set(SEARCH_PARAMETERS))
        if unknown:
            raise InvalidParameter(
                f"unknown parameter {unknown[0]!r}; the parameters are {', '.join(SEARCH_PARAMETERS)}"
            )
        q = query_text(values.get("q"))
        page = _integer("page", values.get("page"), 1, MAX_PAGE, 1)
        size = _integer("size", values.get("size"), 1, MAX_SIZE, DEFAULT_SIZE)
        sort = _single("sort", values.get("sort")) or "relevance"
        if sort not in SORTS:
            raise InvalidParameter(f"sort must be one of {', '.join(SORTS)}, not {sort[:40]!r}")
        exact = values.get("exact")
        if not isinstance(exact, bool):  # a bool from SearchParams itself (the API route), else the query's text
            text = (_single("exact", exact) or "").strip().lower()
            if text not in EXACT_VALUES:
                raise InvalidParameter(f"exact must be 1 or 0 (true or false), not {text[:20]!r}")
            exact = EXACT_VALUES[text]
        filters = {}
        for facet in FACET_NAMES:
            selected = _facet_values(facet, values.get(facet))
            if selected:
                filters[facet] = selected
        return cls(q=q, page=page, size=size, sort=sort, exact=exact, filters=filters)

    @classmethod
    def from_query_string(cls, multi: Mapping[str, list[str]]) -> SearchParams:
        """Validate API Gateway's multi-value query parameters: only facets may repeat."""
        values: dict[str, object] = {}
        for name, given in multi.items():
            if name not in FACET_NAMES and len(given) > 1:
                raise InvalidParameter(f"{name} may be given only once")
            values[name] = list(given) if name in FACET_NAMES else given[0]
        return cls.from_values(**values)


@dataclass(frozen=True)
class SuggestParams:
    q: str = ""

    @classmethod
    def from_values(cls, **values: object) -> SuggestParams:
        """Validate what ``SearchEngine.suggest`` takes: only ``q``."""
        unknown = sorted(set(values) - {"q"})
        if unknown:
            raise InvalidParameter(f"unknown parameter {unknown[0][:40]!r}; /api/suggest takes only q")
        return cls(q=query_text(values.get("q")))

    @classmethod
    def from_query_string(cls, multi: Mapping[str, list[str]]) -> SuggestParams:
        return cls.from_values(**{name: given if len(given) > 1 else given[0] for name, given in multi.items()})


@dataclass(frozen=True)
class OpenedParams:
    """What /api/opened takes: the query whose results were shown (checked as ``q`` is) and the talk opened."""

    q: str
    talk: str

    @classmethod
    def from_query_string(cls, multi: Mapping[str, list[str]]) -> OpenedParams:
        unknown = sorted(set(multi) - {"q", "talk"})
        if unknown:
            raise InvalidParameter(f"unknown parameter {unknown[0][:40]!r}; /api/opened takes only q and talk")
        talk = _text("talk", multi.get("talk"), MAX_TALK_ID_CHARS)
        if not talk:
            raise InvalidParameter("talk is required: the id of the talk opened")
        return cls(q=query_text(multi.get("q")), talk=talk)


def query_text(value: object) -> str:
    """The one check of ``q``, for searches and suggestions: one string of at most MAX_QUERY_CHARS."""
    return _text("q", value, MAX_QUERY_CHARS)


def _single(name: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) > 1:
            raise InvalidParameter(f"{name} may be given only once")
        value = value[0] if value else None
        if value is None:
            return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidParameter(f"{name} must be a string")
    return str(value)


def _text(name: str, value: object, limit: int) -> str:
    text = _single(name, value) or ""
    if len(text) > limit:
        raise InvalidParameter(f"{name} is {len(text)} characters long; the limit is {limit}")
    return text


def _integer(name: str, value: object, low: int, high: int, default: int) -> int:
    text = _single(name, value)
    if text is None or text == "":
        return default
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()) or len(stripped) > 6:
        raise InvalidParameter(f"{name} must be a whole number from {low} to {high}, not {text[:20]!r}")
    number = int(stripped)
    if not low <= number <= high:
        raise InvalidParameter(f"{name} must be from {low} to {high}, not {number}")
    return number


def _facet_values(facet: str, value: object) -> tuple:
    if value is None:
        return ()
    given: Iterable[object] = value if isinstance(value, (list, tuple)) else [value]
    given = list(given)
    if len(given) > MAX_FACET_VALUES:
        raise InvalidParameter(f"{facet} is given {len(given)} times; at most {MAX_FACET_VALUES} values per facet")
    selected: list = []
    for item in given:
        text = _text(facet, item, MAX_FACET_VALUE_CHARS).strip()
        if not text:
            continue
        if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
            raise InvalidParameter(f"{facet} contains control characters")
        if facet == "year":
            if not (text.isascii() and text.isdigit() and len(text) == 4):
                raise InvalidParameter(f"year must be a four-digit year, not {text[:20]!r}")
            selected.append(int(text))
        elif text not in selected:
            selected.append(text)
    return tuple(dict.fromkeys(selected))
