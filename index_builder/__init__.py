"""The index builder: talk summaries under an S3 prefix or a folder → a published Whoosh index.

``build_and_publish(source, index)`` is the whole job (incremental unless ``full=True``);
``write_index(talks, directory)`` writes an index from Talk records (tests, benchmarks);
``rollback(index)`` points readers back at an earlier version. CLI: ``python -m index_builder``.
"""

from index_builder.build import BuildRefusedError, build_and_publish
from index_builder.publish import rollback
from index_builder.report import BuildReport, SkippedSource
from index_builder.writer import write_index

__all__ = ["BuildRefusedError", "BuildReport", "SkippedSource", "build_and_publish", "rollback", "write_index"]
