"""`make stats`: what visitors look for, from the search function's own log records.

Each search and each result opened is one JSON record in the search function's logs (``visit``, the normalised
``query``, ``total``, ``page``, ...: ``talksearch.contracts``). Read from ``make dev``'s folder (``local``) or
by CloudWatch Logs Insights from a deployed stack's log group (``cloudwatch``), they become the same four tallies,
and this module turns those into the report: the top queries, the zero-hit queries and the queries whose results
nobody opened, each with its count.

A search is counted once per answered request for its first page: the next pages, and a CloudFront cache hit
(the same query asked again within the minute the answer is cached), are not visits of their own. A zero-hit
query found nothing by itself: a search that filters narrowed to nothing is not one.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

DEFAULT_SINCE = "7d"
DEFAULT_TOP = 20
_DURATION = re.compile(r"^\s*(\d{1,4})\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class StatsError(Exception):
    """Something the person asking must fix (no logs, no stack, no credentials); the message says what."""


@dataclass
class Tallies:
    """Counts by normalised query over a time window; what both log sources produce."""

    searches: Counter[str] = field(default_factory=Counter)  # first pages answered
    zero_hits: Counter[str] = field(default_factory=Counter)  # of those, the ones that found no talk, unfiltered
    with_hits: Counter[str] = field(default_factory=Counter)  # and the ones that found some
    opens: Counter[str] = field(default_factory=Counter)  # results opened from that query's answers
    #: a source could not return every distinct query (Logs Insights' 10,000 rows per query)
    truncated: bool = False


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """The start of the window: ``30m``, ``12h``, ``7d``, ``2w`` before now, or a UTC date/time (``2026-11-30``)."""
    now = now or datetime.now(UTC)
    found = _DURATION.match(text)
    if found:
        return now - timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
    try:
        start = datetime.fromisoformat(text.strip())
    except ValueError:
        raise StatsError(f"SINCE must be like 30m, 12h, 7d, 2w or a date such as 2026-11-30, not {text!r}") from None
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    if start > now:
        raise StatsError(f"SINCE {text!r} is in the future")
    return start


def _ranked(counts: Counter[str], top: int) -> list[tuple[str, int]]:
    """The most frequent non-empty queries first, ties in alphabetical order."""
    return sorted(((q, n) for q, n in counts.items() if q and n > 0), key=lambda item: (-item[1], item[0]))[:top]


def report(tallies: Tallies, *, source: str, since: datetime, until: datetime, top: int = DEFAULT_TOP) -> dict:
    """The report ``--json`` prints: totals, then the three lists, each at most ``top`` long."""
    unopened = Counter({q: n for q, n in tallies.with_hits.items() if not tallies.opens.get(q)})
    return {
        "source": source,
        "since": since.isoformat(timespec="seconds"),
        "until": until.isoformat(timespec="seconds"),
        "searches": sum(n for q, n in tallies.searches.items() if q),
        "distinct_queries": sum(1 for q, n in tallies.searches.items() if q and n),
        "opens": sum(tallies.opens.values()),
        "top": [
            {"query": q, "searches": n, "opens": tallies.opens.get(q, 0)} for q, n in _ranked(tallies.searches, top)
        ],
        "zero_hits": [{"query": q, "searches": n} for q, n in _ranked(tallies.zero_hits, top)],
        "unopened": [{"query": q, "searches": n} for q, n in _ranked(unopened, top)],
        "truncated": tallies.truncated,
    }


def _clip(query: str, width: int) -> str:
    return query if len(query) <= width else query[: width - 1] + "…"


_UNIT_LENGTHS = (("day", timedelta(days=1)), ("hour", timedelta(hours=1)), ("minute", timedelta(minutes=1)))


def _span(delta: timedelta) -> str:
    """``7 days``, ``12 hours``, ``1 day``: the window's length in the largest unit it reaches (minutes at least)."""
    unit, length = next(((u, n) for u, n in _UNIT_LENGTHS if delta >= n), _UNIT_LENGTHS[-1])
    amount = f"{delta / length:.3g}"
    return f"{amount} {unit}{'' if amount == '1' else 's'}"


def render(summary: dict, width: int = 44) -> str:
    """The report as text for a terminal."""
    since, until = (datetime.fromisoformat(summary[k]) for k in ("since", "until"))
    lines = [
        f"What visitors looked for, {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC ({_span(until - since)})",
        f"from {summary['source']}",
        f"{summary['searches']} searches with a query ({summary['distinct_queries']} different), "
        f"{summary['opens']} results opened",
    ]
    sections = [
        ("Top queries", "top", ("searches", "opens")),
        ("Zero-hit queries (the next recaps to write?)", "zero_hits", ("searches",)),
        ("Queries whose results nobody opened", "unopened", ("searches",)),
    ]
    for title, key, columns in sections:
        lines += ["", f"{title:<{width + 2}}" + "".join(f"{c:>10}" for c in columns)]
        rows = summary[key] or [{"query": "(none)"}]
        for row in rows:
            counts = "".join(f"{row[c]:>10}" for c in columns if c in row)
            lines.append(f"  {_clip(row['query'], width):<{width}}{counts}")
    if summary["truncated"]:
        lines += ["", "(more different queries than Logs Insights returns: the lists are of the 10,000 most searched)"]
    return "\n".join(lines)
