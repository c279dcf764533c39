"""What every content format shares: the error and result types, and the cleaning of talk fields."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from index_builder.text import detect_language, normalize_language
from talksearch.schema import Talk

#: Problems listed per file; the rest are counted in one last line (a broken export can have millions).
MAX_PROBLEMS = 100


class ContentError(ValueError):
    """A content file that cannot be indexed; the message says why."""


@dataclass
class ParsedSource:
    talks: list[Talk] = field(default_factory=list)
    #: what was left out while the rest of the file was kept; the build report prints "skipped <problem>"
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0

    def add_problem(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems += 1

    def finish(self) -> ParsedSource:
        """Close the problem list with the count of those not listed."""
        if self.more_problems:
            self.problems.append(f"{self.more_problems:,} more like these")
            self.more_problems = 0
        return self


_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?")
#: Dates written out, as some generators' templates do (Astro's blog starter: ``pubDate: 'Jul 08 2022'``).
_WRITTEN_DATE_FORMATS = ("%b %d %Y", "%B %d %Y", "%d %b %Y", "%d %B %Y")


def clean_text(value: Any) -> str:
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def clean_list(value: Any) -> list[str]:
    """A list of non-empty strings from a list, or from one comma-separated string."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [text for text in (clean_text(v) for v in value) if text]


def clean_date(value: Any) -> str:
    """``YYYY-MM-DD`` (or ``YYYY-MM`` / ``YYYY`` when that is all there is); "" when unusable."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and 1000 <= value <= 9999:
        return str(value)
    if not isinstance(value, str):
        return ""
    match = _DATE.match(value.strip())
    if match:
        return match.group(0)
    written = " ".join(value.replace(",", " ").split())[:40]
    for form in _WRITTEN_DATE_FORMATS:
        try:
            return dt.datetime.strptime(written, form).date().isoformat()
        except ValueError:
            continue
    return ""


def talk_language(declared: Any, *texts: str) -> str:
    return normalize_language(declared) or detect_language("\n".join(texts))


class IdAllocator:
    """Talk ids unique within a file: ``wanted``, then ``wanted-2``, ``wanted-3`` … (constant time per id,
    so a file that repeats one heading or title 100,000 times is not quadratic)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self._next: dict[str, int] = {}

    def reserve(self, talk_id: str) -> None:
        """An id given by the content itself (a record's ``id``), kept as is."""
        self.taken.add(talk_id)

    def allocate(self, wanted: str) -> str:
        n = self._next.get(wanted, 1)
        candidate = wanted if n == 1 else f"{wanted}-{n}"
        while candidate in self.taken:
            n += 1
            candidate = f"{wanted}-{n}"
        self._next[wanted] = n + 1
        self.taken.add(candidate)
        return candidate


def talk_from_fields(fields: dict[str, Any], *, talk_id: str, title: str, summary: str, key: str) -> Talk:
    """A talk from the metadata single-talk front matter and JSON records share (same names, same rules)."""
    return Talk(
        id=talk_id,
        title=title,
        speakers=clean_list(fields.get("speakers", fields.get("speaker"))),
        company=clean_text(fields.get("company")),
        event=clean_text(fields.get("event")),
        date=clean_date(fields.get("date")),
        lang=talk_language(fields.get("language") or fields.get("lang"), title, summary),
        tags=clean_list(fields.get("tags")),
        summary=summary,
        url=clean_text(fields.get("url")),
        source=key,
    )
