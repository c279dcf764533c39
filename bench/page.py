"""How light and how quick the search page is, measured in Debian's Chromium over the local stack.

    python -m bench.page [--content content/sample] [--runs 15]
    python -m bench.page --lighthouse [--content FOLDER|FILE] [--query python] [--lighthouse-runs 3] [--url URL]
    python -m bench.page --widget

Prints, for a visitor with an empty cache:
- bytes transferred (as counted by Chromium's network layer, headers included) for the page load, its
  first API response, and the first typed search, from the local stack, which gzips text as CloudFront
  does (``Compress: true``);
- time from keystroke to results in the DOM, over several queries: after the last keystroke of
  search-as-you-type (includes the page's debounce) and after Enter (no debounce).
With ``--lighthouse`` (``make lighthouse``), it runs Lighthouse instead (from npm, installed by the
Makefile into .cache/lighthouse) on the page with a query, for desktop and mobile, and prints the median
scores and metrics over its runs, with Lighthouse's own CPU benchmark of the machine (the scores move
with it). ``--url`` audits a page already running (``make dev``) instead of starting a stack.
With ``--widget``, it lists every file the <talk-search> widget loads (widget_files) with its size
gzipped as the local stack serves it: no stack or browser needed.
Figures only: nothing here asserts a threshold (tests/test_widget_browser.py holds the widget's budget).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

from devstack import start_stack
from devstack.server import GZIP_LEVEL

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
LIGHTHOUSE = ROOT / ".cache" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
FRONTEND = ROOT / "frontend"
WIDGET = FRONTEND / "widget" / "talksearch.js"
# a relative .js or .css path in quotes: an import, a dynamic import(), the widget's stylesheet
QUOTED_FILE = re.compile(r"""['"]((?:\.{1,2}/)*[\w-][\w./-]*\.(?:js|css))['"]""")
DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*['"]([^'"]+)['"]\s*\)""")
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
METRICS = {  # audit id -> (label, unit)
    "cumulative-layout-shift": ("CLS", ""),
    "first-contentful-paint": ("FCP", "ms"),
    "largest-contentful-paint": ("LCP", "ms"),
    "total-blocking-time": ("TBT", "ms"),
    "speed-index": ("SI", "ms"),
}
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


def lighthouse_run(url: str, form_factor: str) -> dict:
    """One Lighthouse audit of ``url`` (its default mobile emulation, or its desktop preset)."""
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        command = [
            str(LIGHTHOUSE),
            url,
            "--output=json",
            f"--output-path={report_path}",
            "--quiet",
            f"--only-categories={','.join(CATEGORIES)}",
            f"--chrome-flags={' '.join(CHROMIUM_ARGS)}",
            *(["--preset=desktop"] if form_factor == "desktop" else []),
        ]
        subprocess.run(command, env={**os.environ, "CHROME_PATH": CHROMIUM}, check=True, timeout=600)
        return json.loads(report_path.read_text("utf-8"))


def lighthouse(url: str, runs: int) -> None:
    if not LIGHTHOUSE.exists():
        raise SystemExit(f"no Lighthouse at {LIGHTHOUSE}: `make lighthouse` installs it from npm")
    header = ["", *CATEGORIES, *(label for label, _ in METRICS.values()), "CPU benchmark"]
    rows, version = [], "?"
    for form_factor in ("desktop", "mobile"):
        reports = [lighthouse_run(url, form_factor) for _ in range(runs)]
        version = reports[0]["lighthouseVersion"]
        row = [form_factor]
        for category in CATEGORIES:
            scores = sorted(round(r["categories"][category]["score"] * 100) for r in reports)
            spread = f" ({scores[0]}-{scores[-1]})" if scores[0] != scores[-1] else ""
            row.append(f"{statistics.median(scores):.0f}{spread}")
        for audit, (_, unit) in METRICS.items():
            value = statistics.median(r["audits"][audit]["numericValue"] for r in reports)
            row.append(f"{value:.0f} ms" if unit else f"{value:.3f}")
        row.append(f"{statistics.median(r['environment']['benchmarkIndex'] for r in reports):.0f}")
        rows.append(row)
    print(f"\nLighthouse {version} on {url}, median of {runs} run(s) each (min-max where they differ):\n")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def widget_files(entry: Path = WIDGET) -> dict[Path, bool]:
    """Every file the widget can load, in the order first met, each with whether it is loaded on demand only
    (reached through a dynamic ``import()``, like the facets): from its module, each relative .js or .css path
    quoted in a module, followed. A path that names no file is an error: it would fail in the browser too."""
    files: dict[Path, bool] = {}
    queue = [(entry.resolve(), False)]
    while queue:
        path, on_demand = queue.pop(0)
        if not path.is_file():
            raise FileNotFoundError(f"the widget loads {path}, which does not exist")
        if path in files and (on_demand or not files[path]):
            continue
        files[path] = on_demand
        if path.suffix == ".js":
            text = path.read_text("utf-8")
            dynamic = set(DYNAMIC_IMPORT.findall(text))
            for name in QUOTED_FILE.findall(text):
                queue.append(((path.parent / name).resolve(), on_demand or name in dynamic))
    return files


def gzipped_size(path: Path) -> int:
    """Bytes of ``path`` as the local stack sends it to a browser that accepts gzip (CloudFront compresses too)."""
    return len(gzip.compress(path.read_bytes(), compresslevel=GZIP_LEVEL))


def report_widget() -> None:
    files = widget_files()
    print("The <talk-search> widget: every file it loads, gzipped as the local stack serves it\n")
    for path, on_demand in files.items():
        note = "  (on demand: with the facets attribute)" if on_demand else ""
        print(f"  {gzipped_size(path):>7,} B  {path.relative_to(FRONTEND)}{note}")
    always = sum(gzipped_size(path) for path, on_demand in files.items() if not on_demand)
    everything = sum(gzipped_size(path) for path in files)
    print(f"\n  {always:,} B ({always / 1024:.1f} kB) without facets,", end=" ")
    print(f"{everything:,} B ({everything / 1024:.1f} kB) with them")


def content_folder(path: Path, workdir: Path) -> Path:
    """A content folder for the stack: ``path`` itself, or a folder holding the one file ``path``."""
    if path.is_dir():
        return path
    folder = workdir / "content"
    folder.mkdir()
    (folder / path.name).symlink_to(path.resolve())
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=ROOT / "content" / "sample", help="a content folder or file")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--lighthouse", action="store_true", help="Lighthouse scores instead of bytes and timings")
    parser.add_argument("--query", default="python", help="the search Lighthouse audits (default: python)")
    parser.add_argument("--lighthouse-runs", type=int, default=3)
    parser.add_argument("--url", help="audit this running page (e.g. make dev's) instead of starting a stack")
    parser.add_argument("--widget", action="store_true", help="the widget's files and their gzipped sizes")
    args = parser.parse_args()
    if args.widget:
        report_widget()
        return
    if args.lighthouse and args.url:
        lighthouse(args.url, args.lighthouse_runs)
        return
    with tempfile.TemporaryDirectory() as workdir:
        stack = start_stack(content_folder(args.content, Path(workdir)), log=lambda line: None)
        try:
            if args.lighthouse:
                lighthouse(f"{stack.url}?{urlencode({'q': args.query})}", args.lighthouse_runs)
            else:
                measure(stack.url, args.runs)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
