"""The <talk-search> widget on another site's page, in a real browser over the real local stack.

The host page is a plain blog page served from another port (another origin) with the strictest useful
Content-Security-Policy: the widget's origin alone for scripts, styles and connections, nothing inline,
nothing else. The stack is started with that origin in ALLOWED_ORIGINS, as `make dev` would be, and
searches the content of tests/page_support.py (hostile talk included). Every test ends by checking that
no dialog opened, no error was thrown and the console stayed empty (a CSP or CORS refusal would be one).
"""

from __future__ import annotations

import contextlib
import html
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError

from bench.page import FRONTEND, gzipped_size, widget_files
from tests.page_support import (
    BROWSER_MARKS,
    HOSTILE_TITLE,
    WatchedPage,
    launched_browser,
    open_page,
    running_stack,
    save_screenshot,
)

pytestmark = BROWSER_MARKS
ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / ".cache" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOT = ROOT / "docs" / "widget.png"
#: issue 15: at most 15 kB gzipped with its styles, everything it loads counted (1 kB = 1,000 bytes here)
BUDGET_BYTES = 15_000
KUBERNETES_TITLES = {"Déployer Kubernetes sans douleur", "Kubernetes operators in Python"}
SOURCE = "https://talks.example/videos/"


class BlogSite:
    """A blog on its own origin, whose page embeds the widget of ``widget_origin``.

    ``/?size=3&facets=`` gives the element those attributes (``api`` and ``lang`` have defaults); ``scheme=dark``
    adds ``<meta name="color-scheme" content="dark">``, the one way such a page can ask for a dark widget.
    """

    def __init__(self) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.widget_origin = ""

    @property
    def policy(self) -> str:
        widget = self.widget_origin
        return (
            f"default-src 'none'; script-src {widget}; style-src {widget}; connect-src {widget}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )

    def page(self, query: str) -> bytes:
        params = dict(parse_qsl(query, keep_blank_values=True))
        scheme = params.pop("scheme", "")
        attributes = {"api": f"{self.widget_origin}/api", "lang": "fr", **params}
        element = " ".join(f'{name}="{html.escape(value)}"' for name, value in attributes.items())
        meta = f'<meta name="color-scheme" content="{html.escape(scheme)}">' if scheme else ""
        return f"""<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{meta}
<title>Carnet de conférences</title>
<script type="module" src="{self.widget_origin}/widget/talksearch.js"></script>
</head>
<body>
<h1>Carnet de conférences</h1>
<p>Mes notes de talks, de PyCon FR à EuroPython. Cherchez un sujet, un nom, un événement :</p>
<talk-search {element}></talk-search>
<p id="after">La suite du billet, sous le champ de recherche.</p>
</body>
</html>""".encode()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != "/":
                    self.send_error(404)
                    return
                body = site.page(url.query)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Security-Policy", site.policy)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> BlogSite:
        threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def blog() -> Iterator[BlogSite]:
    with BlogSite() as site:
        yield site


@pytest.fixture(scope="module")
def stack(tmp_path_factory, blog) -> Iterator:
    # GIVEN the local stack started with the blog's origin in ALLOWED_ORIGINS, as `make dev` takes it
    for running in running_stack(tmp_path_factory, allowed_origins=blog.origin):
        blog.widget_origin = running.url.rstrip("/")
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator:
    yield from launched_browser()


@pytest.fixture
def watched(browser) -> Iterator[WatchedPage]:
    page = open_page(browser, viewport={"width": 960, "height": 720})
    # the talks' own pages are elsewhere on the web: answer them here
    page.page.route(f"{SOURCE}*", lambda route: route.fulfill(body="<title>the talk</title>", content_type="text/html"))
    yield page
    page.page.context.close()


def visit(watched: WatchedPage, blog: BlogSite, query: str = "") -> None:
    watched.page.goto(f"{blog.origin}/?{query}")
    widget(watched.page, "[type=search]").wait_for()


def widget(page, selector: str):
    """A locator inside the widget (Playwright's CSS pierces its open shadow root)."""
    return page.locator(f"talk-search {selector}")


def type_query(page, text: str) -> None:
    """Type into the widget's box like a person, until that query's results are on screen."""
    box = widget(page, "[type=search]")
    box.fill("")
    box.press_sequentially(text, delay=20)
    page.wait_for_function(
        """q => {
          const root = document.querySelector('talk-search').shadowRoot;
          const panel = root.querySelector('.panel');
          return !panel.hidden && panel.getAttribute('aria-busy') !== 'true'
            && root.querySelector('[role=status]').textContent.includes(q);
        }""",
        arg=text.strip(),
    )


def hit_titles(page) -> list[str]:
    return widget(page, "[data-testid=hit] h3").all_inner_texts()


def focused_text(page) -> str | None:
    """The text of what has focus inside the widget (None: focus is elsewhere)."""
    return page.evaluate("() => document.querySelector('talk-search').shadowRoot.activeElement?.textContent ?? null")


def panel_hidden(page) -> bool:
    return page.evaluate("() => document.querySelector('talk-search').shadowRoot.querySelector('.panel').hidden")


# --- searching --------------------------------------------------------------------------------------


def test_the_page_really_has_the_strict_policy(stack, blog, watched):
    response = watched.page.goto(f"{blog.origin}/")
    policy = response.headers["content-security-policy"]
    assert "unsafe" not in policy and "'self'" not in policy
    for directive in ("script-src", "style-src", "connect-src"):
        assert re.search(rf"{directive} {re.escape(blog.widget_origin)};", policy)
    assert blog.origin != blog.widget_origin


def test_typing_shows_highlighted_results_from_the_other_origin(stack, blog, watched):
    page = watched.page
    api_origins = []
    page.on(
        "response",
        lambda r: "/api/search" in r.url and api_origins.append(r.headers.get("access-control-allow-origin")),
    )
    visit(watched, blog)
    # WHEN the visitor types a word into the widget
    type_query(page, "kubernetes")
    # THEN the talks that mention it are listed, the word highlighted, and the API allowed this page's origin
    assert set(hit_titles(page)) >= KUBERNETES_TITLES
    marks = widget(page, "[data-testid=hit] mark").all_inner_texts()
    assert marks and all(mark.lower().startswith("kubernetes") for mark in marks)
    assert api_origins and set(api_origins) == {blog.origin}
    first = widget(page, "[data-testid=hit]").filter(has_text="Déployer Kubernetes sans douleur")
    meta = first.locator(".meta").inner_text()
    assert "Zoé Martin" in meta and "PyCon FR 2019" in meta and "2 novembre 2019" in meta
    # a result links to where the talk was published
    assert first.locator("h3 a").get_attribute("href").startswith(SOURCE)
    # the count is visible, and a live region says it to screen readers
    count = int(re.sub(r"\D", "", widget(page, ".count").inner_text()))
    assert count >= 3
    status = widget(page, "[role=status]")
    assert status.get_attribute("aria-live") == "polite"
    assert status.inner_text() == f"{count} résultats pour « kubernetes »"
    # the results lie over the page: the text under the widget has not moved
    after = page.locator("#after").bounding_box()
    assert after["y"] < widget(page, ".panel").bounding_box()["y"] + 100
    watched.assert_clean()


def test_the_keyboard_moves_through_the_results_opens_one_and_esc_closes(stack, blog, watched):
    page = watched.page
    visit(watched, blog)
    widget(page, "[type=search]").focus()
    type_query(page, "kubernetes")
    titles = hit_titles(page)
    # ↓ from the box to the first result, ↓ to the next, ↑ back, ↑ to the box
    page.keyboard.press("ArrowDown")
    assert focused_text(page) == titles[0]
    page.keyboard.press("ArrowDown")
    assert focused_text(page) == titles[1]
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("() => document.querySelector('talk-search').shadowRoot.activeElement.type") == "search"
    # Esc on a result closes the results and goes back to the box; Esc again clears the query
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    assert panel_hidden(page)
    assert widget(page, "[type=search]").input_value() == "kubernetes"
    page.keyboard.press("Escape")
    assert widget(page, "[type=search]").input_value() == ""
    # typing again opens them; Enter on a result opens the talk where it was published
    type_query(page, "kubernetes")
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.startswith(SOURCE)
    watched.assert_clean()


def test_opening_a_result_tells_the_api_which_talk_the_query_found(stack, blog, watched):
    page = watched.page
    visit(watched, blog, "size=1")
    type_query(page, "douleur")
    reports = []
    page.on("request", lambda r: "/api/opened?" in r.url and reports.append(r.url))
    # WHEN the visitor opens a result THEN the widget's API hears of it (the query and the talk), even as the
    # page leaves for the talk's own
    with page.expect_request(lambda r: "/api/opened?" in r.url) as report, page.expect_navigation():
        widget(page, "[data-testid=hit] h3 a").click()
    assert report.value.url.startswith(f"{blog.widget_origin}/api/opened?")
    assert urlsplit(report.value.url).query == "q=douleur&talk=talks%2F01"
    assert page.url.startswith(SOURCE)
    # "see all results" is no result: no report
    page.go_back()
    type_query(page, "atelier")
    with page.expect_navigation():
        widget(page, "a.more").click()
    assert len(reports) == 1
    watched.assert_clean()


def test_tab_out_or_a_click_elsewhere_closes_the_results(stack, blog, watched):
    page = watched.page
    visit(watched, blog)
    type_query(page, "rust")
    page.locator("h1").click()
    page.wait_for_function("() => document.querySelector('talk-search').shadowRoot.querySelector('.panel').hidden")
    # a click back into the box shows them again; a click on a result's text keeps them
    widget(page, "[type=search]").click()
    assert not panel_hidden(page)
    widget(page, ".snippet").first.click()
    page.wait_for_timeout(100)
    assert not panel_hidden(page)
    watched.assert_clean()


def test_a_slow_answer_never_replaces_a_newer_one(stack, blog, watched):
    page = watched.page
    visit(watched, blog)
    held = []

    def hold_the_first_asyncio_search(route):
        if "q=asyncio" in route.request.url and not held:
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/search?*", hold_the_first_asyncio_search)
    widget(page, "[type=search]").press_sequentially("asyncio", delay=20)
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(25)
    assert held, "the first search never started"
    # WHEN the query changes while the first answer is on its way, AND that answer arrives late
    type_query(page, "rust")
    with contextlib.suppress(PlaywrightError):  # the widget had already aborted it
        held[0].continue_()
    page.wait_for_timeout(500)
    # THEN the newer query's results stay
    assert hit_titles(page)[0] == "Rust pour les pythonistes"
    page.unroute("**/api/search?*")
    watched.assert_clean()


def test_did_you_mean_searches_for_the_correction(stack, blog, watched):
    page = watched.page
    visit(watched, blog)
    type_query(page, "kubernets")
    link = widget(page, "[data-testid=did-you-mean]")
    # a real link to the same search on the search page (a new tab shows it there)
    assert link.get_attribute("href") == f"{stack.url}?q=kubernetes"
    link.click()
    page.wait_for_function(
        "() => document.querySelector('talk-search').shadowRoot.querySelector('[role=status]').textContent"
        ".includes('« kubernetes »')"
    )
    assert widget(page, "[type=search]").input_value() == "kubernetes"
    assert widget(page, "[data-testid=did-you-mean]").count() == 0
    assert focused_text(page) is not None, "the keyboard left the widget"
    watched.assert_clean()


def test_a_query_in_the_other_language_says_what_it_also_searched_and_offers_the_exact_words(stack, blog, watched):
    page = watched.page
    searched = []
    page.on("request", lambda r: "/api/search?" in r.url and searched.append(parse_qs(urlsplit(r.url).query)))
    visit(watched, blog)
    # WHEN the visitor types an English word that the French talks say in French
    type_query(page, "containers")
    # THEN the French talk is found, its French word highlighted, and the widget says what it also searched
    assert "Déployer Kubernetes sans douleur" in hit_titles(page)
    assert "conteneurs" in widget(page, "[data-testid=hit] mark").all_inner_texts()
    line = widget(page, "[data-testid=also-searched]").inner_text()
    assert line.startswith("Aussi cherché") and "conteneur" in line and "Seulement les mots exacts" in line
    # WHEN they ask for the exact words only THEN the widget searches again with exact=1 (a real link to the
    # same search on the search page), the translation's talk goes, and the way back is offered
    switch = widget(page, "[data-testid=exact-switch]")
    assert switch.get_attribute("href") == f"{stack.url}?q=containers&exact=1"
    switch.click()
    page.wait_for_function(
        "() => document.querySelector('talk-search').shadowRoot.querySelector('[data-testid=also-searched]')"
        "?.textContent.startsWith('Mots exacts seulement')"
    )
    assert searched[-1].get("exact") == ["1"]
    assert "Déployer Kubernetes sans douleur" not in hit_titles(page)
    assert focused_text(page) is not None, "the keyboard left the widget"
    # WHEN they take the way back THEN the translations are searched again
    widget(page, "[data-testid=exact-switch]").click()
    page.wait_for_function(
        "() => document.querySelector('talk-search').shadowRoot.querySelector('[data-testid=also-searched]')"
        "?.textContent.startsWith('Aussi cherché')"
    )
    assert "exact" not in searched[-1]
    assert "Déployer Kubernetes sans douleur" in hit_titles(page)
    # the switch was about that query: a new one searches its translations
    widget(page, "[data-testid=exact-switch]").click()
    page.wait_for_function(
        "() => document.querySelector('talk-search').shadowRoot.querySelector('[data-testid=also-searched]')"
        "?.textContent.startsWith('Mots exacts seulement')"
    )
    type_query(page, "kubernetes")
    assert searched[-1]["q"] == ["kubernetes"] and "exact" not in searched[-1]
    watched.assert_clean()


def test_see_all_results_on_the_search_page(stack, blog, watched):
    page = watched.page
    visit(watched, blog, "size=3")
    type_query(page, "atelier")
    assert len(hit_titles(page)) == 3
    more = widget(page, "a.more")
    assert more.inner_text() == "Voir les 30 résultats sur la page de recherche"
    with page.expect_navigation():
        more.click()
    assert page.url == f"{stack.url}?q=atelier"
    page.get_by_test_id("count").filter(has_text="30").wait_for()
    watched.assert_clean()


def test_facets_named_by_the_attribute_filter_the_results(stack, blog, watched):
    page = watched.page
    visit(watched, blog, "facets=event lang")
    type_query(page, "kubernetes")
    widget(page, "fieldset[data-facet]").first.wait_for()
    assert widget(page, "fieldset[data-facet]").evaluate_all("els => els.map((e) => e.dataset.facet)") == [
        "event",
        "lang",
    ]
    widget(page, "fieldset[data-facet=lang] label").filter(has_text="anglais").locator("input").check()
    page.wait_for_function(
        "() => [...document.querySelector('talk-search').shadowRoot.querySelectorAll('.badge')]"
        ".every((b) => b.textContent === 'EN')"
    )
    assert hit_titles(page) == ["Kubernetes operators in Python"]
    watched.assert_clean()


def test_the_widget_speaks_english_when_asked(stack, blog, watched):
    page = watched.page
    visit(watched, blog, "lang=en&placeholder=Find a talk")
    assert widget(page, "[type=search]").get_attribute("placeholder") == "Find a talk"
    assert page.get_by_label("Search talks").get_attribute("type") == "search"
    type_query(page, "polars")
    assert widget(page, ".count").inner_text() == "1 result"
    assert widget(page, "[role=status]").inner_text() == "1 result for “polars”"
    # the host page's own language is left alone
    assert page.evaluate("document.documentElement.lang") == "fr"
    watched.assert_clean()


def test_an_unreachable_api_is_reported_and_retried(stack, blog, watched):
    page = watched.page
    visit(watched, blog)
    page.route("**/api/search?*", lambda route: route.abort())
    widget(page, "[type=search]").press_sequentially("django", delay=20)
    alert = widget(page, "[role=alert]")
    alert.wait_for()
    assert "injoignable" in alert.inner_text()
    page.unroute("**/api/search?*")
    alert.get_by_role("button", name="Réessayer").click()
    widget(page, "[data-testid=hit]").first.wait_for()
    assert all("ERR_FAILED" in line for line in watched.console)
    watched.console.clear()
    watched.assert_clean()


# --- safety -----------------------------------------------------------------------------------------

HOSTILE_QUERIES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "{{constructor.constructor('alert(1)')()}}",
    'speaker: event: (( "unbalanced',
    "\u202eevil \u05e9\u05dc\u05d5\u05dd 🎤",
]
#: elements that markup in the content or the query would have planted in the widget
PLANTED = ", ".join(f"talk-search {tag}" for tag in ("img", "script", "svg", "b", "i", "iframe"))


