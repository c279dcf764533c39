"""What the page's browser tests share: the content they search, the stack and browser they run on,
and the helpers that drive the page (tests/test_page_browser.py, tests/test_page_layout.py).

The stack (devstack.start_stack) runs the real rebuild and search handlers against moto's S3 server,
over a temporary content folder that includes hostile content. Each test module starts its own stack
and Chromium through the generators below, wrapped in its own module-scoped fixtures.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from moto.moto_api._internal.models import moto_api_backend
from playwright.sync_api import sync_playwright

from bench.page import CHROMIUM as CHROMIUM_PATH
from bench.page import CHROMIUM_ARGS
from devstack import start_stack

CHROMIUM = Path(CHROMIUM_PATH)
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"needs Debian's Chromium at {CHROMIUM} (`make chromium` installs it)"
    ),
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}
TIMEOUT_MS = 15_000

HOSTILE_TITLE = "<img src=x onerror=alert(1)>"
HOSTILE_TALK = {
    "id": "hostile/xss",
    "title": HOSTILE_TITLE,
    "speakers": ["<script>alert('speaker')</script>"],
    "company": '"><svg onload=alert(2)>',
    "event": "Evil <b>Conf</b>",
    "date": "2015-03-01",
    "language": "en",
    "tags": ["<i>tag</i>"],
    "summary": "Un piratage : <img src=x onerror=alert(3)> et <script>alert(4)</script> & {{7*7}}",
    "url": "javascript:alert(5)",
}

#: (title, speakers separated by ", ", company, event, date, language, summary)
TALKS = [
    (
        "Déployer Kubernetes sans douleur",
        "Zoé Martin",
        "Scaleway",
        "PyCon FR 2019",
        "2019-11-02",
        "fr",
        "Retour d'expérience sur le déploiement de conteneurs avec Kubernetes et Helm en production.",
    ),
    (
        "Kubernetes operators in Python",
        "Alice Smith",
        "Red Hat",
        "EuroPython 2021",
        "2021-07-28",
        "en",
        "Writing Kubernetes operators with kopf: reconcile loops, retries and testing.",
    ),
    (
        "Observabilité avec OpenTelemetry",
        "Lionel Porcheron",
        "Datadog",
        "PyCon FR 2019",
        "2019-11-03",
        "fr",
        "Traces, métriques et journaux : instrumenter une application Django sur Kubernetes.",
    ),
    (
        "Asyncio en pratique",
        "Pierre Dupont",
        "Doctolib",
        "PyCon FR 2023",
        "2023-10-29",
        "fr",
        "Boucles d'événements, tâches et annulation : les pièges d'asyncio et comment les éviter.",
    ),
    (
        "Typage statique avec mypy",
        "Camille Durand",
        "Mozilla",
        "DjangoCon Europe 2022",
        "2022-09-21",
        "fr",
        "Annoter progressivement une grande base de code Python et en tirer profit.",
    ),
    (
        "Django et PostgreSQL : le bon ménage",
        "Zoé Martin",
        "Scaleway",
        "DjangoCon Europe 2022",
        "2022-09-22",
        "fr",
        "Index partiels, recherche plein texte et verrous : tirer parti de PostgreSQL depuis Django.",
    ),
    (
        "Rust pour les pythonistes",
        "Hugo Bernard",
        "Mozilla",
        "PyCon FR 2023",
        "2023-10-28",
        "fr",
        "PyO3 et maturin : écrire des extensions Python rapides et sûres en Rust.",
    ),
    (
        "Data pipelines with Polars",
        "Bob Jones",
        "Quansight",
        "EuroPython 2021",
        "2021-07-29",
        "en",
        "Lazy frames, streaming and why Polars is fast for data engineering in Python.",
    ),
    (  # a long title, two speakers: the suggestions and meta lines of a phone must cope
        "Quarante services migrés vers une architecture orientée événements sans jamais arrêter la production",
        "Léa Rousseau, Marc-Antoine Lefebvre-Duval",
        "Granit Énergie",
        "PyCon FR 2018",
        "2018-10-15",
        "fr",
        "Découpage progressif, files de messages et observabilité : le récit d'une migration sans coupure.",
    ),
]
#: Generic workshops, so that "atelier" has more than one page of results.
WORKSHOPS = [
    (
        f"Atelier Python numéro {n}",
        f"Formateur {n % 4}",
        "AFPy",
        f"Meetup AFPy {2016 + n % 4}",
        f"{2016 + n % 4}-10-{n:02d}",
        "fr",
        f"Atelier pratique {n} : tests, packaging et bonnes pratiques Python.",
    )
    for n in range(1, 31)
]


def content_records() -> list[dict]:
    fields = ("title", "speakers", "company", "event", "date", "language", "summary")
    records = []
    for n, row in enumerate(TALKS + WORKSHOPS, 1):
        record = dict(zip(fields, row, strict=True))
        record["speakers"] = record["speakers"].split(", ")
        record["id"] = f"talks/{n:02d}"
        record["url"] = f"https://talks.example/videos/{n}"
        records.append(record)
    return [*records, HOSTILE_TALK]


TOTAL_TALKS = len(TALKS) + len(WORKSHOPS) + 1


class WatchedPage:
    """A page plus everything it reported: console messages, uncaught errors, dialogs."""

    def __init__(self, page) -> None:
        self.page = page
        self.console: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_clean(self) -> None:
        assert self.dialogs == [], "a dialog opened: something executed"
        assert self.errors == [], "uncaught errors in the page"
        assert self.console == [], f"the console is not empty: {self.console}"


def save_screenshot(page, docs_png: Path, tmp_path: Path) -> None:
    """A picture of ``page`` for the docs: written to ``docs_png`` only when asked (``TALKSEARCH_SCREENSHOT=1``,
    which ``make screenshot`` sets), else under ``tmp_path``, so a test run leaves the tree as it was."""
    target = docs_png if os.environ.get("TALKSEARCH_SCREENSHOT") == "1" else tmp_path / docs_png.name
    page.screenshot(path=str(target))
    assert target.stat().st_size > 10_000


def running_stack(tmp_path_factory, allowed_origins: str = "") -> Iterator:
    """The local stack over content_records(), for a module-scoped ``stack`` fixture; ``allowed_origins`` may
    call its API from their pages."""
    # moto keeps buckets per process: forget any a previous test module left behind, as the stack's own
    # stop() does, so that creating the stack's buckets cannot collide with them
    moto_api_backend.reset()
    content = tmp_path_factory.mktemp("page-content")
    (content / "talks.json").write_text(json.dumps({"talks": content_records()}, ensure_ascii=False), "utf-8")
    running = start_stack(content, log=lambda line: None, allowed_origins=allowed_origins)
    yield running
    running.stop()


def launched_browser() -> Iterator:
    """Debian's Chromium, with its scrollbars (Playwright hides them by default; visitors see them)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, ignore_default_args=["--hide-scrollbars"]
        )
        yield launched
        launched.close()


