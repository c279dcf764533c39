"""An index version's artifact: the packed index directory, its checksum, its upload and verified download.

One ``index.tar.gz`` per version (``talksearch.contracts`` says where it goes), each index file its
own gzip member, so an incremental build copies the compressed members of unchanged files from the
previous artifact. Unpacking accepts plain files with plain names only: the artifact comes from S3.

The search function streams an artifact (``download_index``): one pass from the socket through
sha256 and the gunzip into the files, nothing written twice, and the index is opened only once the
whole stream has the manifest's sha256 (what was unpacked is deleted otherwise). A stream that does
not match cannot take more than it promises: reading stops past the manifest's byte count, each
member's size is checked against the caps on an index (``MAX_INDEX_BYTES``, ``MAX_INDEX_FILES``)
before it is written, and inflating is bounded per read. The builder keeps the file
(``download_artifact``): an incremental build copies its members.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from talksearch.contracts import ARTIFACT_NAME, MAX_INDEX_BYTES, MAX_INDEX_FILES, VERSIONS_DIR, Manifest, join_key
from talksearch.store import Store, StoreError

__all__ = [
    "ChecksumMismatchError",
    "PackedFile",
    "PackedIndex",
    "UnsafeArchiveError",
    "download_artifact",
    "download_index",
    "pack_index",
    "sha256_file",
    "unpack_index",
    "upload_artifact",
]

_CHUNK = 1 << 20
#: What the streamed download reads, inflates and hands tar at a time. tarfile's stream keeps what it has
#: not handed out yet and copies that remainder at every read, and tar reads a member 16 KiB at a time
#: unless told otherwise: with 1 MiB reads that copied every byte ~30 times (about 0.3 s of CPU and 60,000
#: page faults for the 21.7k-talk artifact in a fresh process). Reading, inflating and copying in the same
#: 64 KiB steps keeps each copy small and each buffer reused (measured: docs/api.md, "Cold start").
_STREAM_CHUNK = 1 << 16


class ChecksumMismatchError(StoreError):
    """A downloaded artifact does not have the sha256 its manifest promises."""


class UnsafeArchiveError(StoreError):
    """An index archive holds something other than plain files inside its own directory."""


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def upload_artifact(store: Store, archive: Path, index_version: str) -> tuple[str, str, int]:
    """Upload a packed index under its version; returns (full artifact key, sha256, size)."""
    digest = sha256_file(archive)
    key = join_key(VERSIONS_DIR, index_version, ARTIFACT_NAME)
    store.upload_file(key, archive, metadata={"sha256": digest})
    return store.full_key(key), digest, archive.stat().st_size


def download_artifact(store: Store, manifest: Manifest, destination: Path) -> Path:
    """Download the manifest's artifact to ``destination`` and check its sha256.

    On a mismatch the file is removed and ``ChecksumMismatchError`` raised: a corrupted or
    substituted artifact is never opened.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    store.download_file(store.relative_key(manifest.artifact_key), destination)
    actual = sha256_file(destination)
    if actual != manifest.artifact_sha256:
        destination.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"artifact {manifest.artifact_key} has sha256 {actual}, manifest says {manifest.artifact_sha256}"
        )
    return destination


def download_index(store: Store, manifest: Manifest, index_dir: Path) -> Path:
    """Stream the manifest's index into ``index_dir`` (which must not exist yet), checked by its sha256.

    Download, sha256 and unpack in one pass. On any failure, a checksum that differs included, the
    directory is removed before the error is raised: an index is opened only when all of it is the
    manifest's.
    """
    index_dir.mkdir(parents=True)
    try:
        with store.open_stream(store.relative_key(manifest.artifact_key)) as body:
            stream = _VerifiedGunzip(body, manifest.artifact_bytes)
            with tarfile.open(fileobj=stream, mode="r|", bufsize=_STREAM_CHUNK, copybufsize=_STREAM_CHUNK) as tar:
                _extract_within_caps(tar, index_dir, manifest.artifact_key, MAX_INDEX_BYTES, MAX_INDEX_FILES)
            while stream.read(_STREAM_CHUNK):  # the end-of-archive blocks count in the checksum too
                pass
        actual = stream.hexdigest()
        if actual != manifest.artifact_sha256:
            raise ChecksumMismatchError(
                f"artifact {manifest.artifact_key} has sha256 {actual}, manifest says {manifest.artifact_sha256}"
            )
    except BaseException:
        shutil.rmtree(index_dir, ignore_errors=True)
        raise
    return index_dir


