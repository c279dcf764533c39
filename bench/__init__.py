"""`make bench`: talksearch side by side with SQLite FTS5 and tantivy, on the same corpus and queries.

Stages, one module each: ``corpus`` (real pyvideo data or a deterministic synthetic corpus),
``queries`` (the fixed, versioned query mix), ``engines`` (one adapter per engine, all answering
the same full response), ``measure`` (build, size, cold start, warm latency, load) and ``report``
(table, JSON, plot, docs/benchmarks.md). ``python -m bench --help`` lists the options.
"""
