"""Every zlib stream Whoosh inflates from an index is inflated into at most ``MAX_INFLATED_BYTES``.

Whoosh 2.7.5 inflates three kinds of pieces when it reads a W3 index: posting blocks
(``whoosh.codec.whoosh3``), a segment's deleted-talk bitset (``whoosh.columns.BitColumn``) and each
talk's stored fields (``whoosh.columns.CompressedBytesColumn``), each with ``zlib.decompress``, which
inflates whatever it is given: 1 MB of zeros deflates to 1 kB, so a posting block of a few kilobytes
in a published index could ask a query for gigabytes. ``install`` points those three at ``decompress``
here, which stops at ``MAX_INFLATED_BYTES`` and raises ``UnsafeIndexError``. The cap is a thousand
times what an index holds: a block has at most 128 postings, and the largest piece of the 21.7k-talk
index, every posting block and every talk's stored fields read, inflates to 15 kB (docs/reliability.md,
"Below the table of contents").
"""

from __future__ import annotations

import types
import zlib

from talksearch.index_files.unpickling import UnsafeIndexError

__all__ = ["MAX_INFLATED_BYTES", "decompress", "install"]

#: The most one compressed piece of an index (a posting block, a bitset, a talk's stored fields) inflates to.
MAX_INFLATED_BYTES = 16 << 20


def decompress(data: bytes, /, wbits: int = zlib.MAX_WBITS, bufsize: int = zlib.DEF_BUF_SIZE) -> bytes:
    """``zlib.decompress``, refusing a stream that inflates past ``MAX_INFLATED_BYTES`` (never inflating more)."""
    inflater = zlib.decompressobj(wbits)
    inflated = inflater.decompress(data, MAX_INFLATED_BYTES)
    if inflater.unconsumed_tail:
        raise UnsafeIndexError(f"an index file's compressed data inflates past {MAX_INFLATED_BYTES:,} bytes: refused")
    if not inflater.eof:
        raise zlib.error("Error -5 while decompressing data: incomplete or truncated stream")
    return inflated


#: What Whoosh's modules see as ``zlib``: the real module, its ``decompress`` bounded.
_ZLIB_FOR_WHOOSH = types.ModuleType("zlib", "zlib, with decompress bounded to MAX_INFLATED_BYTES")
_ZLIB_FOR_WHOOSH.__dict__.update({k: v for k, v in vars(zlib).items() if not k.startswith("__")}, decompress=decompress)


def install() -> None:
    """Make Whoosh's posting, bitset and stored-field readers inflate through ``decompress``. Idempotent."""
    from whoosh import columns
    from whoosh.codec import whoosh3

    whoosh3.zlib = _ZLIB_FOR_WHOOSH
    columns.zlib = _ZLIB_FOR_WHOOSH
    reader = columns.CompressedBytesColumn.Reader
    if not getattr(reader, "_inflates_bounded", False):
        plain_init = reader.__init__

        def bounded_init(self, dbfile, basepos, length, doccount, module) -> None:
            plain_init(self, dbfile, basepos, length, doccount, module)
            if module == "zlib":
                self._decompress = decompress

        reader.__init__ = bounded_init
        reader._inflates_bounded = True
