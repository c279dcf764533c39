"""The search function's caches are bounded by the memory the function has (``lru.MemoryBudget``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_MB = 160


def _measure(*args: str, env: dict | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.measure_cache_memory", *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_function_given_little_memory_stays_under_it_while_its_caches_fill(tmp_path):
    """GIVEN the search function alone in a process with 160 MB (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``), serving
    4,000 generated talks whose common words match most of them, WHEN two passes of queries on those words
    fill its caches THEN the process' peak resident memory stays under 160 MB, and its caches held what the
    budget allowed, no more. Before (caches bounded by entries and postings): 204 MB after two passes."""
    index = tmp_path / "index"
    _measure("build", str(index))
    figures = json.loads(
        _measure("serve", str(index), env=dict(os.environ, AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(MEMORY_MB)))
    )
    assert figures["peak_mb"] < MEMORY_MB, figures
    assert figures["memory_mb"] == MEMORY_MB
    # the bound is the budget: the caches filled it, and did not pass it
    assert 0.9 * figures["limit_mb"] <= figures["spent_mb"] <= figures["limit_mb"], figures
