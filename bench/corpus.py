"""Corpora for the benchmark: the shared pyvideo data when present, else a deterministic synthetic one.

Every corpus is a list of pyvideo-shaped records (the shared corpus' own format), so the builder reads
the same bytes the peers index. ``write_content_tree`` lays them out as one JSONL file per event, the
way recap posts arrive, so an incremental rebuild after 10 changed talks re-reads a few files, not all.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TALKSEARCH_SHARED", ROOT.parent / "shared"))
PYVIDEO = SHARED / "corpora" / "pyvideo-talks.jsonl.gz"
PYVIDEO_FR = SHARED / "corpora" / "pyvideo-talks-fr.jsonl"

#: ISO 639-3 (pyvideo's ``language``) -> ISO 639-1 (the API's ``lang``).
LANG_639_1 = {
    "eng": "en", "fra": "fr", "spa": "es", "rus": "ru", "por": "pt", "kor": "ko", "jpn": "ja", "ita": "it",
    "deu": "de", "zho": "zh", "pol": "pl", "slk": "sk", "lit": "lt", "tha": "th", "ces": "cs", "eus": "eu",
    "heb": "he", "glg": "gl",
}  # fmt: skip

SYNTHETIC_DEFAULT_SIZE = 10_000
SYNTHETIC_SEED = 20261126


@dataclass
class Corpus:
    """A named list of pyvideo-shaped talk records."""

    name: str
    records: list[dict]

    def __len__(self) -> int:
        return len(self.records)


def lang_of(record: dict) -> str:
    """The two-letter language of a record, or "" when unknown."""
    code = record.get("language") or ""
    return LANG_639_1.get(code, code[:2] if len(code) == 2 else "")


def year_of(record: dict) -> int | None:
    head = (record.get("date") or "")[:4]
    return int(head) if head.isdigit() else None


def day_of(record: dict) -> str:
    """ISO date without time, or ""."""
    return (record.get("date") or "")[:10]


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_corpus(spec: str, size: int | None = None) -> Corpus:
    """``pyvideo`` | ``pyvideo-fr`` | ``synthetic`` | a .jsonl/.jsonl.gz path; ``size`` samples or generates.

    ``auto`` means pyvideo when the shared corpora are next to this clone, synthetic otherwise.
    """
    if spec == "auto":
        spec = "pyvideo" if PYVIDEO.exists() else "synthetic"
    if spec == "synthetic":
        count = size or SYNTHETIC_DEFAULT_SIZE
        return Corpus(f"synthetic-{_human(count)}", list(synthetic_records(count)))
    paths = {"pyvideo": PYVIDEO, "pyvideo-fr": PYVIDEO_FR}
    path = paths.get(spec, Path(spec))
    if not path.exists():
        raise FileNotFoundError(f"corpus {spec!r}: {path} does not exist (use --corpus synthetic)")
    records = read_jsonl(path)
    name = spec if spec in paths else path.name.split(".")[0]
    if size and size < len(records):
        # an evenly spread, deterministic sample keeps every event represented
        step = len(records) / size
        records = [records[int(i * step)] for i in range(size)]
        name = f"{name}-{_human(size)}"
    return Corpus(name, records)


def _human(count: int) -> str:
    return f"{count // 1000}k" if count >= 1000 and count % 1000 == 0 else str(count)


def write_content_tree(corpus: Corpus, directory: Path) -> list[Path]:
    """One ``<event_slug>.jsonl`` per event under ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    by_event: dict[str, list[dict]] = {}
    for record in corpus.records:
        by_event.setdefault(_event_slug(record), []).append(record)
    written = []
    for slug, records in sorted(by_event.items()):
        path = directory / f"{slug}.jsonl"
        write_jsonl(path, records)
        written.append(path)
    return written


