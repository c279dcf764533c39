"""Shared pieces of the search tests: a small FR/EN talk collection, HTTP API v2 events, handler calls."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from urllib.parse import quote

EVENTS = Path(__file__).parent / "events" / "search"


def _talk(talk_id, title, speakers, event, date, language, tags, summary, company=""):
    return {
        "id": talk_id,
        "title": title,
        "speakers": speakers,
        "event": event,
        "date": date,
        "language": language,
        "tags": tags,
        "summary": summary,
        "company": company,
        "url": f"https://video.example.org/{talk_id}",
    }


TALKS = [
    _talk(
        "pycon-fr-2019/introduction-a-kubernetes",
        "Introduction à Kubernetes",
        ["Élodie Martin"],
        "PyCon FR 2019",
        "2019-11-02",
        "fra",
        ["kubernetes", "devops"],
        "Le déploiement d'applications Python sur Kubernetes : conteneurs, pods et services. "
        "Nous verrons comment orchestrer des conteneurs en production.",
        company="Acme Corp",
    ),
    _talk(
        "europython-2020/kubernetes-for-python-developers",
        "Kubernetes for Python developers",
        ["John Smith"],
        "EuroPython 2020",
        "2020-07-23",
        "eng",
        ["kubernetes"],
        "Deploying Python web applications on Kubernetes clusters, with containers and Helm charts.",
        company="Initech",
    ),
    _talk(
        "europython-2019/asyncio-in-depth",
        "asyncio in depth",
        ["Jane Doe"],
        "EuroPython 2019",
        "2019-07-10",
        "eng",
        ["asyncio"],
        "Event loops, coroutines and tasks: how asyncio schedules your code.",
    ),
    _talk(
        "pycon-fr-2020/programmation-asynchrone",
        "Programmation asynchrone avec asyncio",
        ["Élodie Martin", "Jean Dupont"],
        "PyCon FR 2020",
        "2020-10-10",
        "fra",
        [],
        "Les coroutines et la boucle d'événements d'asyncio expliquées simplement, sans jargon.",
        company="Acme Corp",
    ),
    _talk(
        "pydata-paris-2019/machine-learning-scikit-learn",
        "Machine learning with scikit-learn",
        ["Jane Doe"],
        "PyData Paris 2019",
        "2019-06-12",
        "eng",
        ["machine learning"],
        "A practical introduction to machine learning: models, pipelines and cross-validation with scikit-learn.",
    ),
    _talk(
        "pycon-fr-2019/reseaux-de-neurones",
        "Les réseaux de neurones pour les nuls",
        ["Jean Dupont"],
        "PyCon FR 2019",
        "2019-11-03",
        "fra",
        [],
        "Un réseau de neurones apprend à partir de données. Apprentissage automatique et machine learning "
        "expliqués avec des exemples.",
    ),
    _talk(
        "djangocon-2018/testing-django",
        "Testing Django applications",
        ["John Smith"],
        "DjangoCon 2018",
        "2018-10-15",
        "eng",
        ["django", "testing"],
        "Unit tests, integration tests and fixtures for Django projects.",
    ),
    _talk(
        "djangocon-2018/django-rest-framework",
        "Building APIs with Django REST framework",
        ["Chu, Hua-Rong"],
        "DjangoCon 2018",
        "2018-10-16",
        "eng",
        ["django", "api"],
        "Serializers, viewsets and routers: building a REST API with Django.",
    ),
    _talk(
        "pycon-fr-2019/cartographie-avec-geopandas",
        "Cartographie avec GeoPandas",
        ["Gaël Varoquaux"],
        "PyCon FR 2019",
        "2019-11-02",
        "fra",
        ["gis"],
        "Créer des cartes et manipuler des données géographiques avec GeoPandas et Shapely.",
    ),
    _talk(
        "europython-2019/container-orchestration-explained",
        "Container orchestration explained",
        ["Ondřej Čertík"],
        "EuroPython 2019",
        "2019-07-11",
        "eng",
        [],
        "Why containers need orchestration: schedulers, service discovery and rolling deployments.",
    ),
    _talk(
        "pycon-us-2017/escaping-script-and-friends",
        "Escaping <script> & friends",
        ["Mallory"],
        "PyCon US 2017",
        "2017-05-20",
        "eng",
        ["security"],
        "Never trust <script>alert('xss')</script> input & always escape output. Security of templates.",
    ),
    _talk(
        "pycon-us-2017/machine-learning-for-the-web",
        "Machine learning for the web",
        ["Jane Doe", "John Smith"],
        "PyCon US 2017",
        "2017-05-21",
        "eng",
        [],
        "Serving machine learning models behind a web API, from notebook to production.",
    ),
    _talk(
        "pycon-us-2017/learning-machine-code",
        "Learning machine code",
        ["Alex Turing"],
        "PyCon US 2017",
        "2017-05-22",
        "eng",
        [],
        "Assembly and machine code for Python programmers: learning how processors execute instructions.",
    ),
] + [
    _talk(
        f"pycon-us-2016/python-packaging-tips-{n}",
        f"Python packaging tips, part {n}",
        [f"Speaker {n}"],
        "PyCon US 2016",
        f"2016-05-{n + 1:02d}",
        "eng" if n % 3 else "spa",
        ["packaging"],
        "Packaging Python projects with wheels, pip and virtual environments. Testing the release before upload.",
    )
    for n in range(1, 21)
]
#: a talk without a date or language, to check those are optional everywhere
TALKS.append(
    _talk("misc/undated-talk", "An undated lightning talk", [], "Misc", None, None, [], "Short talk about Python.")
)

ID = {talk["title"]: talk["id"] for talk in TALKS}
#: A talk not in TALKS: what a later build adds.
NEW_TALK = {
    "id": "pycon-fr-2025/zeppelins",
    "title": "Des zeppelins et du Python",
    "speakers": ["Anne Onyme"],
    "event": "PyCon FR 2025",
    "date": "2025-10-31",
    "language": "fra",
    "tags": [],
    "summary": "Piloter un zeppelin avec MicroPython.",
    "url": "https://video.example.org/zeppelins",
}


def write_content(directory: Path, talks: list[dict] | None = None) -> Path:
    """Write talks as one JSONL content file (the builder's JsonLinesTalkParser reads it)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "talks.jsonl", "w", encoding="utf-8") as f:
        for talk in talks or TALKS:
            f.write(json.dumps(talk, ensure_ascii=False) + "\n")
    return directory


def http_event(path: str, query: str = "", *, method: str = "GET", headers: dict | None = None) -> dict:
    """A real HTTP API v2 event (from tests/events/search) for this request."""
    event = copy.deepcopy(json.loads((EVENTS / "get_search.json").read_text(encoding="utf-8")))
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["rawQueryString"] = query
    # API Gateway's own (lossy) decoding: repeated parameters joined with commas
    pairs: dict[str, list[str]] = {}
    from urllib.parse import parse_qsl

    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        pairs.setdefault(name, []).append(value)
    if pairs:
        event["queryStringParameters"] = {name: ",".join(values) for name, values in pairs.items()}
    else:
        event.pop("queryStringParameters", None)
    event["headers"] = {k: v for k, v in event["headers"].items() if k != "origin"}
    event["headers"].update(headers or {})
    return event


def query_string(**params: object) -> str:
    """``a=1&b=x&b=y`` from keyword arguments (lists repeat the parameter)."""
    parts = []
    for name, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(f"{quote(name)}={quote(str(item), safe='')}")
    return "&".join(parts)


def call(handler, event: dict, context) -> tuple[int, dict, dict | None]:
    """(status, lower-cased headers, parsed JSON body or None) of one handler invocation."""
    response = handler(event, context)
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    raw = response.get("body") or ""
    body = json.loads(raw) if raw else None
    return response["statusCode"], headers, body


def boto3_modules(names: list[str]) -> list[str]:
    """The modules of boto3, s3transfer and botocore a process loaded, but botocore's bare package: Powertools
    imports that (0.8 ms) to tag the user agent of clients the function never creates."""
    return [name for name in names if name.split(".")[0] in ("boto3", "s3transfer") or name.startswith("botocore.")]
