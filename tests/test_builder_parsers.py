"""Content files → talks: every format, heading variant, language rule and bad-content case."""

from __future__ import annotations

import gzip
import json

import pytest

from index_builder.parsers import MAX_FRONT_MATTER_BYTES, ContentError, parse_source, parse_talk_heading
from index_builder.parsers.markdown import markdown_to_text
from index_builder.text import detect_language, normalize_language
from tests.conftest import SAMPLE_CONTENT

SAMPLE_RECAP = SAMPLE_CONTENT / "recaps" / "journees-python-bretagne-2026.md"


def recap(body: str, front_matter: str = "title: Retour sur DevFest\nurl: https://blog.example.org/devfest\n") -> str:
    return f"---\n{front_matter}---\n\n{body}"


def parse_text(key: str, text: str):
    return parse_source(key, text.encode("utf-8"))


# --- the sample recap -------------------------------------------------------------------------------


def test_sample_recap_yields_exactly_its_eleven_talks():
    # GIVEN the French sample recap, with an intro, eleven talk sections, lightning talks and a conclusion
    talks = parse_source("recaps/journees-python-bretagne-2026.md", SAMPLE_RECAP.read_bytes()).talks
    # THEN exactly the eleven talks come out, in order, with their speakers and companies
    assert [(t.speakers, t.company) for t in talks] == [
        (["Gwenaëlle Le Bihan"], "Armor Logistique"),
        (["Thomas Kervella"], "Banque du Ponant"),
        (["Soizic Morvan"], "Météo Littoral"),
        (["Yann Guillou", "Maëlle Tanguy"], "Coopérative Breizh Data"),
        (["Erwan Quéré"], "Université de Brest"),
        (["Nolwenn Cadiou"], "Atelier Numérique de Quimper"),
        (["Pierre-Yves Le Goff"], "Granit Énergie"),
        (["Katell Riou"], "Santé Ouest"),
        (["Mathieu Le Roux"], "Studio Goéland"),
        (["Anne-Sophie Jaouen"], "Collectivité de Lorient"),
        (["Loïc Penven"], "Les Ateliers du Code"),
    ]
    # AND nothing from the intro, the lightning talks or the conclusion poses as a talk
    assert not any("lightning" in t.title.lower() or "Conclusion" in t.title for t in talks)
    assert not any("Jardin partagé" in t.summary or "Vannes" in t.summary for t in talks)
    first = talks[0]
    assert first.title == "Nos conteneurs ont maigri de 80 %"
    assert first.event == "Journées Python de Bretagne 2026"
    assert first.date == "2026-10-15" and first.year == 2026 and first.lang == "fr"
    assert first.id == "recaps/journees-python-bretagne-2026/gwenaelle-le-bihan-armor-logistique"
    assert first.url == "https://blog.example.org/2026/10/journees-python-bretagne#gwenaëlle-le-bihan-armor-logistique"
    assert first.source == "recaps/journees-python-bretagne-2026.md"
    assert "distroless" in first.summary and "*" not in first.summary and "[" not in first.summary


# --- recap headings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Marie Dupont, Acme", (["Marie Dupont"], "Acme")),
        ("Marie Dupont (Acme SAS)", (["Marie Dupont"], "Acme SAS")),
        ("Marie Dupont - Acme", (["Marie Dupont"], "Acme")),
        ("Marie Dupont — Acme, Paris", (["Marie Dupont"], "Acme, Paris")),
        ("Marie Dupont – Acme", (["Marie Dupont"], "Acme")),
        ("Jean-Pierre de La Fontaine, Fables & Co", (["Jean-Pierre de La Fontaine"], "Fables & Co")),
        ("Alice Martin & Bob Durand, Acme", (["Alice Martin", "Bob Durand"], "Acme")),
        ("Alice Martin et Bob Durand (Acme)", (["Alice Martin", "Bob Durand"], "Acme")),
        ("**Émilie Noël**, *Société Générale*", (["Émilie Noël"], "Société Générale")),
        ("5 lightning talks", None),
        ("Conclusion", None),
        ("Questions, réponses", None),
        ("Mot de la fin, merci à tous", None),
        ("Introduction - le programme", None),
        ("Les 10 ans, on fête ça", None),
        ("Keynote (matin)", None),
    ],
)
def test_talk_headings(heading, expected):
    assert parse_talk_heading(heading) == expected