def _event_slug(record: dict) -> str:
    slug = record.get("event_slug") or record["id"].split("/")[0]
    return re.sub(r"[^a-z0-9-]+", "-", slug.lower()).strip("-") or "misc"


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def changed_talks(corpus: Corpus, count: int = 10) -> list[dict]:
    """``count`` talks spread over the corpus, each with an edited title and summary (same ids)."""
    step = max(1, len(corpus.records) // count)
    changed = []
    for n, record in enumerate(corpus.records[::step][:count]):
        edited = dict(record)
        edited["title"] = f"{record['title']} (revised {n})"
        edited["summary"] = f"{record.get('summary', '')}\n\nUpdated: slides and errata added after the talk."
        changed.append(edited)
    return changed


def apply_changes(corpus: Corpus, changes: list[dict], directory: Path) -> Corpus:
    """Rewrite the content files that hold ``changes`` and return the corpus with them applied."""
    by_id = {c["id"]: c for c in changes}
    records = [by_id.get(r["id"], r) for r in corpus.records]
    touched = {_event_slug(c) for c in changes}
    for slug in touched:
        write_jsonl(directory / f"{slug}.jsonl", [r for r in records if _event_slug(r) == slug])
    return Corpus(corpus.name, records)


# --- synthetic French + English talks ---------------------------------------------------------------


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_TECH = _split(
    "python django flask fastapi asyncio numpy pandas scipy jupyter pytest docker kubernetes terraform ansible "
    "postgresql sqlite redis kafka rabbitmq celery graphql grpc webassembly rust cython pypy mypy typing "
    "tensorflow pytorch scikit-learn spark airflow dask polars arrow parquet elasticsearch whoosh tantivy "
    "lambda serverless opentelemetry prometheus grafana nginx uvicorn gunicorn sqlalchemy pydantic poetry "
    "micropython raspberry arduino matplotlib bokeh plotly streamlit htmx javascript typescript wagtail"
)
_TOPICS_EN = _split(
    "testing deployment packaging performance profiling concurrency security accessibility observability "
    "monitoring logging caching scaling migration refactoring documentation education community diversity "
    "mentoring hiring architecture microservices monoliths databases search indexing streaming pipelines "
    "visualisation statistics optimisation compilers interpreters debugging automation robotics astronomy "
    "genomics finance journalism accessibility internationalisation localisation typing contracts"
)
_TOPICS_FR = _split(
    "tests déploiement empaquetage performances profilage concurrence sécurité accessibilité observabilité "
    "supervision journalisation cache passage-à-l'échelle migration réusinage documentation enseignement "
    "communauté diversité mentorat recrutement architecture microservices bases-de-données recherche "
    "indexation flux traitement visualisation statistiques optimisation compilateurs interpréteurs débogage "
    "automatisation robotique astronomie génomique finance journalisme internationalisation typage"
)
_EN_TITLES = (
    "{tech} in production: lessons learned",
    "Scaling {tech} for {topic}",
    "A practical introduction to {topic} with {tech}",
    "What I wish I knew about {topic}",
    "{topic} without tears: {tech} and {tech2}",
    "Beyond the basics of {tech}",
    "From {tech} to {tech2}: a {topic} story",
    "Fast {topic} with {tech}",
)
_FR_TITLES = (
    "{tech} en production : retours d'expérience",
    "Introduction pratique à {topic} avec {tech}",
    "Ce que j'aurais aimé savoir sur {topic}",
    "De {tech} à {tech2} : une histoire de {topic}",
    "{topic} sans douleur avec {tech}",
    "Aller plus loin avec {tech}",
    "Améliorer {topic} grâce à {tech} et {tech2}",
)
_EN_SENTENCES = (
    "In this talk we look at how {tech} changes the way teams approach {topic}.",
    "We will walk through real examples from a codebase that grew from a prototype to millions of users.",
    "You will learn when {tech} is the right tool and when {tech2} is a better fit for {topic}.",
    "The speaker shares benchmarks, failures and the pitfalls nobody mentions in the documentation.",
    "We cover {topic}, {topic2} and the trade-offs between simplicity and speed.",
    "Attendees should know basic Python; no prior experience with {tech} is required.",
    "Finally we discuss how the community around {tech} handles {topic2} and where it is heading.",
    "Expect live demos, a few surprises and practical advice you can apply on Monday.",
)
_FR_SENTENCES = (
    "Dans cette présentation, nous verrons comment {tech} change notre façon d'aborder {topic}.",
    "Nous partirons d'exemples réels issus d'un projet passé du prototype à des millions d'utilisateurs.",
    "Vous apprendrez quand {tech} est le bon outil et quand {tech2} convient mieux pour {topic}.",
    "L'oratrice partage des mesures, des échecs et les pièges que la documentation ne mentionne jamais.",
    "Nous aborderons {topic}, {topic2} et les compromis entre simplicité et rapidité.",
    "Il suffit de connaître les bases de Python ; aucune expérience préalable de {tech} n'est nécessaire.",
    "Enfin, nous discuterons de la manière dont la communauté de {tech} gère {topic2} et de son avenir.",
    "Au programme : des démonstrations en direct, quelques surprises et des conseils applicables dès lundi.",
)
_FIRST = _split(
    "Alice Amélie Bruno Camille Chloé David Élodie Emma Fatou François Gaël Hugo Inès Jean Jérôme Karim Léa Lucas "
    "Manon Marc Nadia Noé Olivier Pauline Quentin Raphaël Sarah Sofia Thomas Valérie Yann Zoé Ada Ben Carlos "
    "Dana Ethan Fiona Grace Hiro Ivan Jane Kofi Liam Maya Nina Omar Priya Ravi Sam Tara Uma Victor Wei Yuki"
)
_LAST = _split(
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefèvre Michel Garcia "
    "David Bertrand Roux Vincent Fournier Morel Girard André Mercier Dupont Lambert Bonnet François Martinez "
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Moore Jackson White Harris Clark "
    "Lewis Walker Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Nguyen"
)
_EVENTS = (
    ("PyCon FR", "fr"), ("DjangoCong", "fr"), ("Montréal-Python", "fr"), ("PyParis", "fr"),
    ("EuroPython", "en"), ("PyCon US", "en"), ("DjangoCon Europe", "en"), ("PyData London", "en"),
    ("PyCon UK", "en"), ("SciPy", "en"), ("PyBay", "en"), ("PyCon AU", "en"),
)  # fmt: skip


def synthetic_records(count: int, seed: int = SYNTHETIC_SEED) -> Iterable[dict]:
    """``count`` deterministic talks: French at French events, mostly English elsewhere, 2012-2025."""
    rng = random.Random(seed)
    speakers = sorted({f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(max(50, count // 6))})
    for n in range(count):
        event, event_lang = _EVENTS[rng.randrange(len(_EVENTS))]
        year = 2012 + rng.randrange(14)
        lang = event_lang if rng.random() < 0.9 else ("en" if event_lang == "fr" else "fr")
        titles, sentences, topics = (
            (_FR_TITLES, _FR_SENTENCES, _TOPICS_FR) if lang == "fr" else (_EN_TITLES, _EN_SENTENCES, _TOPICS_EN)
        )
        words = {
            "tech": rng.choice(_TECH),
            "tech2": rng.choice(_TECH),
            "topic": rng.choice(topics).replace("-", " "),
            "topic2": rng.choice(topics).replace("-", " "),
        }
        title = rng.choice(titles).format(**words)
        title = title[0].upper() + title[1:]
        summary = " ".join(s.format(**words) for s in rng.sample(sentences, rng.randint(3, 6)))
        slug = f"{event.lower().replace(' ', '-').replace('é', 'e')}-{year}"
        yield {
            "id": f"{slug}/talk-{n:06d}",
            "title": title,
            "speakers": rng.sample(speakers, 1 if rng.random() < 0.85 else 2),
            "event": f"{event} {year}",
            "event_slug": slug,
            "date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "language": {"fr": "fra", "en": "eng"}[lang],
            "tags": rng.sample(_TECH, rng.randint(0, 3)),
            "summary": summary,
            "url": f"https://video.example.org/{slug}/{n}",
            "duration": rng.randint(900, 3600),
        }
