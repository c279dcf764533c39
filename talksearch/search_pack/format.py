"""The search pack's layout, defined once: magic, version, section table, caps, and the typed arrays it holds.

A pack is one byte string::

    header         MAGIC (8 bytes), VERSION (u32), section count (u32)
    section table  per section: name length (u8), name (UTF-8), offset, stored length, inflated length (u64 each),
                   codec (u8: 0 stored as is, 1 one zlib stream)
    sections       at the offsets the table gives

Every integer is little-endian. A section's bytes are either kept as they are (the posting chunks and
the stored-talk blocks, each its own zlib stream, listed by a directory section) or one zlib stream
whose inflated length the table declares. Sections (``<f>`` is a field name, see ``docs/search-pack.md``):

- ``meta``: JSON: talk count, segments, per-field term count and separator, per-column separator,
  which fields have length bytes;
- ``deleted``: the talks deleted by incremental builds (Whoosh's numbers);
- ``terms/<f>``: the field's sorted terms, UTF-8, joined by one character no term holds;
- ``df/<f>``: each term's document frequency (deleted talks counted, as Whoosh counts them);
  ``segdf/<f>``: the same per segment, in indexes of several segments only;
- ``chunks/<f>``: the first term of each posting chunk, and where its two zlib streams are and what they
  inflate to; ``post/<f>``: the talks and frequencies streams; ``pos/<f>``: the positions streams;
- ``len/<f>``: one length byte per talk; ``col/<f>``, ``colnone/<f>``: a column's values joined by a
  byte no value holds, and the talks without a value;
- ``stored/index``, ``stored/data``, ``stored/dictionary``: each talk's stored fields as JSON, its own zlib
  stream (so one talk is read alone) compressed with a shared dictionary (so it compresses as in a block);
- ``file/synonyms.json``: the index directory's synonym table, when it has one;
- ``pre/...``: optional sections computed at build time for a just-opened engine's first asks (vocabulary
  block starts, stop words' titles, answers of two-letter prefixes and frequent words):
  ``talksearch.search_pack.precomputed``, ``talksearch.search_pack.answers``.

Arrays are written as a typecode byte (``ARRAY_TYPECODES``), a u32 count, then ``count`` items. What a
reader refuses, and every cap below: ``docs/search-pack.md``.
"""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from collections.abc import Iterable

__all__ = [
    "ARRAY_TYPECODES",
    "MAGIC",
    "MAX_CHUNK_BYTES",
    "MAX_DICTIONARY_BYTES",
    "MAX_INFLATED_TOTAL",
    "MAX_PACK_BYTES",
    "MAX_SECTIONS",
    "MAX_SECTION_BYTES",
    "MAX_STORED_TALK_BYTES",
    "MAX_SYNONYMS_BYTES",
    "MAX_TALKS",
    "MAX_TERMS",
    "SYNONYMS_SECTION",
    "VERSION",
    "PackError",
    "inflate",
    "narrowest",
    "read_arrays",
    "write_arrays",
]

MAGIC = b"TSPACK\r\n"
VERSION = 1

_HEADER = struct.Struct("<8sII")
_ENTRY = struct.Struct("<QQQB")

#: Caps a reader checks every declared size against before it uses it.
#: The most bytes a pack may have (the 21.7k-talk corpus: about 20 MB; 100k synthetic talks: about 60 MB).
MAX_PACK_BYTES = 1 << 30
#: Sections in a table (a pack has about 10 per field: 200).
MAX_SECTIONS = 4096
MAX_NAME_BYTES = 128
#: The most one section inflates to, and all of them together.
MAX_SECTION_BYTES = 1 << 28
MAX_INFLATED_TOTAL = 1 << 31
#: The meta section's JSON.
MAX_META_BYTES = 1 << 20
#: Talks, segments, terms of one field.
MAX_TALKS = 1 << 24
MAX_SEGMENTS = 4096
MAX_TERMS = 1 << 24
#: What one posting chunk and one stored talk inflate to, and the stored talks' shared zlib dictionary.
MAX_CHUNK_BYTES = 1 << 26
MAX_STORED_TALK_BYTES = 1 << 24
MAX_DICTIONARY_BYTES = 1 << 15
#: The index's synonym table (``synonyms.json``, section ``SYNONYMS_SECTION``): the shipped glossary is 30 kB.
MAX_SYNONYMS_BYTES = 1 << 24
SYNONYMS_SECTION = "file/synonyms.json"

#: The typecodes arrays may have, each an unsigned integer of a fixed size on every platform.
ARRAY_TYPECODES = {"B": 1, "H": 2, "I": 4, "Q": 8}
_ARRAY_HEAD = struct.Struct("<cI")
_BIG_ENDIAN = sys.byteorder == "big"

CODEC_STORED = 0
CODEC_ZLIB = 1


class PackError(ValueError):
    """A pack that is not one this code writes: refused, at open or at the first read that meets the damage."""


def narrowest(values: Iterable[int]) -> str:
    """The smallest unsigned typecode that holds every value (non-negative ints)."""
    top = max(values, default=0)
    for code, size in ARRAY_TYPECODES.items():
        if top < 1 << (8 * size):
            return code
    raise ValueError(f"{top} does not fit in 64 bits")