def test_hostile_content_is_shown_as_text_and_runs_nothing(stack, blog, watched):
    page = watched.page
    visit(watched, blog)
    type_query(page, "piratage")
    hit = widget(page, "[data-testid=hit]").filter(has_text=HOSTILE_TITLE)
    assert hit.locator("h3").inner_text() == HOSTILE_TITLE
    assert "<script>alert('speaker')</script>" in hit.locator(".meta").inner_text()
    assert "<img src=x onerror=alert(3)>" in hit.locator(".snippet").inner_text()
    assert page.locator(PLANTED).count() == 0
    # its javascript: URL is no link: the title opens the talk on the search page instead
    href = hit.locator("h3 a").get_attribute("href")
    assert href.startswith(f"{stack.url}?q=piratage&talk=hostile")
    for query in HOSTILE_QUERIES:
        type_query(page, query)
        assert page.locator(PLANTED).count() == 0
    watched.assert_clean()


# --- accessibility, weight, picture -----------------------------------------------------------------


@pytest.mark.skipif(not AXE.exists(), reason=f"needs axe-core at {AXE} (`make axe-core` installs it from npm)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_in_the_widget(stack, blog, browser, scheme):
    watched = open_page(browser, color_scheme=scheme)
    page = watched.page
    page.context.add_init_script(path=str(AXE))
    found = {}

    def check(state: str) -> None:
        page.wait_for_timeout(100)
        found[state] = page.evaluate(
            """async () => {
              const result = await axe.run(document.querySelector('talk-search'), { resultTypes: ['violations'] });
              return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
            }"""
        )

    try:
        visit(watched, blog, f"scheme={'light dark' if scheme == 'dark' else 'light'}&facets=")
        check("empty")
        type_query(page, "kubernets")
        widget(page, "fieldset[data-facet]").first.wait_for()
        check("results, did you mean, facets")
        type_query(page, "zzzqqq")
        check("no results")
        assert found == {state: [] for state in found}
        # (no console check here: axe-core's own inline styles are what this page's policy refuses)
    finally:
        page.context.close()


def fetched_from_the_widget_origin(browser, blog: BlogSite, query: str) -> dict[str, int]:
    """Path -> gzipped body bytes of everything Chromium fetched from the widget's origin (the API aside) while the
    blog's page loaded and a search was typed."""
    watched = open_page(browser)
    page = watched.page
    fetched: dict[str, int] = {}

    def count(request) -> None:
        if request.url.startswith(blog.widget_origin) and "/api/" not in request.url:
            fetched[urlsplit(request.url).path] = request.sizes()["responseBodySize"]

    page.on("requestfinished", count)
    try:
        visit(watched, blog, query)
        type_query(page, "kubernetes")
        page.wait_for_load_state("networkidle")
        watched.assert_clean()
    finally:
        page.context.close()
    return fetched


def served(files) -> dict[str, int]:
    return {f"/{path.relative_to(FRONTEND).as_posix()}": gzipped_size(path) for path in files}


def test_the_widget_loads_only_what_bench_page_counts(stack, blog, browser):
    # WHEN a page loads the two-line snippet and searches THEN Chromium fetched exactly the files
    # bench.page.widget_files lists, without those loaded on demand, at the sizes it counts
    fetched = fetched_from_the_widget_origin(browser, blog, "")
    assert fetched == served(path for path, on_demand in widget_files().items() if not on_demand)


def test_with_facets_it_loads_at_most_15_kB_gzipped_everything_counted(stack, blog, browser):
    # the largest configuration: facets on, so every file the widget can load, its stylesheet included
    fetched = fetched_from_the_widget_origin(browser, blog, "facets=")
    assert fetched == served(widget_files())
    assert {path for path, on_demand in widget_files().items() if on_demand} == {
        FRONTEND / "js" / "components" / "facets.js"
    }
    assert sum(fetched.values()) <= BUDGET_BYTES, fetched


def test_docs_widget_screenshot(stack, blog, browser, tmp_path):
    """docs/blog.md's picture of the widget on a plain page (docs/widget.png, with ``make screenshot``)."""
    watched = open_page(browser, viewport={"width": 800, "height": 560}, color_scheme="light")
    page = watched.page
    try:
        visit(watched, blog)
        type_query(page, "kubernets")
        save_screenshot(page, SCREENSHOT, tmp_path)
        watched.assert_clean()
    finally:
        page.context.close()
