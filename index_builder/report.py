"""What a build tells the people who run it: the report, and a progress line on a terminal."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass, field

#: The text report lists this many warnings (duplicate ids can be thousands); --json has them all.
MAX_LISTED_WARNINGS = 20


@dataclass(frozen=True)
class SkippedSource:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class BuildReport:
    """What a build did; ``published`` says whether readers now see a new index."""

    source: str
    index: str
    status: str = "failed"  # "published", "unchanged" (nothing to do) or "refused"
    message: str = ""
    mode: str = "full"  # "full" or "incremental"
    index_version: str | None = None
    talks_indexed: int = 0
    talks_added: int = 0  # new ids
    talks_changed: int = 0  # ids kept whose content changed (re-indexed)
    talks_removed: int = 0  # ids gone
    sources_listed: int = 0
    sources_parsed: int = 0
    skipped: list[SkippedSource] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    artifact_bytes: int = 0

    @property
    def published(self) -> bool:
        return self.status == "published"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["published"] = self.published
        data["skipped"] = [asdict(s) for s in self.skipped]
        return data

    def format(self) -> str:
        """The end-of-build report for humans."""
        lines = [
            f"{self.status}: {self.message}",
            f"  mode {self.mode}, version {self.index_version or '-'}",
            f"  talks indexed {self.talks_indexed:,} (+{self.talks_added:,} new, "
            f"{self.talks_changed:,} changed, -{self.talks_removed:,} gone)",
            f"  sources listed {self.sources_listed:,}, parsed {self.sources_parsed:,}, skipped {len(self.skipped):,}",
            f"  artifact {self.artifact_bytes / 1e6:.1f} MB, duration {self.duration_seconds:.2f} s",
        ]
        lines += [f"  skipped {s}" for s in self.skipped]
        lines += [f"  warning {w}" for w in self.warnings[:MAX_LISTED_WARNINGS]]
        if len(self.warnings) > MAX_LISTED_WARNINGS:
            lines.append(f"  … and {len(self.warnings) - MAX_LISTED_WARNINGS:,} more warnings (--json lists them all)")
        return "\n".join(lines)


class Progress:
    """One overwritten status line on a terminal; silent in Lambda, CI logs and pipes."""

    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty() and "AWS_LAMBDA_FUNCTION_NAME" not in os.environ
        self.enabled = enabled
        self._last = 0.0

    def __call__(self, message: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.enabled and (force or now - self._last > 0.2):
            self._last = now
            sys.stderr.write(f"\r\033[K{message}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
