"""JSON and JSON Lines talk records (the shape of ``../shared/corpora``): one talk per record.

A broken record is a problem line and the rest of the file is kept. A file holds at most
``MAX_RECORDS`` talks, and nesting deeper than Python's JSON parser can follow is a reason, not a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from index_builder.parsers.fields import ContentError, IdAllocator, ParsedSource, clean_text, talk_from_fields
from index_builder.text import slug
from talksearch.schema import Talk

#: Talks read from one file (the 21,713-talk corpus is one file); the rest are counted in the report.
MAX_RECORDS = 100_000


class JsonTalkParser:
    """A JSON array of talk records, ``{"talks": [...]}``, or one record."""

    def parse(self, key: str, text: str, *, stem: str) -> ParsedSource:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ContentError(f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
        except RecursionError:
            raise ContentError("JSON nested too deeply") from None
        if isinstance(data, dict) and isinstance(data.get("talks"), list):
            records = data["talks"]
        elif isinstance(data, list):
            records = data
        elif isinstance(data, dict):
            records = [data]
        else:
            raise ContentError("JSON is neither a talk record, a list of them, nor {'talks': [...]}")
        return records_to_talks(key, stem, ((f"record {n}", record) for n, record in enumerate(records, 1)))


class JsonLinesTalkParser:
    """One talk record per line; a broken line is reported and the other lines kept."""

    def parse(self, key: str, data: bytes, *, stem: str) -> ParsedSource:
        result = ParsedSource()

        def records() -> Iterator[tuple[str, Any]]:
            for n, raw in enumerate(data.splitlines(), 1):
                if not raw.strip():
                    continue
                if len(result.talks) >= MAX_RECORDS:  # counted, not read
                    yield f"line {n}", None
                    continue
                try:
                    yield f"line {n}", json.loads(raw)
                except UnicodeDecodeError:
                    result.add_problem(f"line {n}: not valid UTF-8")
                except RecursionError:
                    result.add_problem(f"line {n}: JSON nested too deeply")
                except ValueError as error:
                    result.add_problem(f"line {n}: invalid JSON ({error})")

        records_to_talks(key, stem, records(), result)
        if not result.talks:
            raise ContentError("no valid talk records" + (f" ({result.problems[0]})" if result.problems else ""))
        return result


def records_to_talks(
    key: str, stem: str, records: Iterable[tuple[str, Any]], result: ParsedSource | None = None
) -> ParsedSource:
    """Talks from (where, record) pairs; a bad record becomes a problem line in ``result``."""
    result = result if result is not None else ParsedSource()
    ids = IdAllocator()
    left_out = 0
    for where, record in records:
        if len(result.talks) >= MAX_RECORDS:
            left_out += 1
            continue
        try:
            result.talks.append(record_to_talk(record, key, stem, ids))
        except ContentError as error:
            result.add_problem(f"{where}: {error}")
    if left_out:
        cap = f"{MAX_RECORDS:,}"
        result.problems.insert(0, f"records after the first {cap} ({left_out:,} more; a file holds {cap} at most)")
    return result.finish()


def record_to_talk(record: Any, key: str, stem: str, ids: IdAllocator) -> Talk:
    if not isinstance(record, dict):
        raise ContentError("not a JSON object")
    title = clean_text(record.get("title"))
    if not title:
        raise ContentError("no title")
    raw_id = record.get("id")
    if isinstance(raw_id, str) and raw_id.strip():
        talk_id = raw_id  # a record's own id is the talk's id, unchanged
        ids.reserve(talk_id)
    elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
        talk_id = str(raw_id)
        ids.reserve(talk_id)
    elif raw_id is None or raw_id == "":
        talk_id = ids.allocate(f"{stem}/{slug(title) or 'talk'}")
    else:
        raise ContentError(f"id must be a string, not {type(raw_id).__name__}")
    summary = record.get("summary") if isinstance(record.get("summary"), str) else ""
    return talk_from_fields(record, talk_id=talk_id, title=title, summary=summary.strip(), key=key)
