"""talksearch.analysis gives the tokens the schema's Whoosh chains give: queries and snippets are analysed
as the index was, without the search function importing Whoosh's schema machinery."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import FRENCH_CORPUS, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from talksearch.analysis import folded_tokens, name_words, query_words
from talksearch.schema import FOLDED, NAMES

#: Letters with and without accents, ligatures, apostrophes, digits, underscores, punctuation and stop words.
_TEXT = st.text(
    alphabet=st.sampled_from(list("aAéÉèêçÇœŒßøÅñüï_0123456789 ’'-.,;:!?\t\n")) | st.characters(),
    max_size=80,
) | st.lists(st.sampled_from(["les", "the", "l'API", "c'est", "j'ai", "Été", "Ökonomie", "ǅemal"]), max_size=8).map(
    " ".join
)


def _whoosh_folded(text: str) -> list[tuple[str, int]]:
    return [(t.text, t.pos) for t in FOLDED(text, positions=True)]


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_folded_tokens_are_the_words_field_analysis(text):
    assert folded_tokens(text) == _whoosh_folded(text)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_name_words_are_the_name_fields_analysis(text):
    assert name_words(text) == [t.text for t in NAMES(text)]


def test_real_summaries_analyse_the_same():
    """Every summary and title of the French corpus when it is there, else the bundled sample content."""
    if FRENCH_CORPUS.exists():
        texts = []
        for line in FRENCH_CORPUS.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            texts += [record.get("title") or "", record.get("summary") or record.get("description") or ""]
    else:
        texts = [p.read_text(encoding="utf-8") for p in (ROOT / "content").rglob("*.md")]
    assert len(texts) > 5
    for text in texts:
        assert folded_tokens(text) == _whoosh_folded(text)
        assert name_words(text) == [t.text for t in NAMES(text)]


def test_query_words_drop_elided_articles_and_stop_words_but_keep_tech_terms():
    assert query_words("l'API de la Kubernetes") == ["api", "kubernetes"]
    assert query_words("c'est en C, j'ai de l'AI") == ["c", "ai"]
    assert query_words("les the", keep_stop=True) == ["les", "the"]


def test_the_search_function_analyses_queries_without_whoosh_schema_machinery():
    """Importing the query path loads Whoosh's stemmers and tables only, not its analysis, fields or codecs."""
    code = (
        "import sys; import functions.search.query, functions.search.words, functions.search.translations;"
        "print(sorted(m for m in sys.modules if m.startswith(('whoosh.analysis', 'whoosh.fields', 'whoosh.codec'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
