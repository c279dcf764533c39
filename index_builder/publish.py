"""Publishing a built index behind the manifest, keeping a few versions, and rolling back to one.

Write the search pack and pack the artifact → upload both and the build state under a new
version → write the version's manifest → replace ``manifest.json`` with a conditional write.
Anything that fails before that last step leaves the published index untouched (a pack that cannot
be written fails before anything is uploaded); losing the conditional write to another build
deletes the unpublished version.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from index_builder.answers import answer_section
from index_builder.state import BuildState, write_build_state
from talksearch.artifact import PackedFile, download_artifact, pack_index, sha256_file, upload_artifact
from talksearch.contracts import (
    ARTIFACT_NAME,
    PACK_NAME,
    SCHEMA_VERSION,
    SYNONYMS_NAME,
    VERSIONS_DIR,
    Manifest,
    join_key,
    new_index_version,
)
from talksearch.index_files.writing import WrittenPostings
from talksearch.search_pack import write_pack
from talksearch.store import ManifestConflictError, Store, StoreError, open_store


def publish(
    index: Store,
    index_dir: Path,
    state: BuildState,
    *,
    expected_etag: str | None,
    talk_count: int,
    previous: tuple[Path, dict[str, PackedFile]] | None,
    progress: Callable[..., None],
    previous_pack: bytes | memoryview | None = None,
    written: WrittenPostings | None = None,
) -> Manifest:
    """Publish ``index_dir`` as a new version if the manifest still has ``expected_etag``.

    ``previous``: the previous artifact and where its files are in it, whose unchanged members are
    copied rather than compressed again; ``previous_pack``: the search pack of the index ``index_dir`` was
    updated from, whose talks the index kept are copied rather than read from Whoosh again; ``written``: the
    postings the full write of ``index_dir`` kept in memory, packed from there (the same pack). The artifact is
    written next to ``index_dir``. Raises ``ManifestConflictError`` when another build published first.
    """
    progress("writing the search pack and packing the index…", force=True)
    archive = index_dir.parent / ARTIFACT_NAME
    # the artifact is packed in a thread meanwhile: its gzip and sha256 run outside the GIL, on a second core
    # when there is one (1.2 s of a 21.7k-talk full build, docs/index-builder.md)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="artifact") as pool:
        packing = pool.submit(pack_index, index_dir, archive, previous=previous)
        search_pack = write_pack(index_dir, index_dir.parent / PACK_NAME, previous_pack, written, answer_section)
        packed = packing.result()
    version = new_index_version(suffix=packed.sha256[:8])
    megabytes = (packed.size + search_pack.size) / 1e6
    progress(f"uploading {megabytes:.1f} MB (artifact and search pack) as version {version}…", force=True)
    artifact_key, _, _ = upload_artifact(index, archive, version)
    pack_digest = sha256_file(search_pack.path)
    pack_key = join_key(VERSIONS_DIR, version, PACK_NAME)
    index.upload_file(pack_key, search_pack.path, metadata={"sha256": pack_digest})
    manifest = Manifest(
        schema_version=SCHEMA_VERSION,
        index_version=version,
        artifact_key=artifact_key,
        artifact_sha256=packed.sha256,
        artifact_bytes=packed.size,
        talk_count=talk_count,
        built_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        sources={key: source.etag for key, source in state.sources.items()},
        synonyms_sha256=sha256_file(table) if (table := index_dir / SYNONYMS_NAME).is_file() else "",
        pack_key=index.full_key(pack_key),
        pack_sha256=pack_digest,
        pack_bytes=search_pack.size,
    )
    write_build_state(index, version, BuildState(state.sources, packed.files, state.parse_settings))
    index.write_version_manifest(manifest)  # written last: marks the version complete
    try:
        index.write_manifest(manifest, expected_etag)
    except ManifestConflictError:
        index.delete_version(version)  # nobody points at it; do not leave it behind
        raise
    return manifest


def delete_old_versions(index: Store, keep_versions: int) -> None:
    """Keep the newest ``keep_versions`` versions, and always the published one."""
    current, _ = index.read_manifest()
    versions = index.list_versions()
    keep = set(versions[-keep_versions:])
    if current is not None:
        keep.add(current.index_version)
    for version in versions:
        if version not in keep:
            index.delete_version(version)


def rollback(index: str, *, to: str | None = None) -> Manifest:
    """Point the manifest back at an earlier version (default: the one before the published one).

    The target's artifact is downloaded and its sha256 checked first, and the manifest is
    replaced conditionally, like a publish.
    """
    store = open_store(index)
    current, etag = store.read_manifest()
    versions = [v for v in store.list_versions() if store.read_version_manifest(v) is not None]
    if to is None:
        if current is None:
            raise StoreError(f"nothing is published under {store.location}")
        older = [v for v in versions if v < current.index_version]
        if not older:
            raise StoreError(f"no version older than {current.index_version} is kept under {store.location}")
        to = older[-1]
    target = store.read_version_manifest(to)
    if target is None:
        raise StoreError(f"version {to} is not kept under {store.location}; kept: {', '.join(versions) or 'none'}")
    with tempfile.TemporaryDirectory(prefix="talksearch-rollback-") as tmp:
        download_artifact(store, target, Path(tmp) / ARTIFACT_NAME)
    store.write_manifest(target, etag)
    return target
