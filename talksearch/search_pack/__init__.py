"""The search pack: a pickle-free file the search function reads instead of the Whoosh index.

The builder derives it from the finished Whoosh index (``write_pack``); the search function holds
its bytes in memory and reads them through ``PackFiles``, which answers what
``talksearch.index_files.reading.IndexFiles`` answers over the same index. The reader uses the
standard library only and imports neither Whoosh nor the writer. Layout, caps and what a reader
refuses: ``format`` and docs/search-pack.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from talksearch.search_pack.format import MAX_PACK_BYTES, PackError
from talksearch.search_pack.reader import PackFiles

if TYPE_CHECKING:
    from talksearch.search_pack.writer import PackSummary

__all__ = ["MAX_PACK_BYTES", "PackError", "PackFiles", "write_pack"]


def write_pack(index_dir, destination, previous=None, written=None, answers=None) -> PackSummary:
    """``talksearch.search_pack.writer.write_pack``, imported on use: the writer reads Whoosh, the reader never."""
    from talksearch.search_pack.writer import write_pack as write

    return write(index_dir, destination, previous, written, answers)
