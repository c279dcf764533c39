"""Keeps the embedded content bucket equal to the content folder, like ``aws s3 sync --delete`` on a loop.

Polling (size and mtime every half second, then a content hash to skip touched-but-unchanged
files) needs no extra dependency and behaves the same on every file system, editors' atomic
renames included. Uploads and deletes go through talksearch.store, and the bucket's
notifications then do what they do in AWS: queue a rebuild.
"""

from __future__ import annotations

import hashlib
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from talksearch.store import Store

POLL_SECONDS = 0.5


@dataclass(frozen=True)
class _Seen:
    mtime_ns: int
    size: int
    digest: str


@dataclass
class SyncResult:
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.uploaded or self.deleted)

    def describe(self) -> str:
        return " ".join([*(f"+{k}" for k in self.uploaded), *(f"-{k}" for k in self.deleted)])


def _is_hidden(relative: Path) -> bool:
    """Dot files and folders (.git, editor swap files) and editor backups are not content."""
    return any(part.startswith(".") for part in relative.parts) or relative.name.endswith("~")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ContentWatcher:
    def __init__(self, root: Path, store: Store, log: Callable[[str], None] = print) -> None:
        self.root = root
        self.store = store
        self.log = log
        self._seen: dict[str, _Seen] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sync_once(self) -> SyncResult:
        """Upload what is new or changed, delete what is gone; a failure is retried on the next pass."""
        result = SyncResult()
        present: set[str] = set()
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if _is_hidden(relative) or not path.is_file():
                continue
            key = relative.as_posix()
            present.add(key)
            try:
                stat = path.stat()
                previous = self._seen.get(key)
                if previous and (previous.mtime_ns, previous.size) == (stat.st_mtime_ns, stat.st_size):
                    continue
                digest = _digest(path)
                if previous is None or previous.digest != digest:
                    self.store.upload_file(key, path)
                    result.uploaded.append(key)
                self._seen[key] = _Seen(stat.st_mtime_ns, stat.st_size, digest)
            except FileNotFoundError:
                present.discard(key)  # removed while we looked: the delete below handles it
        gone = sorted(set(self._seen) - present)
        if gone:
            self.store.delete(gone)
            for key in gone:
                del self._seen[key]
            result.deleted.extend(gone)
        return result

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="devstack-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                synced = self.sync_once()
            except Exception:  # keep watching: a permission error or a hiccup must not end the stack
                self.log(f"content sync failed, retrying:\n{traceback.format_exc(limit=3)}")
                continue
            if synced:
                self.log(f"content synced to S3: {synced.describe()}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
