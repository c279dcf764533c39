"""The tallies from ``make dev``'s log folder: ``<folder>/<UTC day>.jsonl``, one Powertools JSON record a line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from stats import StatsError, Tallies
from talksearch.contracts import VISIT_FIELD, VISIT_OPEN, VISIT_SEARCH


def _logged_at(record: dict) -> datetime | None:
    """When Powertools says the record was logged (``2026-12-02 00:31:27,114+0000``)."""
    try:
        return datetime.strptime(str(record["timestamp"]).replace(",", "."), "%Y-%m-%d %H:%M:%S.%f%z")
    except (KeyError, ValueError):
        return None


def read_local(folder: Path, since: datetime, until: datetime) -> Tallies:
    """Tally the visits logged in ``folder`` from ``since`` to ``until``; lines that are not records are skipped."""
    if not folder.is_dir():
        raise StatsError(f"no logs in {folder}: run `make dev` and search a little first")
    tallies = Tallies()
    first, last = (f"{moment.astimezone(UTC):%Y-%m-%d}" for moment in (since, until))
    days = sorted(p for p in folder.glob("*.jsonl") if first <= p.stem <= last)
    for day in days:
        with open(day, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get(VISIT_FIELD):
                    at = _logged_at(record)
                    if at is not None and since <= at <= until:
                        _count(tallies, record)
    return tallies


def _count(tallies: Tallies, record: dict) -> None:
    query = str(record.get("query") or "")
    if record[VISIT_FIELD] == VISIT_OPEN:
        tallies.opens[query] += 1
    elif record[VISIT_FIELD] == VISIT_SEARCH and record.get("page") == 1:
        tallies.searches[query] += 1
        if record.get("total"):
            tallies.with_hits[query] += 1
        elif not record.get("filtered"):  # found nothing by itself, not narrowed to nothing by filters
            tallies.zero_hits[query] += 1
