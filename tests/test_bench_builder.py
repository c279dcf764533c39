"""``python -m bench.builder`` end to end on a tiny corpus: every row published, incremental rows re-index 10."""

from __future__ import annotations

import gzip
import json

from bench.builder import main


def test_builder_benchmark_prints_every_row(tmp_path, capsys):
    records = [{"id": f"ev/{n}", "title": f"Talk {n}", "speakers": [f"S {n}"], "summary": "Text."} for n in range(40)]
    corpus = tmp_path / "tiny.jsonl.gz"
    corpus.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    assert main(["--corpus", str(corpus)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith(("local", "moto"))]
    assert len(rows) == 6
    assert all("published" in row and "40" in row for row in rows)
    assert [row for row in rows if "changed," in row and "+0/~10/-0" not in row] == []
