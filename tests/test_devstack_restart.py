"""Stacks started one after another in one process (as test modules do) each serve their own content."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from devstack import StackError, start_stack


def write_talk(folder: Path, name: str, title: str, summary: str) -> None:
    (folder / name).write_text(
        f"---\ntitle: {title}\nspeaker: Ana Lopez\ncompany: Exemple\nevent: Conf\ndate: 2025-03-01\nlang: fr\n---\n"
        f"{summary}\n",
        encoding="utf-8",
    )


def hit_titles(api_url: str, q: str) -> list[str]:
    with urllib.request.urlopen(f"{api_url}/search?q={q}", timeout=30) as response:
        return [hit["title"] for hit in json.load(response)["hits"]]


def test_a_second_stack_serves_its_own_content_not_the_first_ones(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_talk(first, "a.md", "Premier exposé", "Des abeilles mellifères.")
    write_talk(second, "b.md", "Second exposé", "Des baleines bleues.")
    with start_stack(first, log=lambda line: None) as stack:
        assert hit_titles(stack.api_url, "abeilles") == ["Premier exposé"]
        # one stack per process: the functions find moto through os.environ
        with pytest.raises(StackError, match="already running"):
            start_stack(second, log=lambda line: None)
    with start_stack(second, log=lambda line: None) as stack:
        assert hit_titles(stack.api_url, "baleines") == ["Second exposé"]
        assert hit_titles(stack.api_url, "abeilles") == []
