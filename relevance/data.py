"""Reading the judged queries and the corpora (JSON Lines, optionally gzipped)."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("known-item", "topic", "speaker", "typo", "morphology")
#: The kind of ``crosslingual-dev.jsonl``: a query in one language, its relevant talks in the other.
CROSSLINGUAL = "crosslingual"
#: Languages of the judged corpora, for naming a cross-lingual query's direction (fr→en, en→fr).
CORPUS_LANGUAGES = {"fr": "fr", "full": "en"}


@dataclass(frozen=True)
class JudgedQuery:
    qid: str
    query: str
    kind: str
    corpus: str
    relevant: frozenset[str]
    lang: str = ""
    #: search parameters passed as they are (``{"lang": ["en"]}``): facet name -> values
    filters: dict[str, list[str]] = field(default_factory=dict, compare=False)

    @property
    def direction(self) -> str:
        """``fr→en`` for a French query over English talks: the query's language, then the talks'."""
        wanted = self.filters.get("lang") or [CORPUS_LANGUAGES.get(self.corpus, self.corpus)]
        return f"{self.lang or '?'}→{'+'.join(wanted)}"


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
                filters=_filters(raw.get("filters"), path, number),
            )
        )
    return queries


def _filters(raw: object, path: Path, number: int) -> dict[str, list[str]]:
    """A query's ``filters``: an object of facet name -> a value or a list of values (strings)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        filters = {name: value if isinstance(value, list) else [value] for name, value in raw.items()}
        if all(isinstance(v, str) for values in filters.values() for v in values):
            return filters
    raise QueryFileError(f"{path}: query {number} has filters that are not facet names and string values")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