def _extract_within_caps(tar: tarfile.TarFile, index_dir: Path, archive: str, max_bytes: int, max_files: int) -> None:
    """Write the members of a streamed archive, refusing the first that is not a plain file with a plain name
    (it would let a forged artifact write outside ``index_dir``) or that takes it past the caps."""
    files = total = 0
    for member in tar:
        name = member.name
        plain = member.isreg() and not member.issparse()
        if not plain or "/" in name or "\\" in name or name in ("", ".", "..") or name.startswith("."):
            raise UnsafeArchiveError(f"{archive}: refusing archive member {name!r} (type {member.type!r})")
        files, total = files + 1, total + member.size
        if files > max_files:
            raise UnsafeArchiveError(f"{archive}: more than {max_files:,} files, the most an index has")
        if total > max_bytes:
            raise UnsafeArchiveError(f"{archive}: unpacks to over {max_bytes:,} bytes, the most an index has")
        tar.extract(member, index_dir, filter="data")


class _VerifiedGunzip:
    """The inflated bytes of a (multi-member) gzip stream, hashing and counting the raw bytes as they arrive.

    More raw bytes than ``declared``, or a stream ending inside a member, is an error; each ``read``
    inflates at most ``size`` bytes, so a small forged stream cannot expand in memory.
    """

    def __init__(self, body, declared: int) -> None:
        self._body = body
        self._declared = declared
        self._received = 0
        self._digest = hashlib.sha256()
        self._inflate = zlib.decompressobj(31)
        self._ended = False

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def read(self, size: int = _STREAM_CHUNK) -> bytes:
        size = _STREAM_CHUNK if size is None or size < 0 else size
        while True:
            if self._inflate.eof:  # the next gzip member (its first bytes may have come with this one's end)
                data = self._inflate.unused_data or self._raw()
                if not data:
                    return b""
                self._inflate = zlib.decompressobj(31)
            elif self._inflate.unconsumed_tail:
                data = self._inflate.unconsumed_tail
            else:
                data = self._raw()
                if not data:
                    return b""
            try:
                out = self._inflate.decompress(data, size)
            except zlib.error as error:
                raise UnsafeArchiveError(f"the artifact is not a gzip stream ({error})") from error
            if out:
                return out

    def _raw(self) -> bytes:
        if self._ended:
            return b""
        chunk = self._body.read(_STREAM_CHUNK)
        if not chunk:
            self._ended = True
            if not self._inflate.eof:
                raise ChecksumMismatchError(f"the artifact ends inside a gzip member after {self._received:,} bytes")
            return b""
        self._received += len(chunk)
        if self._received > self._declared:
            raise ChecksumMismatchError(f"the artifact is longer than the {self._declared:,} bytes its manifest says")
        self._digest.update(chunk)
        return chunk


@dataclass(frozen=True)
class PackedFile:
    """Where one index file sits in an artifact: its own gzip member (tar header, data, padding)."""

    size: int
    offset: int
    length: int


@dataclass(frozen=True)
class PackedIndex:
    sha256: str
    size: int
    files: dict[str, PackedFile]


