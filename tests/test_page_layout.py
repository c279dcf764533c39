"""The page as a visitor sees it: nothing moves while it loads, a phone keeps the results in view,
focus is always visible, text details hold, and axe-core finds no violation in any state.

Debian's Chromium through Playwright over the real local stack, as in tests/test_page_browser.py
(shared parts in tests/page_support.py). axe-core comes from npm into .cache/axe-core (`make axe-core`,
which `make test` runs); without it the axe test is skipped with a message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT
from tests.page_support import (
    BROWSER_MARKS,
    DESKTOP,
    PHONE,
    WatchedPage,
    facet_box,
    focused,
    launched_browser,
    open_page,
    running_stack,
    shown_count,
    type_query,
    visit,
    wait_for_results,
)

pytestmark = BROWSER_MARKS
AXE = ROOT / ".cache" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
PHONE_OPTIONS = {"viewport": PHONE, "is_mobile": True, "has_touch": True}

# Collects every layout shift the visitor did not cause (Chromium's Layout Instability API), from the
# first paint on.
LAYOUT_SHIFTS = """
window.__layoutShifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.hadRecentInput) continue;
    const moved = entry.sources.map((s) => s.node ? (s.node.id || s.node.className || s.node.nodeName) : '?');
    window.__layoutShifts.push({ value: entry.value, moved: moved.join(', ') });
  }
}).observe({ type: 'layout-shift', buffered: true });
"""
SETTLE = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 100))))"

# The contrast ratio (WCAG 2) of an element's colour, or of another colour, against what is behind it.
CONTRAST = """
(el, property = 'color') => {
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => {
    const f = (c) => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let behind = el.parentElement;
  while (behind && rgb(getComputedStyle(behind).backgroundColor)[3] === 0) behind = behind.parentElement;
  const back = luminance(rgb(getComputedStyle(behind || document.documentElement).backgroundColor));
  const fore = luminance(rgb(getComputedStyle(el)[property]));
  return (Math.max(back, fore) + 0.05) / (Math.min(back, fore) + 0.05);
}
"""
# The visible focus indicator of the focused element: its outline or a box shadow, or '' for none.
FOCUS_RING = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return 'nothing focused';
  const style = getComputedStyle(el);
  if (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2) return `outline ${style.outlineWidth}`;
  if (style.boxShadow !== 'none') return `shadow ${style.boxShadow}`;
  return '';
}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator:
    yield from running_stack(tmp_path_factory)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    yield from launched_browser()


@pytest.fixture
def phone(browser) -> Iterator[WatchedPage]:
    page = open_page(browser, **PHONE_OPTIONS)
    yield page
    page.page.context.close()


@pytest.fixture
def desktop(browser) -> Iterator[WatchedPage]:
    page = open_page(browser)
    yield page
    page.page.context.close()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


# --- layout shift ------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["desktop", "phone"])
@pytest.mark.parametrize("query_string", ["", "?q=atelier", "?q=atelier&year=2017&sort=date"])
def test_nothing_moves_while_the_first_results_arrive(stack, browser, where, query_string):
    # GIVEN a visitor whose first search answers only after the empty page has been painted
    watched = open_page(browser, **(PHONE_OPTIONS if where == "phone" else {"viewport": DESKTOP}))
    page = watched.page
    page.context.add_init_script(LAYOUT_SHIFTS)

    def answer_late(route):
        time.sleep(0.4)  # the browser paints meanwhile: this thread only holds the answer
        route.continue_()

    page.route("**/api/search?*", answer_late)
    try:
        # WHEN the page loads and its results arrive
        visit(watched, stack, query_string)
        page.evaluate(SETTLE)
        # THEN the results made the page scroll (the case where a scrollbar appears) and nothing moved
        assert page.evaluate("() => document.documentElement.scrollHeight > innerHeight")
        if where == "desktop":
            assert page.evaluate("() => innerWidth - document.documentElement.clientWidth") > 0, "no scrollbar"
        assert page.evaluate("window.__layoutShifts") == []
        watched.assert_clean()
    finally:
        page.context.close()


@pytest.mark.parametrize("where", ["desktop", "phone"])
def test_nothing_moves_when_slow_results_of_a_filter_or_sort_arrive(stack, browser, where):
    # GIVEN a page whose searches answer after the 0.5 s during which a click may move things
    watched = open_page(browser, **(PHONE_OPTIONS if where == "phone" else {"viewport": DESKTOP}))
    page = watched.page
    page.context.add_init_script(LAYOUT_SHIFTS)
    try:
        visit(watched, stack, "?q=atelier")

        def answer_late(route):
            time.sleep(0.8)
            route.continue_()

        page.route("**/api/search?*", answer_late)
        # WHEN the visitor checks a facet, then sorts, each time waiting for the results
        if where == "phone":
            page.locator("#filters > summary").tap()
        facet_box(page, "year", "2017").click()
        page.wait_for_function("() => location.search.includes('year=2017')")
        wait_for_results(page)
        page.locator("#sort").select_option("date")
        page.wait_for_function("() => location.search.includes('sort=date')")
        wait_for_results(page)
        page.evaluate(SETTLE)
        # THEN nothing moved when the results came (the count, "…", chips and sort keep their places)
        assert page.evaluate("window.__layoutShifts") == []
        watched.assert_clean()
    finally:
        page.context.close()


# --- phone -------------------------------------------------------------------------------------------


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def shown_on_top(page, selector: str) -> bool:
    """The centre of the element is on screen and not covered by anything else."""
    return page.evaluate(
        """sel => { const el = document.querySelector(sel); const r = el.getBoundingClientRect();
        const x = r.left + Math.min(r.width / 2, 40), y = r.top + r.height / 2;
        return y >= 0 && y < innerHeight && el.contains(document.elementFromPoint(x, y)); }""",
        selector,
    )


def test_phone_filters_open_over_the_results_and_keep_them_in_view(stack, phone):
    page = phone.page
    visit(phone, stack, "?q=atelier")
    before = shown_count(page)
    # WHEN the visitor opens the filters
    page.locator("#filters > summary").tap()
    sheet = box(page, "#filters .sheet")
    # THEN they cover at most the lower half of the screen, and the first result shows above them
    assert sheet["y"] >= PHONE["height"] / 2 - 1
    assert sheet["y"] + sheet["height"] == pytest.approx(PHONE["height"], abs=1)
    assert shown_on_top(page, "[data-testid=hit] h3 a")
    # WHEN a year is checked
    facet_box(page, "year", "2017").tap()
    page.wait_for_function("() => location.search.includes('year=2017')")
    wait_for_results(page)
    # THEN the first result still starts within the first screen, above the sheet, under the new count
    after = shown_count(page)
    assert after < before
    first = box(page, "[data-testid=hit]")
    assert 0 <= first["y"] < sheet["y"]
    assert shown_on_top(page, "[data-testid=hit] h3 a")
    assert shown_on_top(page, "[data-testid=count]")
    # and the sheet's own button says how many results there are now
    done = page.locator("#filters-done")
    assert done.inner_text() == f"Voir {after} résultats"
    assert shown_on_top(page, "#filters-done")
    # WHEN the visitor is done THEN the sheet closes and focus is back on "Filtres (1)"
    done.tap()
    assert page.locator("#filters .sheet").is_hidden()
    assert focused(page, "el.tagName + ' ' + el.textContent") == "SUMMARY Filtres(1)"
    assert no_sideways_scroll(page)
    phone.assert_clean()


def test_phone_escape_closes_the_filters(stack, phone):
    page = phone.page
    visit(phone, stack, "?q=atelier")
    page.locator("#filters > summary").focus()
    page.keyboard.press("Enter")
    assert page.locator("#filters .sheet").is_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page, "el.type") == "checkbox"
    page.keyboard.press("Escape")
    assert page.locator("#filters .sheet").is_hidden()
    assert focused(page, "el.tagName") == "SUMMARY"
    phone.assert_clean()


def test_phone_search_box_uses_the_width_and_shows_its_placeholder(stack, phone):
    page = phone.page
    visit(phone, stack)
    field = box(page, "input[type=search]")
    assert field["width"] >= PHONE["width"] - 2 * 16 - 1  # the page's margins only
    fits = page.evaluate(
        """() => { const input = document.querySelector('input[type=search]'); const style = getComputedStyle(input);
        const context = document.createElement('canvas').getContext('2d');
        context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
        const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        return [context.measureText(input.placeholder).width, room]; }"""
    )
    assert fits[0] <= fits[1], f"the placeholder needs {fits[0]:.0f} px, the box has {fits[1]:.0f}"
    phone.assert_clean()


def test_phone_suggestions_are_as_wide_as_the_screen_allows_and_short(stack, phone):
    page = phone.page
    visit(phone, stack)
    page.locator("input[type=search]").tap()
    page.keyboard.type("quar", delay=30)
    options = page.locator("#suggestions [role=option]")
    options.filter(has_text="Quarante services").wait_for()
    listbox = box(page, "#suggestions")
    assert listbox["width"] >= PHONE["width"] - 2 * 16 - 1
    line = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#suggestions')).lineHeight)")
    for height in options.evaluate_all("els => els.map(e => e.querySelector('.suggestion-text').clientHeight)"):
        assert height <= 2 * line + 1, "a suggestion takes more than two lines"
    phone.assert_clean()


def test_phone_every_control_is_reachable(stack, phone):
    page = phone.page
    visit(phone, stack)
    type_query(page, "atelier")
    assert no_sideways_scroll(page), "the page scrolls sideways"
    page.locator("#sort").scroll_into_view_if_needed()
    assert page.locator("#sort").is_visible()
    page.locator("#pager a[rel=next]").tap()
    page.wait_for_function("() => location.search.includes('page=2')")
    wait_for_results(page)
    page.get_by_test_id("hit").first.locator("h3 a").tap()
    page.get_by_test_id("talk-title").wait_for()
    assert no_sideways_scroll(page)
    phone.assert_clean()


def test_meta_lines_break_between_parts_never_inside_one(stack, phone):
    page = phone.page
    visit(phone, stack, "?q=quarante+atelier")
    # every part of every meta line is on one line, unless it is longer than the whole line
    broken = page.evaluate(
        """() => [...document.querySelectorAll('.meta > *')].filter((part) => {
          const range = document.createRange(); range.selectNodeContents(part);
          const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
          return lines.size > 1 && part.getBoundingClientRect().width < part.parentElement.clientWidth - 1;
        }).map((part) => part.textContent)"""
    )
    assert broken == []
    # and these lines do wrap at this width (the case being tested happens)
    assert page.evaluate(
        "() => [...document.querySelectorAll('.meta')].some((m) => m.getBoundingClientRect().height > 40)"
    )
    phone.assert_clean()


# --- focus and keys ----------------------------------------------------------------------------------


def test_focus_is_visible_on_everything_the_tab_key_reaches(stack, desktop):
    page = desktop.page
    visit(desktop, stack, "?q=atelier&year=2017")
    missing, seen = [], set()
    for _ in range(80):
        page.keyboard.press("Tab")
        name = focused(page, "el.tagName + ' ' + (el.id || el.className || el.textContent.slice(0, 30))")
        seen.add(name.split(" ")[0])
        if not page.evaluate(FOCUS_RING):
            missing.append(name)
    assert missing == []
    assert {"A", "INPUT", "BUTTON", "SELECT"} <= seen
    desktop.assert_clean()


def test_the_count_shows_focus_after_a_page_change_by_keyboard(stack, desktop):
    page = desktop.page
    visit(desktop, stack, "?q=atelier")
    page.locator("#pager a[rel=next]").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.search.includes('page=2')")
    wait_for_results(page)
    assert focused(page, "el.dataset.testid") == "count"
    assert page.evaluate(FOCUS_RING)
    desktop.assert_clean()


def test_talk_view_focus_is_visible_and_its_keys_do_what_the_hint_says(stack, desktop):
    page = desktop.page
    visit(desktop, stack)
    type_query(page, "kubernetes")
    hint = page.locator("#keyboard-hint")
    assert "↑ ↓ pour parcourir" in hint.inner_text()
    # WHEN a result is opened from the keyboard
    page.keyboard.press("/")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    title = page.get_by_test_id("talk-title")
    title.wait_for()
    # THEN its title has focus, visibly
    assert focused(page, "el.dataset.testid") == "talk-title"
    assert page.evaluate(FOCUS_RING)
    # and the hint says what the keys do here, and they do it: ↓ ↑ move through the related talks
    page.wait_for_function("() => document.querySelector('#keyboard-hint').textContent.includes('talks proches')")
    assert "Échap pour revenir aux résultats" in hint.inner_text()
    related = page.locator(".related a[data-nav]").all_inner_texts()
    assert len(related) >= 1
    page.keyboard.press("ArrowDown")
    assert focused(page, "el.textContent") == related[0]
    assert page.evaluate(FOCUS_RING)
    page.keyboard.press("ArrowUp")
    assert focused(page, "el.dataset.testid") == "talk-title"
    # Tab reaches the source link and Shift+Tab the back link, each visibly focused
    page.keyboard.press("Tab")
    assert focused(page, "el.className") == "source"
    assert page.evaluate(FOCUS_RING)
    page.keyboard.press("Shift+Tab")
    assert focused(page, "el.dataset.testid") == "back"
    assert page.evaluate(FOCUS_RING)
    # ↑ from the title goes back to the search box, as from the first result
    title.focus()
    page.keyboard.press("ArrowUp")
    assert focused(page, "el.type") == "search"
    # Esc goes back to the results, whose hint is back
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    page.locator("#talk-view").wait_for(state="hidden")
    assert "Entrée pour ouvrir, Échap pour effacer" in hint.inner_text()
    desktop.assert_clean()


# --- colours and text --------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_unchecked_checkboxes_stand_out_from_the_page(stack, browser, scheme):
    for options in ({"viewport": DESKTOP}, PHONE_OPTIONS):
        watched = open_page(browser, color_scheme=scheme, **options)
        page = watched.page
        try:
            visit(watched, stack, "?q=atelier")
            if options is PHONE_OPTIONS:
                page.locator("#filters > summary").tap()  # the boxes are on the sheet
            checkbox = facet_box(page, "year", "2017")
            assert not checkbox.is_checked()
            assert checkbox.evaluate("el => parseFloat(getComputedStyle(el).borderTopWidth)") >= 1.5
            ratio = checkbox.evaluate(f"el => ({CONTRAST})(el, 'borderTopColor')")
            assert ratio >= 3, f"{scheme}: {ratio:.2f}:1"
            watched.assert_clean()
        finally:
            page.context.close()


MUTED = ".tagline, .hint, .meta, .facet-count, .sort, .chips-label, .chip-facet, input[type=search]"


def test_muted_text_in_the_light_theme_reaches_seven_to_one(stack, browser):
    watched = open_page(browser, color_scheme="light")
    page = watched.page
    try:
        visit(watched, stack, "?q=atelier&year=2017")
        ratios = page.evaluate(
            f"""() => [...document.querySelectorAll({MUTED!r})].map((el) =>
            [el.className || el.tagName, ({CONTRAST})(el)])"""
        )
        placeholder = page.evaluate(f"() => ({CONTRAST})(document.querySelector('input[type=search]'))")
        assert {name for name, _ in ratios} >= {"tagline", "meta", "facet-count", "chip-facet"}
        assert [(name, round(r, 2)) for name, r in ratios if r < 7] == []
        assert placeholder >= 7
        watched.assert_clean()
    finally:
        page.context.close()


# --- axe-core ----------------------------------------------------------------------------------------


def axe_violations(page) -> list[str]:
    return page.evaluate(
        """async () => {
          const result = await axe.run(document, { resultTypes: ['violations'] });
          return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
        }"""
    )


@pytest.mark.skipif(not AXE.exists(), reason=f"needs axe-core at {AXE} (`make axe-core` installs it from npm)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("where", ["desktop", "phone"])
def test_axe_finds_no_violation_in_any_state(stack, browser, where, scheme):
    watched = open_page(browser, color_scheme=scheme, **(PHONE_OPTIONS if where == "phone" else {"viewport": DESKTOP}))
    page = watched.page
    page.context.add_init_script(path=str(AXE))
    found: dict[str, list[str]] = {}

    def check(state: str) -> None:
        page.evaluate(SETTLE)
        found[state] = axe_violations(page)

    try:
        visit(watched, stack)
        check("every talk")
        type_query(page, "kubernetes")
        check("results")
        if where == "phone":
            page.locator("#filters > summary").tap()
            check("filters open")
        facet_box(page, "lang", "anglais").click()
        page.wait_for_function("() => location.search.includes('lang=en')")
        wait_for_results(page)
        check("facet checked")
        page.locator("input[type=search]").click()
        page.keyboard.type(" op", delay=30)
        page.locator("#suggestions [role=option]").first.wait_for()
        check("suggestions")
        page.keyboard.press("Escape")
        type_query(page, "zzzqqq")
        check("no results")
        visit(watched, stack, "?q=kubernetes&hl=en")
        check("English")
        page.get_by_test_id("hit").first.locator("h3 a").click()
        page.get_by_test_id("talk-title").wait_for()
        check("talk view")
        page.route("**/api/search?*", lambda route: route.abort())
        page.get_by_test_id("back").click()
        page.locator("input[type=search]").fill("django")
        page.keyboard.press("Enter")
        page.get_by_role("alert").wait_for()
        check("search failed")
        assert {state: v for state, v in found.items() if v} == {}
        assert all(re.search("ERR_FAILED", line) for line in watched.console)
        watched.console.clear()
        watched.assert_clean()
    finally:
        page.context.close()
