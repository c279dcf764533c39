"""The index's synonym table: the shipped FR/EN glossary and the site's own ``synonyms.txt``, compiled at build time.

A site's ``synonyms.txt`` at the content root (Solr/Elasticsearch format: ``k8s, kubernetes``;
``ml => machine learning``) is content like any talk file: it is listed, its ETag is one of the
manifest's sources, so changing it triggers a rebuild. It holds no talks: the builder reads it here,
skips and reports its bad lines, and compiles it with the glossary (site rules first: they come first
in each entry's targets) into ``synonyms.json``, one more file of the index directory and so of the
artifact. Compiling (stemming every term twice) takes the builder about a second; the search function
only reads the JSON back, validated and bounded. The table's sha256 goes into the manifest, so a new
shipped glossary (a code deploy, no content change) also rebuilds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from talksearch.contracts import SITE_SYNONYMS_NAME, SYNONYMS_NAME
from talksearch.store import ObjectTooLargeError, Store
from talksearch.synonyms import (
    MAX_FILE_BYTES,
    ParsedSynonyms,
    SynonymProblem,
    compile_table,
    load_glossary,
    parse_synonyms,
)

__all__ = ["SITE_SYNONYMS_NAME", "CompiledSynonyms", "compile_synonyms", "read_site_synonyms", "write_synonyms"]


class CompiledSynonyms:
    """The serialised table, its sha256, and what was wrong with the site's file."""

    def __init__(self, data: bytes, terms: int, problems: list[str]) -> None:
        self.data = data
        self.terms = terms
        self.problems = problems
        self.sha256 = hashlib.sha256(data).hexdigest()


def read_site_synonyms(content: Store, key: str | None) -> ParsedSynonyms:
    """The rules of the content's ``synonyms.txt`` (none when ``key`` is None); a file too large or
    unreadable is reported, never fatal."""
    if key is None:
        return ParsedSynonyms()
    try:
        data = content.read_bytes(key, max_bytes=MAX_FILE_BYTES)
    except ObjectTooLargeError:
        return ParsedSynonyms(problems=[SynonymProblem(key, 0, f"larger than {MAX_FILE_BYTES} bytes: not read")])
    return parse_synonyms(data, source=key)


def compile_synonyms(site: ParsedSynonyms) -> CompiledSynonyms:
    """The site's rules and the shipped glossary as one serialised table."""
    glossary = load_glossary()
    table = compile_table(site.rules, glossary.rules)
    problems = [f"{problem}: line skipped" if problem.line else str(problem) for problem in site.problems]
    problems += [f"shipped glossary {problem}" for problem in glossary.problems]
    return CompiledSynonyms(table.to_json(), len(table), problems)


def write_synonyms(index_dir: Path, compiled: CompiledSynonyms) -> None:
    (Path(index_dir) / SYNONYMS_NAME).write_bytes(compiled.data)
