"""Generated content through parse_source: talks or a reason (ContentError), never a crash, never slow.

Markdown is drawn from the fragments that trip parsers (emphasis and link openers, fences, headings,
tables, escapes, entities), front matter from YAML and TOML fragments and from real mappings, JSON
from nested values and broken text. Every input must parse within ``TIME_BOUND`` seconds, far above
the longest parse seen (18 ms over 6,000 inputs, docs/index-builder.md), so a slow machine cannot fail
it while a quadratic path would. ``-s`` prints the longest parse:

    .venv/bin/python -m pytest tests/test_builder_parse_fuzz.py -s -q
    TALKSEARCH_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_builder_parse_fuzz.py -s -q   # explore more
"""

from __future__ import annotations

import json
import os
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index_builder.parsers import ContentError, ParsedSource, SiteConfig, parse_source

TIME_BOUND = 3.0
EXAMPLES = int(os.environ.get("TALKSEARCH_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the bound is asserted below, on the parse alone
    derandomize=True,  # the same inputs in every run, so CI never turns red by chance
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MARKDOWN_FRAGMENTS = [
    "*", "**", "***", "_", "__", "~~", "`", "``", "```", "~~~", "[", "]", "(", ")", "![", "](", "]:", "<", ">",
    "<http://x.example>", "&", "&amp;", "&#", "&#x", "\\", "#", "## ", "### ", "# ", "- ", "* ", "+ ", "1. ", "2) ",
    "> ", "|", "| --- |", "---", "===", "\n", "\n\n", " ", "    ", "\t", "Marie Dupont, Acme", "Paul Martin (Initech)",
    "Titre : ", "é", "a", "mot ", "snake_case", "http://x.example/a_(b)",
]  # fmt: skip
YAML_FRAGMENTS = ["[", "]", "{", "}", "&a ", "*a", ": ", "- ", "!!python/name:os.system", "'", '"', "\n", "  ", "a"]
TOML_FRAGMENTS = ["=", "[", "]", "[[", "]]", "{", "}", '"', "'", "\n", "a", "1979-05-27", "true", ",", "."]

markdown_text = st.lists(st.sampled_from(MARKDOWN_FRAGMENTS) | st.text(max_size=6), max_size=600).map("".join)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30) | st.dates()
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner), max_leaves=25
)
front_matter_keys = st.sampled_from(["title", "date", "draft", "published", "tags", "url", "speaker", "lang"])
yaml_mappings = st.dictionaries(front_matter_keys, values).map(lambda d: yaml.safe_dump(d, allow_unicode=True))
yaml_fragments = st.lists(st.sampled_from(YAML_FRAGMENTS) | st.text(max_size=4), max_size=200).map("".join)
yaml_front_matter = yaml_mappings | yaml_fragments
toml_front_matter = st.lists(st.sampled_from(TOML_FRAGMENTS) | st.text(max_size=4), max_size=200).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(["id", "title", "summary"]), inner),
    max_leaves=40,
)

longest: dict[str, object] = {"seconds": 0.0, "inputs": 0}


@pytest.fixture(scope="module", autouse=True)
def report_longest_parse():
    yield
    print(
        f"\nlongest single-file parse: {longest['seconds'] * 1000:.1f} ms "
        f"({longest.get('key')}, {longest.get('size', 0):,} bytes) over {longest['inputs']:,} generated inputs"
    )


def parse_timed(key: str, data: bytes, site: SiteConfig | None = None) -> ParsedSource | None:
    started = time.process_time()  # CPU time: a busy machine's other processes do not count
    try:
        result = parse_source(key, data, site)
    except ContentError:
        result = None
    elapsed = time.process_time() - started
    longest["inputs"] += 1
    if elapsed > longest["seconds"]:
        longest.update(seconds=elapsed, key=key, size=len(data))
    assert elapsed < TIME_BOUND, f"{key}: {len(data):,} bytes took {elapsed:.2f} s"
    return result


@FUZZ
@given(body=markdown_text, talk=st.booleans())
def test_generated_markdown(body, talk):
    prefix = "## Marie Dupont, Acme\n\n" if talk else ""
    result = parse_timed("recaps/post.md", f"{prefix}{body}".encode())
    if talk and result is not None:
        assert all(t.speakers and t.title for t in result.talks)


@FUZZ
@given(front_matter=yaml_front_matter | toml_front_matter, toml=st.booleans(), body=markdown_text)
def test_generated_front_matter(front_matter, toml, body):
    fence = "+++" if toml else "---"
    data = f"{fence}\n{front_matter}\n{fence}\n## Marie Dupont, Acme\n\n{body}".encode()
    parse_timed("recaps/post.md", data)
    parse_timed("_posts/2013-06-07-post.md", data, SiteConfig(kind="jekyll", base_url="https://blog.example.org"))


@FUZZ
@given(value=json_values, cut=st.integers(min_value=0, max_value=50), lines=st.lists(json_values, max_size=20))
def test_generated_json(value, cut, lines):
    text = json.dumps(value)
    parse_timed("data/talks.json", text.encode())
    parse_timed("data/talks.json", text[: len(text) - cut].encode())  # truncated: invalid JSON
    parse_timed("data/talks.jsonl", "\n".join([json.dumps(v) for v in lines] + [text[:cut]]).encode())
