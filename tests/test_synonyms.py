"""Site synonyms and the shipped French/English glossary: parsing, the phrase lookup, the artifact's JSON."""

from __future__ import annotations

import json
import pickle

import pytest

from talksearch.synonyms import (
    MAX_TARGETS,
    SynonymFormatError,
    SynonymTable,
    analyse,
    compile_table,
    load_glossary,
    parse_synonyms,
    phrase_keys,
)

SITE = """\
# our own words
k8s, kubernetes
ml => machine learning

conteneurs, containers
base de données, database
apprentissage automatique, machine learning
"""


def expanded(table: SynonymTable, query: str) -> dict[str, list[str]]:
    """What a query's words expand to, as the API would say it: {from: [to, ...]}."""
    words = analyse(query)
    return {" ".join(e.source): [t.text for t in e.targets] for e in table.expansions(words)}


@pytest.fixture(scope="module")
def site() -> SynonymTable:
    parsed = parse_synonyms(SITE)
    assert parsed.problems == []
    return compile_table(parsed.rules)


@pytest.fixture(scope="module")
def glossary() -> SynonymTable:
    return compile_table(load_glossary().rules)


# --- the format -----------------------------------------------------------------------------------
def test_equivalents_expand_both_ways_and_a_one_way_rule_only_one_way(site):
    assert expanded(site, "k8s") == {"k8s": ["kubernetes"]}
    assert expanded(site, "kubernetes") == {"kubernetes": ["k8s"]}
    assert expanded(site, "ml") == {"ml": ["machine learning"]}
    assert expanded(site, "machine learning") == {"machine learning": ["apprentissage automatique"]}


def test_a_one_way_rule_longer_than_what_it_adds_is_found():
    table = compile_table(parse_synonyms("traitement automatique des langues naturelles => nlp").rules)
    assert expanded(table, "le traitement automatique des langues naturelles") == {
        "traitement automatique langues naturelles": ["nlp"]
    }
    assert expanded(SynonymTable.from_json(table.to_json()), "traitement automatique des langues naturelles")


def test_bad_lines_are_skipped_and_reported_with_their_numbers():
    text = "\n".join(
        [
            "k8s, kubernetes",  # 1: good
            "kubernetes",  # 2: a single term
            "=> machine learning",  # 3: nothing on the left
            "a => b => c",  # 4: two arrows
            "ml,, machine learning",  # 5: an empty term
            "!!!, ???",  # 6: no word
            "one two three four five six seven, seven",  # 7: too long a term
            "# comment",
            "",
            "ia, ai",  # 10: good
        ]
    )
    parsed = parse_synonyms(text, source="synonyms.txt")
    assert [r.line for r in parsed.rules] == [1, 10]
    assert [p.line for p in parsed.problems] == [2, 3, 4, 5, 6, 7]
    assert str(parsed.problems[0]).startswith("synonyms.txt:2: a single term")
    table = compile_table(parsed.rules)
    assert expanded(table, "IA") == {"ia": ["ai"]}


def test_a_file_that_is_not_utf8_or_too_big_is_reported_not_read():
    assert "not UTF-8" in parse_synonyms(b"k8s, kub\xffernetes").problems[0].reason
    huge = parse_synonyms(b"a, b\n" * 300_000)
    assert huge.rules == [] and "larger than" in huge.problems[0].reason


# --- analysis: what a query and an entry have in common -------------------------------------------
def test_inflections_plurals_elisions_and_accents_meet_the_same_entry(site):
    assert expanded(site, "conteneur") == {"conteneur": ["containers"]}
    assert expanded(site, "Bases de Données") == {"bases donnees": ["database"]}
    assert expanded(site, "l'apprentissage automatique") == {"apprentissage automatique": ["machine learning"]}
    assert expanded(site, "databases") == {"databases": ["base de données"]}


def test_an_inflection_of_the_typed_term_is_not_an_expansion():
    table = compile_table(parse_synonyms("base de données, bases de données, database").rules)
    assert expanded(table, "bases de données") == {"bases donnees": ["database"]}


def test_the_longest_entry_wins_and_the_other_words_are_looked_up_on_their_own(site):
    assert expanded(site, "apprentissage automatique conteneurs") == {
        "apprentissage automatique": ["machine learning"],
        "conteneurs": ["containers"],
    }
    assert expanded(site, "apprentissage") == {}


def test_a_term_of_stop_words_only_keeps_them():
    assert analyse("AI") == ("ai",)
    assert analyse("l'IA") == ("ia",)
    table = compile_table(parse_synonyms("ia, ai").rules)
    assert expanded(table, "AI") == {"ai": ["ia"]}


