"""The search page in a real browser (Debian's Chromium through Playwright) over the real local stack.

The stack (devstack.start_stack) runs the real rebuild and search handlers against moto's S3 server,
over a temporary content folder that includes hostile content (tests/page_support.py). Every test ends
by checking that the page raised no dialog, no page error and no console message (a CSP violation
would be one). Layout, focus and accessibility are tested in tests/test_page_layout.py.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.page_support import (
    BROWSER_MARKS,
    DESKTOP,
    HOSTILE_TITLE,
    TOTAL_TALKS,
    WatchedPage,
    facet_box,
    focused,
    hit_titles,
    launched_browser,
    open_page,
    running_stack,
    save_screenshot,
    shown_count,
    type_query,
    url_params,
    visit,
    wait_for_results,
)

pytestmark = BROWSER_MARKS
KUBERNETES_TITLES = {"Déployer Kubernetes sans douleur", "Kubernetes operators in Python"}
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot.png"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator:
    yield from running_stack(tmp_path_factory)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    yield from launched_browser()


@pytest.fixture
def watched(browser) -> Iterator[WatchedPage]:
    page = open_page(browser)
    yield page
    page.page.context.close()


# --- searching --------------------------------------------------------------------------------------


def test_the_page_lists_every_talk_on_load(stack, watched):
    # GIVEN the page WHEN it loads without a query THEN it browses every talk, newest first
    visit(watched, stack)
    page = watched.page
    assert shown_count(page) == TOTAL_TALKS
    assert page.get_by_test_id("hit").count() == 10
    assert hit_titles(page)[0] == "Asyncio en pratique"
    watched.assert_clean()


def test_typing_a_query_shows_highlighted_results(stack, watched):
    visit(watched, stack)
    page = watched.page
    # WHEN the visitor types a word
    type_query(page, "kubernetes")
    # THEN the talks that mention it are listed with the word highlighted, and the URL holds the query
    assert shown_count(page) >= len(KUBERNETES_TITLES)
    assert set(hit_titles(page)) >= KUBERNETES_TITLES
    marks = page.locator("[data-testid=hit] mark").all_inner_texts()
    assert marks, "no highlighted words"
    assert all(mark.lower().startswith("kubernetes") for mark in marks)
    assert url_params(page)["q"] == ["kubernetes"]
    # each result shows its speakers, event and date, and links to the talk's source
    first = page.get_by_test_id("hit").filter(has_text="Déployer Kubernetes sans douleur")
    meta = first.locator(".meta").inner_text()
    assert "Zoé Martin" in meta
    assert "PyCon FR 2019" in meta
    assert "2 novembre 2019" in meta
    assert first.locator("a.source").get_attribute("href").startswith("https://talks.example/videos/")
    watched.assert_clean()


def test_a_typo_still_finds_the_talk_and_offers_the_correction(stack, watched):
    visit(watched, stack)
    page = watched.page
    type_query(page, "kubernets")
    assert set(hit_titles(page)) >= KUBERNETES_TITLES
    # "did you mean" searches for the corrected query when followed
    page.get_by_test_id("did-you-mean").click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('q') === 'kubernetes'")
    wait_for_results(page)
    assert page.locator("input[type=search]").input_value() == "kubernetes"
    assert page.get_by_test_id("did-you-mean").count() == 0
    watched.assert_clean()


def test_a_query_in_the_other_language_says_what_it_also_searched_and_offers_the_exact_words(stack, watched):
    visit(watched, stack)
    page = watched.page
    # WHEN the visitor types an English word that the French talks say in French
    type_query(page, "containers")
    # THEN the French talk is found, its French word highlighted, and the page says what it also searched
    assert "Déployer Kubernetes sans douleur" in hit_titles(page)
    line = page.get_by_test_id("also-searched").inner_text()
    assert line.startswith("Aussi cherché") and "conteneur" in line and "Seulement les mots exacts" in line
    assert "conteneurs" in page.locator("[data-testid=hit] mark").all_inner_texts()
    # WHEN they ask for the exact words only THEN the URL keeps it and the translation's talk goes
    page.get_by_test_id("exact-switch").click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('exact') === '1'")
    wait_for_results(page)
    assert "Déployer Kubernetes sans douleur" not in hit_titles(page)
    assert page.get_by_test_id("also-searched").inner_text().startswith("Mots exacts seulement")
    # a reload keeps the switch (it is in the URL); the way back searches the translations again
    page.reload()
    wait_for_results(page)
    assert "Déployer Kubernetes sans douleur" not in hit_titles(page)
    page.get_by_test_id("exact-switch").click()
    page.wait_for_function("() => !new URLSearchParams(location.search).has('exact')")
    wait_for_results(page)
    assert "Déployer Kubernetes sans douleur" in hit_titles(page)
    watched.assert_clean()


def test_a_query_matching_only_some_words_says_so(stack, watched):
    visit(watched, stack)
    page = watched.page
    type_query(page, "polars kubernetes")
    assert "Data pipelines with Polars" in hit_titles(page)
    assert "Aucun talk ne contient tous ces mots" in page.locator("#notice").inner_text()
    watched.assert_clean()


def test_talks_with_every_word_come_first_and_the_page_says_so(stack, watched):
    visit(watched, stack)
    page = watched.page
    type_query(page, "kubernetes helm")
    titles = hit_titles(page)
    assert titles[0] == "Déployer Kubernetes sans douleur"  # the only talk with both words
    assert "Kubernetes operators in Python" in titles[1:]  # then talks with one of them
    assert "D’abord les talks qui contiennent tous ces mots" in page.locator("#notice").inner_text()
    watched.assert_clean()


def test_the_talk_view_shows_the_summary_and_related_talks(stack, watched):
    visit(watched, stack)
    page = watched.page
    type_query(page, "douleur")
    page.get_by_test_id("hit").first.locator("h3 a").click()
    assert page.get_by_test_id("talk-title").inner_text() == "Déployer Kubernetes sans douleur"
    assert "conteneurs avec Kubernetes et Helm" in page.locator(".talk .summary").inner_text()
    assert url_params(page)["talk"] == ["talks/01"]
    assert page.title().startswith("Déployer Kubernetes sans douleur")
    # related talks (they share "kubernetes") open in the same view
    related = page.locator(".related li a")
    assert "Kubernetes operators in Python" in related.all_inner_texts()
    related.filter(has_text="Kubernetes operators in Python").click()
    page.get_by_test_id("talk-title").filter(has_text="Kubernetes operators in Python").wait_for()
    assert url_params(page)["talk"] == ["talks/02"]
    # back to the results shows the same search
    page.get_by_test_id("back").click()
    wait_for_results(page)
    assert page.locator("#talk-view").is_hidden()
    assert hit_titles(page)[0] == "Déployer Kubernetes sans douleur"
    assert url_params(page) == {"q": ["douleur"]}
    watched.assert_clean()


def opened_reports(page) -> list[dict]:
    """The page's /api/opened requests so far, each as its parameters and the API's status."""
    return page.evaluate(
        """() => performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/opened'))
            .map((e) => ({ ...Object.fromEntries(new URL(e.name).searchParams), status: e.responseStatus }))"""
    )


def test_opening_a_result_tells_the_api_which_talk_the_query_found(stack, watched):
    visit(watched, stack)
    page = watched.page
    type_query(page, "douleur")
    # WHEN the visitor opens the first result THEN the API hears of it once: the query and the talk, answered 204
    with page.expect_response(lambda r: "/api/opened?" in r.url) as answer:
        page.get_by_test_id("hit").first.locator("h3 a").click()
    assert answer.value.status == 204
    assert url_params(page)["talk"] == ["talks/01"]
    page.wait_for_function("() => performance.getEntriesByType('resource').some((e) => e.name.includes('/api/opened'))")
    assert opened_reports(page) == [{"q": "douleur", "talk": "talks/01", "status": 204}]
    # a related talk opened from the talk view is not a result of the search: no report
    page.locator(".related li a").filter(has_text="Kubernetes operators in Python").click()
    page.get_by_test_id("talk-title").filter(has_text="Kubernetes operators in Python").wait_for()
    page.get_by_test_id("back").click()
    wait_for_results(page)
    assert len(opened_reports(page)) == 1
    # the source link of a result is an open too, and the report survives leaving the page
    page.route("https://talks.example/**", lambda route: route.fulfill(body="the talk's own page"))
    with page.expect_request(lambda r: "/api/opened?" in r.url) as report:
        page.get_by_test_id("hit").first.locator("a.source").click()
    assert urlsplit(report.value.url).query == "q=douleur&talk=talks%2F01"
    page.wait_for_url("https://talks.example/**")
    watched.assert_clean()


def test_a_slow_answer_never_replaces_a_newer_one(stack, watched):
    visit(watched, stack)
    page = watched.page
    held = []

    def hold_the_first_asyncio_search(route):
        if "q=asyncio" in route.request.url and not held:
            held.append(route)  # answered only after the newer query has rendered
        else:
            route.continue_()

    page.route("**/api/search?*", hold_the_first_asyncio_search)
    box = page.locator("input[type=search]")
    box.press_sequentially("asyncio", delay=20)
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(25)
    assert held, "the first search never started"
    # WHEN the visitor changes the query while the first answer is still on its way
    type_query(page, "rust")
    assert hit_titles(page)[0] == "Rust pour les pythonistes"
    # AND the old answer arrives late
    with contextlib.suppress(PlaywrightError):  # the page had already aborted it, which is what it should do
        held[0].continue_()
    page.wait_for_timeout(500)
    # THEN the page still shows the newer query's results
    assert hit_titles(page)[0] == "Rust pour les pythonistes"
    assert url_params(page)["q"] == ["rust"]
    page.unroute("**/api/search?*")
    watched.assert_clean()


def test_a_link_to_an_unknown_talk_says_so(stack, watched):
    page = watched.page
    page.goto(stack.url + "?q=rust&talk=no/such-talk")
    alert = page.get_by_role("alert")
    assert "Ce talk est introuvable." in alert.inner_text()
    page.get_by_test_id("back").click()
    wait_for_results(page)
    assert hit_titles(page)[0] == "Rust pour les pythonistes"
    # the API's 404 is the only console message
    assert len(watched.console) == 1 and "404" in watched.console[0]
    watched.console.clear()
    watched.assert_clean()


def test_the_api_base_comes_from_the_page(stack, watched):
    # GIVEN a deployment whose page says the API lives at /search-api (forwarded here to the stack's /api)
    page = watched.page

    def rewrite_page(route):
        html = route.fetch().text().replace('data-api-base="/api"', 'data-api-base="/search-api/"')
        route.fulfill(body=html, content_type="text/html; charset=utf-8")

    def forward_api(route):
        route.fulfill(response=route.fetch(url=route.request.url.replace("/search-api/", "/api/")))

    page.route(stack.url, rewrite_page)
    page.route("**/search-api/**", forward_api)
    api_calls = []
    page.on("request", lambda request: api_calls.append(urlsplit(request.url).path))
    # WHEN the visitor searches THEN the page asks that API
    visit(watched, stack)
    type_query(page, "polars")
    assert hit_titles(page) == ["Data pipelines with Polars"]
    assert "/search-api/search" in api_calls
    assert not any(path.startswith("/api/") for path in api_calls)
    watched.assert_clean()


# --- facets -----------------------------------------------------------------------------------------


def test_filter_by_a_facet_then_remove_it(stack, watched):
    visit(watched, stack)
    page = watched.page
    # WHEN the visitor checks one event
    facet_box(page, "event", "EuroPython 2021").check()
    page.wait_for_function("() => location.search.includes('event=')")
    wait_for_results(page)
    # THEN only that event's talks remain, the filter shows as active, and the URL holds it
    assert shown_count(page) == 2
    assert all("EuroPython 2021" in meta for meta in page.locator("[data-testid=hit] .meta").all_inner_texts())
    assert url_params(page)["event"] == ["EuroPython 2021"]
    chip = page.locator("#chips .chip").filter(has_text="EuroPython 2021")
    assert chip.is_visible()
    # OR within a facet: a second event adds its talks
    facet_box(page, "event", "DjangoCon Europe 2022").check()
    page.wait_for_function("() => new URLSearchParams(location.search).getAll('event').length === 2")
    wait_for_results(page)
    assert shown_count(page) == 4
    # AND across facets: a language narrows them
    facet_box(page, "lang", "anglais").check()
    page.wait_for_function("() => location.search.includes('lang=en')")
    wait_for_results(page)
    assert shown_count(page) == 2
    # WHEN the active filters are removed THEN every talk is back
    page.locator("#chips .chip-clear").click()
    page.wait_for_function("() => !location.search.includes('event=')")
    wait_for_results(page)
    assert shown_count(page) == TOTAL_TALKS
    assert page.locator("#chips").is_hidden()
    watched.assert_clean()


def test_removing_one_filter_chip(stack, watched):
    visit(watched, stack, "?q=kubernetes&company=Red+Hat")
    page = watched.page
    assert shown_count(page) == 1
    assert facet_box(page, "company", "Red Hat").is_checked()
    page.locator("#chips .chip").filter(has_text="Red Hat").click()
    page.wait_for_function("() => !location.search.includes('company=')")
    wait_for_results(page)
    assert shown_count(page) >= 2
    assert url_params(page) == {"q": ["kubernetes"]}
    watched.assert_clean()


def test_no_results_offers_to_remove_the_filters(stack, watched):
    # GIVEN filters that exclude every match of the query
    visit(watched, stack, "?q=polars&event=PyCon+FR+2019")
    page = watched.page
    # THEN the page says so and offers the way out
    empty = page.get_by_test_id("no-results")
    assert "Aucun résultat pour « polars »" in empty.inner_text()
    empty.get_by_role("link", name="Retirer les filtres").click()
    page.wait_for_function("() => !location.search.includes('event=')")
    wait_for_results(page)
    assert hit_titles(page) == ["Data pipelines with Polars"]
    watched.assert_clean()


def test_sort_by_date(stack, watched):
    visit(watched, stack)
    page = watched.page
    type_query(page, "atelier")
    page.locator("#sort").select_option("date")
    page.wait_for_function("() => location.search.includes('sort=date')")
    wait_for_results(page)
    dates = page.locator("[data-testid=hit] time").evaluate_all("els => els.map(e => e.dateTime)")
    assert dates == sorted(dates, reverse=True)
    assert hit_titles(page)[0] == "Atelier Python numéro 27"  # 2019-10-27, the newest workshop
    watched.assert_clean()


# --- URL state --------------------------------------------------------------------------------------


def test_url_round_trip_with_back_forward_and_reload(stack, watched):
    # GIVEN a shared link with a query, a filter, a sort and a page
    visit(watched, stack, "?q=atelier&year=2017&year=2018&sort=date&page=2")
    page = watched.page
    # THEN the page restores that exact view
    assert page.locator("input[type=search]").input_value() == "atelier"
    assert facet_box(page, "year", "2017").is_checked()
    assert facet_box(page, "year", "2018").is_checked()
    assert page.locator("#sort").input_value() == "date"
    assert page.locator("#pager [aria-current=page]").inner_text() == "2"
    second_page = hit_titles(page)
    assert 1 <= len(second_page) < 10
    # WHEN the visitor goes to page 1, then back, then forward
    page.locator("#pager a[rel=prev]").click()
    page.wait_for_function("() => !location.search.includes('page=')")
    wait_for_results(page)
    first_page = hit_titles(page)
    assert first_page != second_page
    assert focused(page, "el.dataset.testid") == "count", "a new page should bring its top into view"
    page.go_back()
    page.wait_for_function("() => location.search.includes('page=2')")
    wait_for_results(page)
    assert hit_titles(page) == second_page
    assert page.locator("#pager [aria-current=page]").inner_text() == "2"
    page.go_forward()
    page.wait_for_function("() => !location.search.includes('page=')")
    wait_for_results(page)
    assert hit_titles(page) == first_page
    # WHEN the page reloads THEN the same view comes back
    page.reload()
    wait_for_results(page)
    assert hit_titles(page) == first_page
    assert facet_box(page, "year", "2018").is_checked()
    assert page.locator("#sort").input_value() == "date"
    watched.assert_clean()


def test_typed_queries_are_history_entries(stack, watched):
    visit(watched, stack)
    page = watched.page
    type_query(page, "rust")
    assert hit_titles(page)[0] == "Rust pour les pythonistes"
    page.go_back()
    page.wait_for_function("() => location.search === ''")
    wait_for_results(page)
    assert page.locator("input[type=search]").input_value() == ""
    assert shown_count(page) == TOTAL_TALKS
    page.go_forward()
    page.wait_for_function("() => location.search === '?q=rust'")
    wait_for_results(page)
    assert page.locator("input[type=search]").input_value() == "rust"
    watched.assert_clean()


# --- keyboard ---------------------------------------------------------------------------------------


def test_keyboard_flow(stack, watched):
    visit(watched, stack)
    page = watched.page
    box = page.locator("input[type=search]")
    # `/` focuses the search box
    assert focused(page, "el === document.body")
    page.keyboard.press("/")
    assert focused(page, "el.type") == "search"
    # typing offers suggestions; the arrows move through them
    page.keyboard.type("kube", delay=30)
    options = page.locator("#suggestions [role=option]")
    options.first.wait_for()
    page.keyboard.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == "suggestion-0"
    assert options.first.get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowUp")
    assert box.get_attribute("aria-activedescendant") is None
    # Enter on a suggestion searches for it
    page.keyboard.press("ArrowDown")
    chosen = options.first.locator(".suggestion-text").inner_text()
    page.keyboard.press("Enter")
    page.wait_for_function("q => new URLSearchParams(location.search).get('q') === q", arg=chosen)
    wait_for_results(page)
    assert box.input_value() == chosen
    assert page.locator("#suggestions").is_hidden()
    # ArrowDown leaves the box for the results, then moves through them
    page.keyboard.press("ArrowDown")
    first_title = hit_titles(page)[0]
    assert focused(page, "el.textContent") == first_title
    if page.get_by_test_id("hit").count() > 1:
        page.keyboard.press("ArrowDown")
        assert focused(page, "el.textContent") == hit_titles(page)[1]
        page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert focused(page, "el.type") == "search"
    # Enter on a result opens it; Esc goes back to the results, onto the same result
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.get_by_test_id("talk-title").inner_text() == first_title
    assert focused(page, "el.dataset.testid") == "talk-title"
    page.keyboard.press("Escape")
    page.locator("#talk-view").wait_for(state="hidden")
    assert focused(page, "el.textContent") == first_title
    # Esc in the search box clears the query
    page.keyboard.press("/")
    page.keyboard.press("Escape")
    page.wait_for_function("() => location.search === ''")
    wait_for_results(page)
    assert box.input_value() == ""
    assert shown_count(page) == TOTAL_TALKS
    watched.assert_clean()


# --- accessibility ----------------------------------------------------------------------------------


def test_a_live_region_announces_the_number_of_results(stack, watched):
    visit(watched, stack)
    page = watched.page
    region = page.locator("[aria-live=polite]")
    assert region.get_attribute("role") == "status"
    type_query(page, "polars")
    assert region.inner_text() == "1 résultat pour « polars »"
    type_query(page, "zzzqqq")
    assert region.inner_text() == "0 résultat pour « zzzqqq »"
    watched.assert_clean()


def test_the_search_box_is_labelled(stack, watched):
    visit(watched, stack)
    page = watched.page
    assert page.get_by_role("combobox", name="Rechercher un talk").count() == 1
    assert page.get_by_label("Rechercher un talk").get_attribute("type") == "search"
    assert page.locator("form[role=search]").count() == 1
    watched.assert_clean()


def test_the_interface_switches_to_english_and_stays(stack, watched):
    visit(watched, stack, "?q=kubernetes")
    page = watched.page
    page.get_by_role("button", name="English").click()
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert re.fullmatch(r"\d+ results?", page.get_by_test_id("count").inner_text())
    assert page.get_by_label("Search talks").get_attribute("type") == "search"
    page.reload()
    wait_for_results(page)
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("fieldset[data-facet=speaker] legend").inner_text() == "Speaker"
    watched.assert_clean()


# --- safety -----------------------------------------------------------------------------------------

HOSTILE_QUERIES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "'; DROP TABLE talks; --",
    "{{constructor.constructor('alert(1)')()}}",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    'speaker: event: (( "unbalanced',
    "\u202eevil \u05e9\u05dc\u05d5\u05dd 🎤",
    "*",
]


def test_hostile_content_is_shown_as_text_and_runs_nothing(stack, watched):
    visit(watched, stack)
    page = watched.page
    type_query(page, "piratage")
    hit = page.get_by_test_id("hit").filter(has_text=HOSTILE_TITLE)
    # THEN the characters are visible text; no element was created from them
    assert hit.locator("h3").inner_text() == HOSTILE_TITLE
    assert "<script>alert('speaker')</script>" in hit.locator(".meta").inner_text()
    assert "<img src=x onerror=alert(3)>" in hit.locator(".snippet").inner_text()
    assert page.locator("main img, main script, main svg, main b, main i").count() == 0
    assert hit.locator("a.source").count() == 0, "a javascript: URL became a link"
    # and the same in its talk view
    hit.locator("h3 a").click()
    assert page.get_by_test_id("talk-title").inner_text() == HOSTILE_TITLE
    assert "<script>alert(4)</script>" in page.locator(".talk .summary").inner_text()
    assert page.locator("main img, main script, main svg, main b, main i").count() == 0
    watched.assert_clean()


def test_hostile_suggestions_are_shown_as_text(stack, watched):
    visit(watched, stack)
    page = watched.page
    page.locator("input[type=search]").press_sequentially("ale", delay=20)
    options = page.locator("#suggestions [role=option] .suggestion-text")
    options.filter(has_text=HOSTILE_TITLE).wait_for()
    assert "<script>alert('speaker')</script>" in options.all_inner_texts()
    assert page.locator("#suggestions img, #suggestions script").count() == 0
    # choosing one searches for those characters, which still run nothing
    options.filter(has_text=HOSTILE_TITLE).click()
    page.wait_for_function("q => new URLSearchParams(location.search).get('q') === q", arg=HOSTILE_TITLE)
    wait_for_results(page)
    assert HOSTILE_TITLE in hit_titles(page)
    assert page.locator("main img").count() == 0
    watched.assert_clean()


def test_hostile_queries_and_urls_run_nothing(stack, watched):
    visit(watched, stack)
    page = watched.page
    for query in HOSTILE_QUERIES:
        type_query(page, query)
        assert page.get_by_test_id("count").inner_text() != ""
    hostile_url = "?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&speaker=%3Csvg%2Fonload%3Dalert(1)%3E&page=abc&sort=x"
    visit(watched, stack, hostile_url)
    assert page.locator("input[type=search]").input_value() == HOSTILE_TITLE
    assert page.locator("#chips").inner_text().count("<svg/onload=alert(1)>") == 1
    assert page.locator("main img, main svg").count() == 0
    watched.assert_clean()


def test_the_page_runs_under_a_strict_content_security_policy(stack, watched):
    visit(watched, stack)
    policy = watched.page.locator("meta[http-equiv=Content-Security-Policy]").get_attribute("content")
    assert "default-src 'self'" in policy
    assert "unsafe" not in policy
    type_query(watched.page, "django")
    watched.page.get_by_test_id("hit").first.locator("h3 a").click()
    watched.page.get_by_test_id("talk-title").wait_for()
    watched.assert_clean()  # a blocked inline script or style would be a console error


def test_an_unreachable_api_is_reported_and_retried(stack, watched):
    visit(watched, stack)
    page = watched.page
    page.route("**/api/search?*", lambda route: route.abort())
    box = page.locator("input[type=search]")
    box.press_sequentially("django", delay=20)
    alert = page.get_by_role("alert")
    alert.wait_for()
    box.blur()
    assert "injoignable" in alert.inner_text()
    page.unroute("**/api/search?*")
    alert.get_by_role("button", name="Réessayer").click()
    wait_for_results(page)
    assert page.get_by_test_id("hit").count() >= 1
    # the aborted requests are the only console messages
    assert all("ERR_FAILED" in line for line in watched.console)
    watched.console.clear()
    watched.assert_clean()


# --- layout -----------------------------------------------------------------------------------------


def test_readme_screenshot(stack, browser, tmp_path):
    """The README's picture of the page (docs/screenshot.png, with ``make screenshot``)."""
    watched = open_page(browser, viewport=DESKTOP, color_scheme="light")
    page = watched.page
    try:
        visit(watched, stack)
        type_query(page, "kubernetes")
        save_screenshot(page, SCREENSHOT, tmp_path)
        watched.assert_clean()
    finally:
        page.context.close()
