"""A site's synonyms.txt: read by the builder into the artifact, its bad lines reported, a change rebuilt."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from functions.search.engine import SearchEngine
from index_builder import build_and_publish
from index_builder import synonyms as builder_synonyms
from talksearch.contracts import SYNONYMS_NAME
from talksearch.store import open_store
from talksearch.synonyms import ParsedSynonyms, Rule, SynonymTable
from tests.conftest import SAMPLE_CONTENT
from tests.index_support import unpacked_index


@pytest.fixture
def content(tmp_path) -> Path:
    directory = Path(shutil.copytree(SAMPLE_CONTENT, tmp_path / "content"))
    record = {"id": "x/hovercraft", "title": "Hovercraft eels", "speakers": ["Ann"], "summary": "Full of eels."}
    (directory / "extra.jsonl").write_text(json.dumps(record) + "\n")
    return directory


def published(index: Path, tmp_path: Path, name: str) -> tuple[SearchEngine, Path]:
    store = open_store(index)
    manifest, _ = store.read_manifest()
    target = tmp_path / name
    unpacked_index(store, manifest, target)
    return SearchEngine(target), target


def test_site_synonyms_reach_the_published_index_and_bad_lines_are_reported(content, tmp_path):
    (content / "synonyms.txt").write_text(
        "# our words\nvoltigeur, hovercraft\naéroglisseur => hovercraft\nlonely\na => \n", encoding="utf-8"
    )
    report = build_and_publish(str(content), str(tmp_path / "index"))
    assert report.published and not report.skipped  # synonyms.txt is no "unsupported" talk file
    assert (
        "synonyms.txt:4: a single term: write 'a, b' for equivalents or 'a => b' for a one-way rule: line skipped"
        in (report.warnings)
    )
    assert any(w.startswith("synonyms.txt:5: nothing on one side") for w in report.warnings)
    engine, _ = published(tmp_path / "index", tmp_path, "v1")
    body = engine.search(q="aéroglisseur")
    assert [hit["id"] for hit in body["hits"]] == ["x/hovercraft"]
    assert body["expanded"] == [{"from": "aéroglisseur", "to": ["hovercraft"]}]
    assert engine.search(q="hovercraft")["expanded"] == [{"from": "hovercraft", "to": ["voltigeur"]}]


def test_the_sample_sites_synonyms_find_its_talks_by_the_owners_words(tmp_path):
    # GIVEN the bundled sample content as make dev serves it, with its own synonyms.txt
    report = build_and_publish(str(SAMPLE_CONTENT), str(tmp_path / "index"))
    assert report.published and not [w for w in report.warnings if w.startswith("synonyms.txt")]
    engine, _ = published(tmp_path / "index", tmp_path, "sample")
    # THEN the site's words find its talks: an equivalent both ways, a one-way rule one way only
    assert [hit["title"] for hit in engine.search(q="a11y")["hits"]] == ["L'accessibilité des formulaires Django"]
    assert [hit["title"] for hit in engine.search(q="timeseries")["hits"]] == ["Des séries temporelles à la pelle"]
    assert "timeseries" not in json.dumps(engine.search(q="séries temporelles")["expanded"])


def test_every_build_ships_the_glossary(content, tmp_path):
    build_and_publish(str(content), str(tmp_path / "index"))
    _, directory = published(tmp_path / "index", tmp_path, "v1")
    table = SynonymTable.from_json((directory / SYNONYMS_NAME).read_bytes())
    assert "machine learning" in [p.text for p in table.targets(("apprentissage", "automatique"))]


def test_a_changed_synonyms_file_rebuilds_and_an_unchanged_one_does_not(content, tmp_path):
    index = tmp_path / "index"
    (content / "synonyms.txt").write_text("voltigeur, hovercraft\n", encoding="utf-8")
    assert build_and_publish(str(content), str(index)).published
    assert build_and_publish(str(content), str(index)).status == "unchanged"
    # the same size, other words: the artifact's table is packed anew, never reused by size
    (content / "synonyms.txt").write_text("voltigeuse, hovercraft\n", encoding="utf-8")
    report = build_and_publish(str(content), str(index))
    assert report.published and report.mode == "incremental" and report.talks_added == 0
    engine, _ = published(index, tmp_path, "v2")
    assert engine.search(q="voltigeuse")["total"] == 1
    assert engine.search(q="voltigeur")["total"] == 0
    (content / "synonyms.txt").unlink()
    assert build_and_publish(str(content), str(index)).published
    engine, _ = published(index, tmp_path, "v3")
    assert engine.search(q="voltigeuse")["total"] == 0


def test_a_new_shipped_glossary_rebuilds_unchanged_content(content, tmp_path, monkeypatch):
    index = tmp_path / "index"
    assert build_and_publish(str(content), str(index)).published
    assert build_and_publish(str(content), str(index)).status == "unchanged"
    glossary = builder_synonyms.load_glossary()
    glossary.rules.append(Rule(("anguille",), ("eels",)))
    monkeypatch.setattr(builder_synonyms, "load_glossary", lambda: glossary)
    assert build_and_publish(str(content), str(index)).published
    engine, _ = published(index, tmp_path, "v2")
    assert engine.search(q="anguille")["total"] == 1


def test_a_synonyms_file_that_is_not_text_is_reported_not_fatal(content, tmp_path):
    (content / "synonyms.txt").write_bytes(b"\xff\xfe k8s")
    report = build_and_publish(str(content), str(tmp_path / "index"))
    assert report.published
    assert any(w.startswith("synonyms.txt:0: not UTF-8") for w in report.warnings)


def test_compiled_synonyms_put_site_rules_first():
    site = ParsedSynonyms(rules=[Rule(("ml",), ("mes logiciels",))])
    table = SynonymTable.from_json(builder_synonyms.compile_synonyms(site).data)
    assert table.targets(("ml",))[0].text == "mes logiciels"