def pack_index(
    index_dir: Path,
    archive: Path,
    *,
    compresslevel: int = 6,
    previous: tuple[Path, dict[str, PackedFile]] | None = None,
) -> PackedIndex:
    """Pack the files of an index directory into one tar.gz, each file in its own gzip member.

    A multi-member gzip is an ordinary .tar.gz to every reader. It lets an incremental build
    copy the compressed members of the files the previous artifact already holds (Whoosh
    never rewrites a file: same name and size, same bytes; the member's tar header is checked
    too) and compress only the new segment. Level 6: 5% smaller than level 1 on the 21.7k-talk
    index (48.2 vs 50.6 MB) for about 1 s more per full build; level 9 saves 1% more in 10 s more.
    """
    files: dict[str, PackedFile] = {}
    digest = hashlib.sha256()
    old_files = previous[1] if previous else {}
    with open(archive, "wb") as out, open(previous[0], "rb") if previous else contextlib.nullcontext() as old:

        def emit(data: bytes) -> None:
            out.write(data)
            digest.update(data)

        for path in sorted(index_dir.iterdir()):
            if not path.is_file():
                continue
            size, offset = path.stat().st_size, out.tell()
            known = old_files.get(path.name)
            if old is not None and known is not None and known.size == size and _member_is(old, known, path.name):
                old.seek(known.offset)
                left = known.length
                while left:
                    chunk = old.read(min(_CHUNK, left))
                    if not chunk:
                        raise StoreError(f"previous artifact ends inside the member of {path.name}")
                    emit(chunk)
                    left -= len(chunk)
            else:
                info = tarfile.TarInfo(path.name)
                info.size, info.mode, info.mtime = size, 0o644, int(path.stat().st_mtime)
                packer = zlib.compressobj(compresslevel, zlib.DEFLATED, 31)  # 31: a gzip member
                emit(packer.compress(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")))
                with open(path, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        emit(packer.compress(chunk))
                emit(packer.compress(b"\0" * (-size % tarfile.BLOCKSIZE)) + packer.flush())
            files[path.name] = PackedFile(size=size, offset=offset, length=out.tell() - offset)
        end = zlib.compressobj(compresslevel, zlib.DEFLATED, 31)
        emit(end.compress(b"\0" * (2 * tarfile.BLOCKSIZE)) + end.flush())  # end-of-archive blocks
    return PackedIndex(sha256=digest.hexdigest(), size=archive.stat().st_size, files=files)


def _member_is(archive, packed: PackedFile, name: str) -> bool:
    """Whether the gzip member at ``packed.offset`` starts with the tar header of ``name``, ``packed.size``."""
    archive.seek(packed.offset)
    try:
        header = zlib.decompressobj(31).decompress(archive.read(min(packed.length, 4096)), tarfile.BLOCKSIZE * 3)
        info = tarfile.TarInfo.frombuf(header[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except (zlib.error, tarfile.TarError):
        return False
    # PAX headers come first for long names; plain names in Whoosh indexes fit the ustar header
    return info.name == name and info.size == packed.size and info.isfile()


def unpack_index(archive: Path, index_dir: Path, *, max_bytes: int | None = None, max_files: int | None = None) -> None:
    """Unpack an index archive into ``index_dir``, accepting only plain files with plain names, within the caps.

    The archive comes from S3: an absolute path, ``..``, a link or a device would let a forged
    artifact write outside the index directory, and a gzip bomb (a few kB inflating to gigabytes)
    would fill /tmp, so the archive is read as a stream and refused (``UnsafeArchiveError``) at the
    first member that is not a plain file or would take it past ``max_files`` files or ``max_bytes``
    bytes (default: ``MAX_INDEX_FILES``, ``MAX_INDEX_BYTES``), before that member is written. What was
    written by then is the caller's to remove.
    """
    max_bytes = MAX_INDEX_BYTES if max_bytes is None else max_bytes
    max_files = MAX_INDEX_FILES if max_files is None else max_files
    index_dir.mkdir(parents=True, exist_ok=True)
    # gzip.open reads every gzip member (tarfile's own "r|gz" stops after the first: see pack_index)
    with gzip.open(archive, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        _extract_within_caps(tar, index_dir, archive.name, max_bytes, max_files)