def test_recap_titles_ids_urls_and_event_fallback():
    text = recap(
        "Intro text.\n\n"
        "## Marie Dupont, Acme\n\n**Des API rapides**\n\n-   point un\n\n"
        "## Marie Dupont, Acme\n\nTitre : Encore elle\n\nDeuxième passage.\n\n"
        "## Paul Martin (Initech)\n\nUne phrase d'ouverture qui sert de titre. Puis la suite.\n\n"
        "## Conclusion\n\nMerci.\n"
    )
    talks = parse_text("blog/2026/devfest.md", text).talks
    assert [t.title for t in talks] == ["Des API rapides", "Encore elle", "Une phrase d'ouverture qui sert de titre"]
    assert [t.id for t in talks] == [
        "blog/2026/devfest/marie-dupont-acme",
        "blog/2026/devfest/marie-dupont-acme-2",
        "blog/2026/devfest/paul-martin-initech",
    ]
    assert talks[2].url == "https://blog.example.org/devfest#paul-martin-initech"
    assert all(t.event == "Retour sur DevFest" for t in talks)  # no `event`: the post title


def test_headings_inside_fenced_code_are_not_talks():
    # GIVEN a talk whose notes quote Markdown in a fenced block, with a heading that looks like a talk
    text = recap(
        "## Marie Dupont, Acme\n\n**Écrire ses recaps en Markdown**\n\n"
        "```markdown\n## Jean Exemple, Société Fictive\n-   un exemple\n```\n\nLa suite du résumé.\n\n"
        "~~~\n## Autre Exemple, Ailleurs\n~~~\n\n"
        "## Paul Martin, Initech\n\nUn second talk.\n"
    )
    talks = parse_text("blog/recap.md", text).talks
    # THEN only the real sections are talks, and the quoted code stays in the first talk's summary
    assert [(t.speakers, t.company) for t in talks] == [(["Marie Dupont"], "Acme"), (["Paul Martin"], "Initech")]
    assert "Jean Exemple" in talks[0].summary and "La suite du résumé" in talks[0].summary


def test_recap_without_talk_sections_is_skipped_with_a_reason():
    with pytest.raises(ContentError, match="no talk sections"):
        parse_text("notes.md", recap("## Introduction\n\nRien.\n\n## Conclusion\n\nFin.\n"))


def test_recap_without_url_or_front_matter():
    talks = parse_text("plain.md", "# Mon récap\n\n## Marie Dupont, Acme\n\nLes conteneurs sont là.\n").talks
    assert talks[0].event == "Mon récap" and talks[0].url == ""


# --- single talks ------------------------------------------------------------------------------------


def test_single_talk_markdown():
    text = (
        "---\ntitle: Packaging\nspeaker: Hannah Brooks\ncompany: Lindenfield\nevent: PyDay\n"
        "date: 2025-06-05\ntags: [packaging, ci]\nlang: eng\nurl: https://x.example/p\n---\n"
        "Wheels are **built** in CI, see [the docs](https://d.example).\n"
    )
    (talk,) = parse_text("talks/packaging.md", text).talks
    assert talk.id == "talks/packaging" and talk.speakers == ["Hannah Brooks"] and talk.company == "Lindenfield"
    assert talk.tags == ["packaging", "ci"] and talk.lang == "en" and talk.date == "2025-06-05"
    assert talk.summary == "Wheels are built in CI, see the docs."


