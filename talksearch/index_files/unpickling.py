"""Every pickle Whoosh reads from an index goes through a restricted unpickler: no index file runs code.

An index comes from S3, and whoever can write its prefix can put any pickle in it; ``pickle.loads``
would run what it names (``os.system``, ``builtins.exec``) in the search or the rebuild function.
Whoosh 2.7.5 unpickles in six places when it reads a W3 index: the table of contents' segment list
(``StructFile.read_pickle``), each posting block's header (the same) and data (``whoosh3.loads``),
inlined posting lists (``whoosh3.loads``), word positions (``formats.loads``) and stored fields
(``columns.loads``). ``install`` points each of them at ``loads``/``load`` here, which build only the
globals in ``ALLOWED``: what those pickles hold, found by recording every global they named over the
test suite and the 21.7k-talk corpus (docs/reliability.md, "Index files"). Anything else raises
``UnsafeIndexError`` before it is built. The table of contents' pickled schema is never read at all
(``open_index`` gives Whoosh this code's schema), and neither are the older table-of-contents formats
Whoosh's ``legacy`` module would unpickle with no restriction.
"""

from __future__ import annotations

import io
import pickle
import sys
import types

__all__ = ["ALLOWED", "UnsafeIndexError", "install", "load", "loads", "position_deltas"]

#: (module, name) of every global an index's pickles may name; each only builds data.
ALLOWED = frozenset(
    {
        ("whoosh.codec.whoosh3", "W3Segment"),  # the segment list: one per segment
        ("whoosh.codec.whoosh3", "W3Codec"),  # ... each naming its codec
        ("collections", "defaultdict"),  # ... and its field lengths, a defaultdict(int)
        ("builtins", "int"),
        ("_codecs", "encode"),  # how protocol 2 (posting blocks, inlined postings) spells bytes,
        ("__builtin__", "bytes"),  # ... and empty bytes
    }
)


class UnsafeIndexError(pickle.UnpicklingError):
    """An index file holds a pickle naming something an index never holds: it is refused unread."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise UnsafeIndexError(f"an index file's pickle names {module}.{name}, which no index holds: refused")

    def persistent_load(self, pid):
        raise UnsafeIndexError("an index file's pickle holds a persistent id, which no index holds: refused")


def loads(data: bytes, /, **options) -> object:
    """``pickle.loads`` building only the globals in ``ALLOWED``."""
    return _RestrictedUnpickler(io.BytesIO(data), **options).load()


def position_deltas(values: list[bytes], known: dict[bytes, list[int]]) -> list[list[int]]:
    """The position lists of Whoosh's Positions format (a 4-byte count, then a pickled list of each position's
    distance from the one before), unpickled through the restricted unpickler in one stream.

    ``known``: value -> list already unpickled, kept by the caller across terms (most postings have one
    position, and the same few values: they are unpickled once). The lists returned are shared: never change them.
    """
    new = [value for value in dict.fromkeys(values) if value not in known]
    if new:
        stream = io.BytesIO(b"".join(value[4:] for value in new))
        load = _RestrictedUnpickler(stream).load
        found = [load() for _ in new]
        if stream.read(1) or not all(type(deltas) is list for deltas in found):
            raise UnsafeIndexError("an index file's positions are not lists of numbers: refused")
        known.update(zip(new, found, strict=True))
    return list(map(known.__getitem__, values))


def load(file, /, **options) -> object:
    """``pickle.load`` building only the globals in ``ALLOWED``."""
    return _RestrictedUnpickler(file, **options).load()


#: What Whoosh's modules see as ``pickle``: the real module, its loaders restricted.
_PICKLE_FOR_WHOOSH = types.ModuleType("pickle", "pickle, with every loader restricted to ALLOWED")
_PICKLE_FOR_WHOOSH.__dict__.update(
    {k: v for k, v in vars(pickle).items() if not k.startswith("__")},
    load=load,
    loads=loads,
    Unpickler=_RestrictedUnpickler,
    _Unpickler=_RestrictedUnpickler,
)

_REPLACEMENTS = {id(pickle.load): load, id(pickle.loads): loads, id(pickle): _PICKLE_FOR_WHOOSH}


def install() -> None:
    """Make every Whoosh module loaded now, or later, unpickle through ``loads``/``load``.

    Whoosh's modules bind ``loads`` and ``load`` from ``whoosh.compat`` at import: ``whoosh.compat``
    is changed first (modules imported afterwards get the restricted ones), then every Whoosh module
    already loaded. Idempotent.
    """
    import whoosh.compat
    import whoosh.index

    for module in [whoosh.compat] + [m for n, m in list(sys.modules.items()) if n.startswith("whoosh.")]:
        if module is None:
            continue
        for attribute, value in list(vars(module).items()):
            replacement = _REPLACEMENTS.get(id(value))
            if replacement is not None and value is not replacement:
                setattr(module, attribute, replacement)
    # TOC formats before Whoosh 2.7's: read by whoosh.legacy with an unrestricted unpickler; no index of ours has one
    whoosh.index.toc_loaders = {}
