"""The search function's engine over a search pack on disk: what the bench's warm passes and its cold start
without the fetch open (a fresh process imports this, and with it the function's engine and pack reader)."""

from __future__ import annotations

from pathlib import Path

from functions.search.engine import SearchEngine
from talksearch.search_pack import PackFiles


def open_pack(path: str | Path, version: str = "") -> SearchEngine:
    """``SearchEngine`` over the pack at ``path``, held in memory as the search function holds it."""
    return SearchEngine(files=PackFiles(Path(path).read_bytes()), version=version or Path(path).stem)
