"""Relevance evaluation: judged queries through the real search path, next to SQLite FTS5 baselines.

``python -m relevance`` (or ``make eval``) builds indexes of the shared corpora with
``index_builder``, runs every judged query through ``functions/search/engine.py`` with the
parameters the page sends, and prints MRR@10 / nDCG@10 / recall@10 per corpus and kind.
"""