def test_single_talk_with_speaker_list_own_id_and_heading_title():
    text = "---\nid: custom/id-1\nspeakers:\n  - A One\n  - B Two\n---\n# The Title\n\nBody text.\n"
    (talk,) = parse_text("x.md", text).talks
    assert (talk.id, talk.title, talk.speakers, talk.summary) == (
        "custom/id-1",
        "The Title",
        ["A One", "B Two"],
        "Body text.",
    )


def test_single_talk_without_title_is_skipped():
    with pytest.raises(ContentError, match="no title"):
        parse_text("x.md", "---\nspeaker: A One\n---\nJust a body.\n")


# --- JSON and JSON Lines -------------------------------------------------------------------------------

RECORD = {
    "id": "pycon-fr-2019/ajoutez-de-lobservabilite",
    "title": "Ajoutez de l'observabilité",
    "speakers": ["Lionel Porcheron", "Pierre Fersing"],
    "event": "PyCon FR 2019",
    "date": "2019-11-02T10:00:00+01:00",
    "language": "fra",
    "tags": ["django"],
    "summary": "Résumé *brut*.",
    "url": "https://youtube.example/v",
    "duration": 1800,
}


def test_json_list_object_and_single_record():
    for payload in ([RECORD], {"talks": [RECORD]}, RECORD):
        (talk,) = parse_text("data/talks.json", json.dumps(payload)).talks
        assert talk.id == RECORD["id"]  # kept verbatim, slash included
        assert talk.speakers == RECORD["speakers"] and talk.event == "PyCon FR 2019"
        assert talk.date == "2019-11-02" and talk.lang == "fr" and talk.summary == "Résumé *brut*."
        assert talk.source == "data/talks.json"


def test_jsonl_gzip_keeps_good_lines_and_reports_bad_ones():
    lines = [
        json.dumps(RECORD),
        "{not json",
        json.dumps({"id": "no-title"}),
        json.dumps(["a", "list"]),
        b"\xff\xfe".decode("latin-1"),
        json.dumps({"title": "Sans identifiant", "speakers": "Solo Speaker"}),
        json.dumps({"id": 42, "title": "Numeric id"}),
        json.dumps({"id": {"x": 1}, "title": "Bad id"}),
        "",
    ]
    data = gzip.compress("\n".join(lines).encode("utf-8"))
    result = parse_source("corpus/talks.jsonl.gz", data)
    assert [t.id for t in result.talks] == [RECORD["id"], "corpus/talks/sans-identifiant", "42"]
    assert result.talks[1].speakers == ["Solo Speaker"]
    assert [p.split(":")[0] for p in result.problems] == ["line 2", "line 3", "line 4", "line 5", "line 8"]
    assert "invalid JSON" in result.problems[0] and "no title" in result.problems[1]
    assert "not a JSON object" in result.problems[2] and "id must be a string, not dict" in result.problems[4]


def test_jsonl_with_invalid_utf8_line_keeps_the_others():
    data = json.dumps(RECORD).encode() + b'\n{"title": "caf\xe9"}\n'
    result = parse_source("t.jsonl", data)
    assert len(result.talks) == 1
    assert result.problems == ["line 2: not valid UTF-8"]


# --- languages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [("fr", "fr"), ("fra", "fr"), ("FRE", "fr"), ("fr-CA", "fr"), ("French", "fr"), ("eng", "en"), ("en_GB", "en"),
     ("spa", "es"), ("jpn", "ja"), ("xx", "xx"), ("tlh", "tlh"), ("", ""), (None, ""), (12, ""), ("???", "")],
)  # fmt: skip
def test_language_codes(code, expected):
    assert normalize_language(code) == expected


def test_language_detection():
    assert detect_language("Comment nous avons migré nos conteneurs vers le cloud, et pourquoi c'est utile") == "fr"
    assert detect_language("How we moved our containers to the cloud and why it was worth it") == "en"
    assert detect_language("Cómo migramos los contenedores a la nube con una herramienta para todos") == ""
    assert detect_language("Kubernetes") == ""