def test_rules_are_not_followed_transitively_and_targets_are_capped():
    table = compile_table(parse_synonyms("a1, b1\nb1, c1").rules)
    assert expanded(table, "a1") == {"a1": ["b1"]}
    assert sorted(expanded(table, "b1")["b1"]) == ["a1", "c1"]
    many = ", ".join(f"w{i}" for i in range(20))
    assert len(expanded(compile_table(parse_synonyms(many).rules), "w0")["w0"]) == MAX_TARGETS


def test_a_sites_rules_come_before_the_glossarys(glossary):
    site = parse_synonyms("conteneurs, pods").rules
    table = compile_table(site, load_glossary().rules)
    assert expanded(table, "conteneurs")["conteneurs"][0] == "pods"
    assert "containers" in expanded(table, "conteneurs")["conteneurs"]


# --- the artifact's copy --------------------------------------------------------------------------
def test_the_table_survives_its_json_copy(glossary):
    copy = SynonymTable.from_json(glossary.to_json())
    for query in ("apprentissage automatique", "k8s", "bases de données", "unit tests", "sans serveur"):
        assert expanded(copy, query) == expanded(glossary, query)


@pytest.mark.parametrize(
    "data",
    [
        pickle.dumps({"format": 2}),
        b"[]",
        b'{"format": 1, "texts": [], "words": [], "fr": {}, "en": {}}',
        b'{"format": 2, "texts": ["x"], "words": [], "fr": {}, "en": {}}',
        b'{"format": 2, "texts": ["x"], "words": ["x  y"], "fr": {}, "en": {}}',
        b'{"format": 2, "texts": ["x"], "words": ["a b c d e f g"], "fr": {}, "en": {}}',
        b'{"format": 2, "texts": [1], "words": ["x"], "fr": {}, "en": {}}',
        b'{"format": 2, "texts": ["x"], "words": ["x"], "fr": {"x": [0]}, "en": {}}',
        b'{"format": 2, "texts": ["x"], "words": ["x"], "fr": {"x": "0 -1"}, "en": {}}',
        b'{"format": 2, "texts": ["x"], "words": ["x"], "fr": {"x": "0"}}',
        b"[" * 100_000,
        b" " * 9_000_000,
    ],
)
def test_anything_but_a_table_this_module_wrote_is_refused(data):
    with pytest.raises(SynonymFormatError):
        SynonymTable.from_json(data)


# --- the shipped glossary -------------------------------------------------------------------------
def test_a_target_number_past_the_end_is_no_target():
    table = SynonymTable.from_json(b'{"format": 2, "texts": ["b"], "words": ["b"], "fr": {"zz": "0 7"}, "en": {}}')
    assert [t.text for t in table.targets(("zz",))] == ["b"]


def test_the_glossary_parses_cleanly_and_every_line_adds_something():
    parsed = load_glossary()
    assert parsed.problems == []
    assert len(parsed.rules) > 900
    for rule in parsed.rules:
        table = compile_table([rule])
        assert any(table.targets(analyse(term)) for term in rule.sources), f"line {rule.line} adds nothing"


@pytest.mark.parametrize(
    ("french", "english"),
    [
        ("apprentissage automatique", "machine learning"),
        ("bases de données", "database"),
        ("intégration continue", "continuous integration"),
        ("conteneurs", "containers"),
        ("logiciel libre", "free software"),
        ("informatique quantique", "quantum computing"),
        ("sans serveur", "serverless"),
        ("vision par ordinateur", "computer vision"),
        ("tests unitaires", "unit tests"),
        ("IA", "ai"),
        ("TAL", "nlp"),
    ],
)
def test_the_glossary_translates_the_issues_terms_both_ways(glossary, french, english):
    def targets(query: str) -> set[tuple[str, str]]:
        """The lookup keys of what a query expands to (inflections of one term share them)."""
        return {phrase_keys(t.words) for e in glossary.expansions(analyse(query)) for t in e.targets}

    assert phrase_keys(analyse(english)) in targets(french)
    assert phrase_keys(analyse(french)) in targets(english)


def test_the_glossary_and_abbreviations_know_k8s(glossary):
    assert "kubernetes" in expanded(glossary, "k8s")["k8s"]


def test_the_compiled_glossary_is_small_enough_to_ship_in_every_artifact(glossary):
    data = glossary.to_json()
    assert len(data) < 400_000
    assert json.loads(data)["format"] == 2


def test_a_term_of_stop_words_meets_only_itself():
    table = compile_table(load_glossary().rules)
    # stemmed, "be" would meet the French stem of "bees"
    assert table.targets(("be",)) == ()
    assert "ai" in [t.text for t in table.targets(("ia",))]
    assert "intelligence artificielle" in [t.text for t in table.targets(("ai",))]
