"""Reading the judged queries and the corpora (JSON Lines, optionally gzipped)."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

KINDS = ("known-item", "topic", "speaker", "typo", "morphology")


@dataclass(frozen=True)
class JudgedQuery:
    qid: str
    query: str
    kind: str
    corpus: str
    relevant: frozenset[str]
    lang: str = ""


class QueryFileError(ValueError):
    """The judged-query file is unreadable or a line misses a required field."""


def read_jsonl(path: Path, *, skip_broken: bool = False) -> Iterator[dict]:
    """The JSON objects of a JSON Lines file; a broken line raises, or is skipped (as the builder skips it)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace" if skip_broken else "strict") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                if skip_broken:
                    continue
                raise QueryFileError(f"{path}:{number}: not JSON ({error.msg})") from None
            if isinstance(record, dict):
                yield record
            elif not skip_broken:
                raise QueryFileError(f"{path}:{number}: not a JSON object")


def load_queries(path: Path) -> list[JudgedQuery]:
    queries = []
    for number, raw in enumerate(read_jsonl(path), 1):
        missing = {"qid", "query", "kind", "corpus", "relevant"} - raw.keys()
        if missing:
            raise QueryFileError(f"{path}: query {number} misses {sorted(missing)}")
        queries.append(
            JudgedQuery(
                qid=raw["qid"],
                query=raw["query"],
                kind=raw["kind"],
                corpus=raw["corpus"],
                relevant=frozenset(raw["relevant"]),
                lang=raw.get("lang", ""),
            )
        )
    return queries


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