def test_unknown_language_is_still_a_talk():
    (talk,) = parse_text("t.json", json.dumps({"id": "x", "title": "Contenedores", "summary": "Una charla."})).talks
    assert talk.lang == ""


# --- Markdown to text --------------------------------------------------------------------------------


def test_markdown_to_text_keeps_words_and_html_as_text():
    markdown = (
        "Intro **gras**, *italique*, _souligné_, ~~barré~~, `code` et snake_case_name.\n"
        "Suite du paragraphe avec [un lien](https://x.example/a_(b)) et ![une image](i.png).\n\n"
        "-   premier point\n    qui continue\n*   second point\n1. numéroté\n\n"
        "> citation\n\n### Sous-titre\n\n<script>alert('x')</script> & <b>html</b>\n"
    )
    assert markdown_to_text(markdown).splitlines() == [
        "Intro gras, italique, souligné, barré, code et snake_case_name. "
        "Suite du paragraphe avec un lien et une image.",
        "premier point qui continue",
        "second point",
        "numéroté",
        "citation",
        "Sous-titre",
        "<script>alert('x')</script> & <b>html</b>",
    ]


def test_html_in_content_is_kept_as_text():
    text = recap("## Marie Dupont, Acme\n\n<script>alert(1)</script> <img src=x onerror=alert(2)>\n")
    (talk,) = parse_text("x.md", text).talks
    assert talk.summary == "<script>alert(1)</script> <img src=x onerror=alert(2)>"


# --- bad content ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "data", "reason"),
    [
        ("a.md", b"", "empty file"),
        ("a.json", b"  \n\t\n", "empty file"),
        ("a.md", b"caf\xe9 au lait", r"not valid UTF-8 text \(byte 0xe9 at offset 3\)"),
        ("a.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary content"),
        ("a.png", b"\x89PNG", "unsupported file type"),
        ("notes.txt", b"hello", "unsupported file type"),
        ("a.json", b'{"title": ', "invalid JSON at line 1"),
        ("a.json", b"42", "neither a talk record"),
        ("a.jsonl.gz", b"not gzip at all", "not a valid gzip file"),
        ("a.jsonl", b"{broken\n[1]\n", "no valid talk records"),
        ("a.md", b"---\ntitle: x\n", "never ends"),
        ("a.md", b"---\n- a\n- b\n---\nbody", "not a mapping"),
        ("a.md", b"---\ntitle: [unclosed\n---\nbody", "invalid YAML front matter"),
        ("a.md", b"---\nspeaker: !!python/object/apply:os.system ['echo pwned']\n---\n", "invalid YAML"),
        ("a.md", b"---\ntitle: !!python/name:os.system\n---\n## A B, C\n", "invalid YAML"),
    ],
)
def test_bad_content_is_refused_with_a_reason(key, data, reason):
    with pytest.raises(ContentError, match=reason):
        parse_source(key, data)


def test_yaml_alias_bomb_is_refused_without_expanding():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [*{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}]\n"
        for n in range(20)
    )
    with pytest.raises(ContentError, match="YAML aliases"):
        parse_text("bomb.md", f"---\n{bomb}speaker: X Y\ntitle: t\n---\nbody\n")


def test_front_matter_size_cap():
    big = "title: " + "x" * (MAX_FRONT_MATTER_BYTES + 10) + "\n"
    with pytest.raises(ContentError, match="front matter is over 64 KB"):
        parse_text("big.md", f"---\n{big}---\nbody\n")


def test_gzip_bomb_is_refused(monkeypatch):
    monkeypatch.setattr("index_builder.parsers.source.MAX_DECOMPRESSED_BYTES", 1000)
    with pytest.raises(ContentError, match="decompresses to more than 1,000 bytes"):
        parse_source("bomb.jsonl.gz", gzip.compress(b"\n" * 5000))
