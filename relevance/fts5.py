"""The lexical baselines from ``../shared/relevance/README.md``, computed in the same run.

SQLite FTS5, ``unicode61 remove_diacritics 2`` tokenizer, BM25 with equal column weights,
every query word quoted and OR'ed. One variant indexes title + summary, the other adds speakers.
A query's ``lang`` filter keeps the talks of those languages, as the search's language facet does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence

TOKENIZER = "unicode61 remove_diacritics 2"


class Fts5Baseline:
    """An in-memory FTS5 table over talk records; ``search`` returns ranked talk ids."""

    def __init__(
        self, records: Iterable[dict], *, with_speakers: bool, languages: Mapping[str, str] | None = None
    ) -> None:
        """``languages``: talk id -> language code as the builder detects it (for ``lang`` filters)."""
        self.columns = ("title", "summary", "speakers") if with_speakers else ("title", "summary")
        self._db = sqlite3.connect(":memory:")
        columns = ", ".join(self.columns)
        self._db.execute(
            f"CREATE VIRTUAL TABLE talks USING fts5(talk_id UNINDEXED, lang UNINDEXED, {columns}, "
            f"tokenize='{TOKENIZER}')"
        )
        languages = languages or {}
        rows = (
            (
                r["id"],
                languages.get(r["id"], ""),
                r.get("title") or "",
                r.get("summary") or "",
                *((", ".join(r.get("speakers") or []),) if with_speakers else ()),
            )
            for r in records
        )
        self._db.executemany(f"INSERT INTO talks VALUES ({', '.join('?' * (len(self.columns) + 2))})", rows)

    @staticmethod
    def match_expression(query: str) -> str:
        """``"w1" OR "w2" ...``: each whitespace-separated word quoted (quotes doubled), so no FTS5 syntax applies."""
        words = query.split()
        return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)

    def search(self, query: str, limit: int = 10, filters: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        """Ranked talk ids; ``filters`` may hold ``lang`` only (other facets are not in the baseline)."""
        expression = self.match_expression(query)
        if not expression:
            return []
        filters = filters or {}
        unsupported = sorted(set(filters) - {"lang"})
        if unsupported:
            raise ValueError(f"the FTS5 baseline filters on lang only, not {unsupported}")
        languages = list(filters.get("lang") or ())
        where = f" AND lang IN ({', '.join('?' * len(languages))})" if languages else ""
        rows = self._db.execute(
            f"SELECT talk_id FROM talks WHERE talks MATCH ?{where} ORDER BY bm25(talks) LIMIT ?",
            (expression, *languages, limit),
        )
        return [talk_id for (talk_id,) in rows]
