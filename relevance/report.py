"""Grouping per-query scores into the comparison table, for the terminal and for docs/relevance.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from relevance.data import CROSSLINGUAL, KINDS, JudgedQuery
from relevance.metrics import QueryScore, Summary, summarise

ALL = "all"
#: Recall and nDCG are the README's metrics for topic queries; the "all" rows carry them too for comparison.
SET_METRIC_KINDS = ("topic", ALL)

#: Goals from issue 8, on the dev set.
GOAL_OVERALL_MRR = 0.85
GOAL_KIND_MRR = 0.70
#: Issue 14's goal for cross-lingual queries (on its held-out set; the dev set is shown against it).
GOAL_CROSSLINGUAL_MRR = 0.75


@dataclass(frozen=True)
class Row:
    corpus: str
    kind: str
    by_system: dict[str, Summary]


def table_rows(
    queries: Sequence[JudgedQuery], scores: dict[str, dict[str, QueryScore]], systems: Sequence[str]
) -> list[Row]:
    """Rows per corpus and kind, then per corpus, then per kind over both corpora, then everything;
    cross-lingual queries after them, per direction (fr→en, en→fr) and together, outside the "all" rows."""

    def row(corpus: str, kind: str, chosen: Sequence[JudgedQuery]) -> Row:
        return Row(corpus, kind, {s: summarise([scores[s][q.qid] for q in chosen]) for s in systems})

    monolingual = [q for q in queries if q.kind != CROSSLINGUAL]
    corpora = sorted({q.corpus for q in monolingual})
    kinds = [k for k in KINDS if any(q.kind == k for q in monolingual)]
    kinds += sorted({q.kind for q in monolingual} - set(kinds))
    groups: list[tuple[str, str]] = []
    for corpus in [*corpora, ALL]:
        groups += [(corpus, kind) for kind in kinds] + [(corpus, ALL)]
    rows = []
    for corpus, kind in groups:
        chosen = [q for q in monolingual if corpus in (ALL, q.corpus) and kind in (ALL, q.kind)]
        if chosen:
            rows.append(row(corpus, kind, chosen))
    crosslingual = [q for q in queries if q.kind == CROSSLINGUAL]
    directions = sorted(
        {q.direction for q in crosslingual}, key=lambda d: (-sum(q.direction == d for q in crosslingual), d)
    )
    for direction in directions:
        chosen = [q for q in crosslingual if q.direction == direction]
        corpus = chosen[0].corpus if len({q.corpus for q in chosen}) == 1 else ALL
        rows.append(row(corpus, f"{CROSSLINGUAL} {direction}", chosen))
    if crosslingual:
        rows.append(row(ALL, CROSSLINGUAL, crosslingual))
    return rows


def _cells(row: Row, systems: Sequence[str]) -> list[str]:
    cells = [row.corpus, row.kind, str(row.by_system[systems[0]].n)]
    cells += [f"{row.by_system[s].mrr:.3f}" for s in systems]
    with_sets = row.kind in SET_METRIC_KINDS
    cells += [f"{row.by_system[s].recall:.3f}" if with_sets else "" for s in systems]
    cells += [f"{row.by_system[s].ndcg:.3f}" if with_sets else "" for s in systems]
    return cells


def _header(systems: Sequence[str]) -> list[str]:
    return ["corpus", "kind", "n"] + [f"{m} {s}" for m in ("MRR@10", "R@10", "nDCG@10") for s in systems]


def text_table(rows: Sequence[Row], systems: Sequence[str]) -> str:
    lines = [_header(systems)] + [_cells(r, systems) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for number, line in enumerate(lines):
        cells = zip(line, widths, strict=True)
        out.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(cells)))
        if number == 0:
            out.append("-" * len(out[0]))
    return "\n".join(out)


def markdown_table(rows: Sequence[Row], systems: Sequence[str]) -> str:
    header = _header(systems)
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for row in rows:
        cells = _cells(row, systems)
        if row.kind == ALL or (row.corpus, row.kind) == (ALL, CROSSLINGUAL):
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _beats(row: Row, system: str, baselines: Sequence[str], metric: str) -> tuple[str, bool]:
    """Whether ``system`` beats every baseline on a row, on ``metric`` (1.000 can only be matched)."""
    value = (lambda s: s.ndcg) if metric == "nDCG@10" else (lambda s: s.mrr)
    mine, best = value(row.by_system[system]), max(value(row.by_system[b]) for b in baselines)
    beaten = mine > best or mine == best == 1.0
    return f"{row.kind}: {metric} beats both baselines ({mine:.3f} vs best {best:.3f})", beaten


def goal_checks(rows: Sequence[Row], system: str, baselines: Sequence[str]) -> list[tuple[str, bool]]:
    """Issue 8's goals (kinds judged over both corpora), then issue 14's for cross-lingual queries,
    each with whether ``system`` meets it."""
    checks = []
    overall = next((r for r in rows if r.corpus == ALL and r.kind == ALL), None)
    if overall is not None:
        mrr = overall.by_system[system].mrr
        checks.append((f"overall MRR@10 {mrr:.3f} >= {GOAL_OVERALL_MRR}", mrr >= GOAL_OVERALL_MRR))
    for row in rows:
        if row.corpus != ALL or row.kind in (ALL, CROSSLINGUAL):
            continue
        mrr = row.by_system[system].mrr
        checks.append((f"{row.kind}: MRR@10 {mrr:.3f} >= {GOAL_KIND_MRR}", mrr >= GOAL_KIND_MRR))
        # compared on each kind's own metric (the README's: nDCG@10 for topics)
        checks.append(_beats(row, system, baselines, "nDCG@10" if row.kind == "topic" else "MRR@10"))
    crosslingual = next((r for r in rows if (r.corpus, r.kind) == (ALL, CROSSLINGUAL)), None)
    if crosslingual is not None:
        mrr = crosslingual.by_system[system].mrr
        text = (
            f"{CROSSLINGUAL}: MRR@10 {mrr:.3f} >= {GOAL_CROSSLINGUAL_MRR} (issue 14; its goal is on the held-out set)"
        )
        checks.append((text, mrr >= GOAL_CROSSLINGUAL_MRR))
        checks.append(_beats(crosslingual, system, baselines, "MRR@10"))
    return checks


DOC_BEGIN = "<!-- relevance-table:begin (written by `make eval`; edit outside these markers) -->"
DOC_END = "<!-- relevance-table:end -->"

DOC_TEMPLATE = f"""# Search relevance

`make eval` (`python -m relevance`) runs the hand-judged queries of `../shared/relevance/dev-queries.jsonl`
through the search function's own code path (`functions/search/engine.py`, `page=1&size=10` as the page
asks) over indexes that `index_builder` builds from `../shared/corpora/`, and scores them next to two SQLite
FTS5 baselines computed in the same run (`unicode61 remove_diacritics 2`, BM25, words OR'ed; one over title +
summary, one with speakers too). Metrics are cut off at 10 and macro-averaged: MRR@10 for every kind;
recall@10 and nDCG@10 for topic queries (and, for comparison, the "all" rows). The per-query results
(rank of the first relevant talk, top 10 ids, metrics) go to the JSON Lines file the command prints.

{DOC_BEGIN}
{DOC_END}
"""


def render_doc(existing: str | None, generated: str) -> str:
    """Put ``generated`` between the markers of ``existing`` (or of a fresh page), keeping the rest."""
    text = existing if existing and DOC_BEGIN in existing and DOC_END in existing else DOC_TEMPLATE
    head, rest = text.split(DOC_BEGIN, 1)
    _, tail = rest.split(DOC_END, 1)
    return f"{head}{DOC_BEGIN}\n{generated.strip()}\n{DOC_END}{tail}"
