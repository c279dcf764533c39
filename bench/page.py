"""How light and how quick the search page is, measured in Debian's Chromium over the local stack.

    python -m bench.page [--content content/sample] [--runs 15]

Prints, for a visitor with an empty cache:
- bytes transferred (as counted by Chromium's network layer, headers included) for the page load, its
  first API response, and the first typed search, from the local stack, which gzips text as CloudFront
  does (``Compress: true``);
- time from keystroke to results in the DOM, over several queries: after the last keystroke of
  search-as-you-type (includes the page's debounce) and after Enter (no debounce).
Figures only: nothing here asserts a threshold.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from playwright.sync_api import sync_playwright

from devstack import start_stack

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright never downloads a browser here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUERIES = ["python", "django", "kubernetes", "données", "asyncio", "test", "web", "sécurité", "api", "rust"]

# In the page: time of the last keydown, and of the last change to the result list.
INSTRUMENT = """() => {
  window.__keyAt = 0; window.__renderAt = 0;
  document.addEventListener('keydown', () => { window.__keyAt = performance.now(); }, { capture: true });
  new MutationObserver(() => { window.__renderAt = performance.now(); })
    .observe(document.querySelector('#results-view'), { childList: true, subtree: true, characterData: true });
}"""
SETTLED = """q => new URLSearchParams(location.search).get('q') === q
  && document.querySelector('#results-view').getAttribute('aria-busy') === 'false'
  && window.__renderAt > window.__keyAt"""


class Transfers:
    """Every response of a page, with its transferred size, from the Chrome DevTools Protocol."""

    def __init__(self, page) -> None:
        self.urls: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self.order: list[str] = []
        session = page.context.new_cdp_session(page)
        session.on("Network.responseReceived", self._response)
        session.on("Network.loadingFinished", self._finished)
        session.send("Network.enable")
        session.send("Network.setCacheDisabled", {"cacheDisabled": True})

    def _response(self, event) -> None:
        self.urls[event["requestId"]] = event["response"]["url"]

    def _finished(self, event) -> None:
        self.sizes[event["requestId"]] = int(event["encodedDataLength"])
        self.order.append(event["requestId"])

    def since(self, start: int) -> list[tuple[str, int]]:
        return [(self.urls.get(rid, "?"), self.sizes[rid]) for rid in self.order[start:]]


def report_bytes(title: str, rows: list[tuple[str, int]], base: str) -> int:
    total = sum(size for _, size in rows)
    print(f"\n{title}: {total:,} B transferred ({total / 1024:.1f} kB)")
    for url, size in rows:
        print(f"  {size:>7,} B  {url.removeprefix(base)}")
    return total


def measure_bytes(browser, base: str, label: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    transfers = Transfers(page)
    page.goto(base)
    page.wait_for_function("() => document.querySelector('[data-testid=count]').textContent !== ''")
    page.wait_for_load_state("networkidle")
    load = transfers.since(0)
    page.evaluate(INSTRUMENT)
    mark = len(transfers.order)
    page.locator("input[type=search]").press_sequentially(QUERIES[0], delay=60)
    page.wait_for_function(SETTLED, arg=QUERIES[0])
    page.wait_for_load_state("networkidle")
    typed = [(url, size) for url, size in transfers.since(mark) if "/api/" in url]  # not a late favicon
    print(f"\n=== {label} ===")
    load_total = report_bytes("Page load (HTML, CSS, JS, favicon, first API response: the browse list)", load, base)
    typed_total = report_bytes(f"First typed search ({QUERIES[0]!r}: suggestions + search)", typed, base)
    search_only = sum(size for url, size in typed if "/api/search" in url)
    print(f"\nFirst search, total: page load + its search response = {(load_total + search_only) / 1024:.1f} kB")
    print(f"Everything up to the first search, suggestions included = {(load_total + typed_total) / 1024:.1f} kB")
    page.close()


def measure(base: str, runs: int) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        measure_bytes(browser, base, "From the local stack (gzip, as CloudFront)")
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(base)
        page.wait_for_function("() => document.querySelector('[data-testid=count]').textContent !== ''")
        page.evaluate(INSTRUMENT)
        for mode in ("typing", "enter"):
            timings = []
            for n in range(runs):
                query = QUERIES[n % len(QUERIES)] + ("" if n < len(QUERIES) else f" {n}")
                page.locator("input[type=search]").fill("")
                page.wait_for_timeout(400)
                if mode == "typing":
                    page.locator("input[type=search]").press_sequentially(query, delay=40)
                else:
                    page.locator("input[type=search]").fill(query)
                    page.locator("input[type=search]").press("Enter")
                page.wait_for_function(SETTLED, arg=query)
                timings.append(page.evaluate("() => window.__renderAt - window.__keyAt"))
            timings.sort()
            label = "last keystroke -> results (incl. 250 ms debounce)" if mode == "typing" else "Enter -> results"
            print(
                f"\n{label}, {runs} queries: median {statistics.median(timings):.0f} ms, "
                f"min {timings[0]:.0f} ms, max {timings[-1]:.0f} ms"
            )
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=ROOT / "content" / "sample")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    stack = start_stack(args.content, log=lambda line: None)
    try:
        measure(stack.url, args.runs)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