def open_page(browser, viewport=DESKTOP, **context_options) -> WatchedPage:
    context = browser.new_context(viewport=viewport, **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    return WatchedPage(context.new_page())


def visit(watched: WatchedPage, stack, query_string: str = "") -> None:
    watched.page.goto(stack.url + query_string)
    wait_for_results(watched.page)


def wait_for_results(page) -> None:
    """Until a search has been rendered and no request is in flight."""
    page.wait_for_function(
        "() => document.querySelector('[data-testid=count]').textContent !== ''"
        " && document.querySelector('#results-view').getAttribute('aria-busy') === 'false'"
    )


def shown_count(page) -> int:
    return int(re.sub(r"\D", "", page.get_by_test_id("count").inner_text()))


def url_params(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def type_query(page, text: str, *, leave: bool = True) -> None:
    """Type into the search box like a person, wait for that query's results, then (``leave``) move on
    so the suggestions close."""
    box = page.locator("input[type=search]")
    box.fill("")
    box.press_sequentially(text, delay=20)
    page.wait_for_function("q => new URLSearchParams(location.search).get('q') === q", arg=text.strip())
    wait_for_results(page)
    if leave:
        box.blur()
        page.locator("#suggestions").wait_for(state="hidden")


def hit_titles(page) -> list[str]:
    return page.locator("[data-testid=hit] h3").all_inner_texts()


def facet_box(page, facet: str, value: str):
    return page.locator(f"fieldset[data-facet={facet}] label").filter(has_text=value).locator("input")


def focused(page, script: str):
    return page.evaluate(f"() => {{ const el = document.activeElement; return {script}; }}")