def write_arrays(*arrays: array) -> bytes:
    """Arrays, each as typecode, count and little-endian items."""
    parts = []
    for values in arrays:
        if values.typecode not in ARRAY_TYPECODES or values.itemsize != ARRAY_TYPECODES[values.typecode]:
            raise ValueError(f"array typecode {values.typecode!r} is not one a pack holds")
        if _BIG_ENDIAN:
            values = array(values.typecode, values)
            values.byteswap()
        parts.append(_ARRAY_HEAD.pack(values.typecode.encode(), len(values)))
        parts.append(values.tobytes())
    return b"".join(parts)


def read_arrays(data: bytes | memoryview, count: int, what: str) -> list[array]:
    """Exactly ``count`` arrays from ``data`` (as ``write_arrays`` wrote them), every one within its bytes."""
    found, at, end = [], 0, len(data)
    for _ in range(count):
        if end - at < _ARRAY_HEAD.size:
            raise PackError(f"{what}: ends inside an array header")
        code, items = _ARRAY_HEAD.unpack_from(data, at)
        at += _ARRAY_HEAD.size
        typecode = code.decode("latin-1")
        size = ARRAY_TYPECODES.get(typecode)
        if size is None:
            raise PackError(f"{what}: array typecode {typecode!r} is not one a pack holds")
        if items * size > end - at:
            raise PackError(f"{what}: an array of {items:,} items runs past its {end - at:,} bytes")
        values = array(typecode)
        values.frombytes(data[at : at + items * size])
        if _BIG_ENDIAN:
            values.byteswap()
        found.append(values)
        at += items * size
    if at != end:
        raise PackError(f"{what}: {end - at:,} bytes after its arrays")
    return found


def inflate(data: bytes | memoryview, length: int, what: str, dictionary: bytes = b"") -> bytes:
    """One zlib stream (compressed with ``dictionary``, if any) that must inflate to exactly ``length`` bytes
    (never inflating more)."""
    inflater = zlib.decompressobj(zdict=dictionary) if dictionary else zlib.decompressobj()
    try:
        out = inflater.decompress(data, length) if length else inflater.decompress(data, 1)
    except zlib.error as error:
        raise PackError(f"{what}: not a zlib stream ({error})") from None
    if len(out) != length or inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise PackError(f"{what}: does not inflate to the {length:,} bytes declared")
    return out


def write_header(sections: list[tuple[str, bytes, int, int]]) -> bytes:
    """The header and section table for (name, stored bytes, inflated length, codec) in this order, the
    sections following the table back to back."""
    names = [name.encode("utf-8") for name, *_ in sections]
    table_size = _HEADER.size + sum(1 + len(n) + _ENTRY.size for n in names)
    parts = [_HEADER.pack(MAGIC, VERSION, len(sections))]
    offset = table_size
    for name, (_, data, inflated, codec) in zip(names, sections, strict=True):
        if not 0 < len(name) <= MAX_NAME_BYTES:
            raise ValueError(f"section name {name!r} is not 1 to {MAX_NAME_BYTES} bytes")
        parts.append(bytes([len(name)]) + name + _ENTRY.pack(offset, len(data), inflated, codec))
        offset += len(data)
    return b"".join(parts)


def read_table(data: bytes | memoryview) -> dict[str, tuple[int, int, int, int]]:
    """name -> (offset, stored length, inflated length, codec) of every section, each checked against the
    pack's bytes and the caps."""
    size = len(data)
    if size > MAX_PACK_BYTES:
        raise PackError(f"the pack has {size:,} bytes, over the {MAX_PACK_BYTES:,} a pack may have")
    if size < _HEADER.size:
        raise PackError("the pack ends inside its header")
    magic, version, count = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise PackError("not a search pack (wrong magic bytes)")
    if version != VERSION:
        raise PackError(f"search pack version {version}, this code reads version {VERSION}")
    if count > MAX_SECTIONS:
        raise PackError(f"{count:,} sections, over the {MAX_SECTIONS:,} a pack may have")
    table: dict[str, tuple[int, int, int, int]] = {}
    at, inflated_total = _HEADER.size, 0
    for _ in range(count):
        if at >= size:
            raise PackError("the pack ends inside its section table")
        length = data[at]
        if not 0 < length <= MAX_NAME_BYTES or at + 1 + length + _ENTRY.size > size:
            raise PackError("the pack ends inside its section table, or a section name is too long")
        try:
            name = bytes(data[at + 1 : at + 1 + length]).decode("utf-8")
        except UnicodeDecodeError:
            raise PackError("a section name is not UTF-8") from None
        offset, stored, inflated, codec = _ENTRY.unpack_from(data, at + 1 + length)
        at += 1 + length + _ENTRY.size
        if name in table:
            raise PackError(f"section {name!r} is listed twice")
        if offset > size or stored > size - offset:
            raise PackError(f"section {name!r} runs past the end of the pack")
        if codec == CODEC_STORED:
            if inflated != stored:
                raise PackError(f"section {name!r} is stored as is but declares {inflated:,} bytes inflated")
        elif codec != CODEC_ZLIB:
            raise PackError(f"section {name!r} has codec {codec}, which no pack has")
        if inflated > MAX_SECTION_BYTES:
            raise PackError(f"section {name!r} declares {inflated:,} bytes, over the {MAX_SECTION_BYTES:,} cap")
        inflated_total += inflated if codec == CODEC_ZLIB else 0
        if inflated_total > MAX_INFLATED_TOTAL:
            raise PackError(f"the sections inflate to over {MAX_INFLATED_TOTAL:,} bytes together")
        table[name] = (offset, stored, inflated, codec)
    return table
