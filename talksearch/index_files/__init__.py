"""The one door to Whoosh's files: every read and write of an index's internals goes through this package.

The builder writes through ``writing.SegmentBuilder`` (``index_builder.writer``), the search function
reads through ``reading.IndexFiles`` (``functions.search.snapshot``); nothing else opens an index,
reads its table of contents (the pickled schema and segment list: ``open_index``, below) or touches
Whoosh's codec. Two modules, so that the search function never imports Whoosh's writing code.

Whoosh's public API is used wherever it is as fast. Private parts of Whoosh 2.7.5's W3 codec are
used in four places only, where the public way measurably costs more; each is guarded by a shape
check that falls back to the public way (slower, never wrong), and each is pinned by
``tests/test_index_files.py`` on indexes with several segments, deleted talks, inlined and
multi-block posting lists, so that a Whoosh change fails a test instead of changing ranking:

1. posting blocks read whole (``reading._block_postings``): stepping a matcher posting by posting
   takes 1.4x as long for talks and frequencies, 1.2x for the positions of phrase candidates;
2. field lengths read as one byte string per segment (``reading._lengths_column``): Whoosh's
   ``doc_field_length`` talk by talk takes ~45 ms per field at 21.7k talks, in every cold start;
3. byte columns sliced out of one read (``reading._column_slices``): the public column reader
   takes twice as long (facet values and browse order, in every cold start);
4. writing (``writing.SegmentBuilder``): postings grouped per term in memory instead of Whoosh's
   sorting pool, field lengths answered from memory at commit (a quarter of the commit time), and
   short posting lists inlined in the term table (``writing._InliningCodec``, 1.8 MB of artifact),
   and the term table and posting blocks written a term at a time (``writing._W3TermWriter``: the
   same bytes as Whoosh's writer, checked file by file).

Measured on the 21,713-talk corpus; how: docs/architecture.md, "The door to Whoosh".

Index files come from S3: importing this package makes every pickle Whoosh reads go through
``unpickling`` (a hostile one raises ``UnsafeIndexError``) and every zlib stream it inflates go through
``inflating`` (bounded), and ``open_index`` never unpickles the schema stored in the table of contents:
it gives Whoosh this code's ``talksearch.schema``, the one every index of this ``SCHEMA_VERSION`` was
written with. It checks the segment names the table of contents lists before any segment file is
opened: only names Whoosh's codec writes, ``<index name>_<16 letters or digits>``, so that no name
reaches a file outside the index's folder.
"""

from __future__ import annotations

import os
import re

from whoosh import index as whoosh_index
from whoosh.fields import Schema
from whoosh.filedb.structfile import StructFile

from talksearch.index_files import inflating, unpickling
from talksearch.index_files.unpickling import UnsafeIndexError
from talksearch.schema import build_schema

__all__ = ["UnsafeIndexError", "create_index", "open_index"]

unpickling.install()
inflating.install()

#: A segment's name as Whoosh's codec writes it (``Segment._random_id``: 16 of ``whoosh.util.IDCHARS``); each of
#: its files is this name and an extension.
_SEGMENT_NAME = re.compile(r"[A-Za-z0-9]{1,64}_[0-9a-z]{16}")


def create_index(directory: str | os.PathLike, schema: Schema) -> whoosh_index.FileIndex:
    """A new, empty index in ``directory`` (which must exist)."""
    return whoosh_index.create_in(str(directory), schema)


def open_index(directory: str | os.PathLike, *, readonly: bool = False) -> whoosh_index.FileIndex:
    """An existing index: its table of contents (its segment list, through ``unpickling``) is read here only.

    Raises ``UnsafeIndexError`` when the table of contents holds a pickle no index holds.
    """
    try:
        index = whoosh_index.open_dir(str(directory), readonly=readonly, schema=build_schema())
        _check_segment_names(index)
    except Exception as error:
        _close_open_files(error)
        raise
    return index


def _check_segment_names(index: whoosh_index.FileIndex) -> None:
    """Refuse a table of contents naming a segment Whoosh's codec would not name (``../x``, ``/etc/x``): its
    files are opened by that name, joined to the index's folder."""
    schema = build_schema()
    for segment in whoosh_index.TOC.read(index.storage, index.indexname, schema=schema).segments:
        name = segment.segment_id() if hasattr(segment, "segment_id") else None
        if not isinstance(name, str) or not _SEGMENT_NAME.fullmatch(name) or not name.startswith(index.indexname + "_"):
            raise UnsafeIndexError(f"the index's table of contents names a segment {name!r:.100}, which no index has")


def _close_open_files(error: BaseException) -> None:
    """Close the files Whoosh was reading when ``error`` was raised (its TOC.read leaves its own open when a
    table of contents is refused or unreadable)."""
    traceback = error.__traceback__
    while traceback is not None:
        for value in traceback.tb_frame.f_locals.values():
            if isinstance(value, StructFile) and not value.is_closed:
                value.close()
        traceback = traceback.tb_next
