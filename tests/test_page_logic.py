"""The page's pure logic (URL state, snippet splitting), unit-tested without a browser.

The tests themselves are JavaScript (tests/js/*.test.mjs, `node --test`), next to the ES modules
they test; this file runs them under pytest so `make test` covers them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = sorted((Path(__file__).parent / "js").glob("*.test.mjs"))


@pytest.mark.parametrize("test_file", JS_TESTS, ids=[p.stem for p in JS_TESTS])
def test_page_logic(test_file: Path) -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("needs Node.js for the page's pure-logic tests (`make nodejs` or apt-get install nodejs)")
    # GIVEN one node:test file WHEN node runs it THEN every case passes (its TAP report is the failure message)
    result = subprocess.run([node, "--test", str(test_file)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_are_page_logic_tests() -> None:
    assert {p.stem for p in JS_TESTS} >= {"url.test", "snippet.test"}
