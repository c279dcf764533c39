"""Blog source trees as content: which files are posts, their dates, drafts and URLs.

A content tree may be a Jekyll, Hugo, Eleventy or Astro site (or just its posts). ``SiteConfig`` is
read once per build from the tree's own configuration (``_config.yml``'s ``url``, ``baseurl`` and
``permalink``; ``hugo.toml``'s ``baseURL``, ``[permalinks]`` and ``uglyURLs``), and an explicit site
URL overrides theirs. For each Markdown file it says whether it is left out (a draft, an unpublished
post, a layout, a README), its date (front matter, else a ``YYYY-MM-DD-`` file name), and its URL as
the generator would publish it. A file that is not a post is left out quietly, never reported.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from index_builder.parsers.fields import ContentError, clean_date, clean_list, clean_text
from index_builder.parsers.front_matter import MAX_FRONT_MATTER_BYTES, load_toml_mapping, load_yaml_mapping
from index_builder.parsers.source import decode, is_supported
from index_builder.text import word_set

#: Bump when parsing gives other talks for the same bytes: the next build then reads every file again.
PARSER_VERSION = 2  # 2: CommonMark (markdown-it-py), blog source trees
#: The blog's address for talk links, over what the content's own configuration says (the CLI's --site-url).
ENV_SITE_URL = "TALKSEARCH_SITE_URL"
#: Site configuration files at the root of the content tree, by generator.
CONFIG_FILES = {
    "_config.yml": "jekyll", "_config.yaml": "jekyll",
    "hugo.toml": "hugo", "hugo.yaml": "hugo", "hugo.yml": "hugo", "hugo.json": "hugo",
    "config.toml": "hugo", "config.yaml": "hugo", "config.yml": "hugo", "config.json": "hugo",
}  # fmt: skip
#: Files whose presence at the root names the generator (their JavaScript is not read).
GENERATOR_MARKERS = {
    ".eleventy.js": "eleventy", "eleventy.config.js": "eleventy", "eleventy.config.mjs": "eleventy",
    "eleventy.config.cjs": "eleventy", "astro.config.mjs": "astro", "astro.config.js": "astro",
    "astro.config.ts": "astro", "astro.config.mts": "astro",
}  # fmt: skip
#: Folders that never hold posts, in any tree (``_drafts`` holds drafts: left out too).
_NOT_POSTS = word_set("_layouts _includes _sass _data _site _plugins _drafts node_modules")
#: Folders of a Hugo site that are not content, and of an Astro site's ``src/``.
_HUGO_NOT_CONTENT = word_set("layouts themes static assets archetypes i18n resources public")
_ASTRO_NOT_CONTENT = ("src/components/", "src/layouts/", "src/styles/")
_PROJECT_FILES = word_set("readme license licence changelog contributing code_of_conduct security")
_DATED_NAME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-(.*)$")
#: Jekyll's built-in permalink styles (``date`` is the default).
_JEKYLL_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_PLACEHOLDER = re.compile(r":([a-z_]+)")


@dataclass(frozen=True)
class PostInfo:
    """What the site says about one Markdown file that is published."""

    url: str  # absolute, or "" when the site URL is unknown
    date: str  # YYYY-MM-DD (or shorter) or ""
    in_blog: bool  # a post or page of a blog: having no talk sections is normal, not an error


@dataclass(frozen=True)
class SiteConfig:
    kind: str = ""  # "jekyll", "hugo", "eleventy", "astro", or "" for a plain folder of talk summaries
    base_url: str = ""  # scheme, host and base path, no trailing slash
    permalink: str = ""  # Jekyll's site-wide permalink (a style name or a pattern)
    hugo_permalinks: tuple[tuple[str, str], ...] = ()  # section → pattern
    ugly_urls: bool = False
    problems: tuple[str, ...] = ()  # why a configuration was not (fully) used

    @classmethod
    def from_files(
        cls, keys: Iterable[str], read: Callable[[str], bytes], *, site_url: str | None = None
    ) -> SiteConfig:
        """The site of a content tree, from its root configuration file; ``site_url`` overrides its URL."""
        keys = list(keys)
        roots = {k for k in keys if "/" not in k}
        kind, settings, problems = "", {}, []
        for name in (n for n in CONFIG_FILES if n in roots):
            try:
                settings = _load_config(name, read(name))
            except Exception as error:  # any unreadable configuration only costs the URLs, never the build
                problems.append(f"{name}: site configuration not used ({error})")
                continue
            if CONFIG_FILES[name] == "hugo" and name.startswith("config.") and "baseurl" not in settings:
                settings = {}  # a config.* without baseURL is somebody else's file
                continue
            kind = CONFIG_FILES[name]
            break
        kind = kind or next((GENERATOR_MARKERS[n] for n in sorted(roots) if n in GENERATOR_MARKERS), "")
        if kind == "jekyll":
            url, path = clean_text(settings.get("url")).rstrip("/"), clean_text(settings.get("baseurl")).strip("/")
            base = f"{url}/{path}" if url and path else url
        else:
            base = clean_text(settings.get("baseurl"))
        base = (site_url or base).strip().rstrip("/")
        if base and urlsplit(base).scheme not in ("http", "https"):
            problems.append(f"site URL {base!r} is not an http(s) URL: talk links are left empty")
            base = ""
        if not base and (kind or any("_posts/" in f"/{k}" for k in keys)):
            problems.append(
                "no site URL: the talks of blog posts have no link (set url in _config.yml, "
                "baseURL in hugo.toml, or the builder's --site-url)"
            )
        links = settings.get("permalinks") if kind == "hugo" else None
        if isinstance(links, dict) and isinstance(links.get("page"), dict):
            links = links["page"]  # Hugo 0.112+: [permalinks.page]
        return cls(
            kind=kind,
            base_url=base,
            permalink=clean_text(settings.get("permalink")) if kind == "jekyll" else "",
            hugo_permalinks=tuple(sorted((str(k), v) for k, v in (links or {}).items() if isinstance(v, str))),
            ugly_urls=settings.get("uglyurls") is True,
            problems=tuple(problems),
        )

    @property
    def fingerprint(self) -> str:
        """Changes whenever what a file parses to could change although its bytes did not."""
        settings = {k: v for k, v in asdict(self).items() if k != "problems"} | {"parser": PARSER_VERSION}
        return hashlib.blake2b(json.dumps(settings).encode(), digest_size=8).hexdigest()

    def is_ignored(self, key: str) -> bool:
        """True for a file that is no post: left out quietly (layouts, drafts, READMEs, site files)."""
        parts = key.split("/")
        name = parts[-1]
        if any(p.startswith(".") or p in _NOT_POSTS for p in parts):
            return True
        if name.split(".")[0].lower() in _PROJECT_FILES:
            return True
        if len(parts) == 1 and (name in CONFIG_FILES or name in GENERATOR_MARKERS):
            return name != "config.json" or self.kind == "hugo"  # a plain folder's config.json may hold talks
        if self.kind == "hugo" and parts[0] in _HUGO_NOT_CONTENT:
            return True
        if self.kind == "astro" and (parts[0] == "public" or key.startswith(_ASTRO_NOT_CONTENT)):
            return True
        return bool(self.kind) and not is_supported(key)

    def describe(self, key: str, fields: dict[str, Any]) -> PostInfo | None:
        """The post's date and URL; None when it is a draft or unpublished (left out)."""
        if fields.get("published") in (False, "false") or fields.get("draft") in (True, "true"):
            return None
        dated = _DATED_NAME.match(_page_name(key))
        date = next(
            (d for d in (clean_date(fields.get(k)) for k in ("date", "pubdate", "publishdate")) if d),
            "-".join((dated.group(1), dated.group(2).zfill(2), dated.group(3).zfill(2))) if dated else "",
        )
        jekyll_post = "_posts" in key.split("/")[:-1] or (self.kind == "jekyll" and dated is not None)
        return PostInfo(self._url(key, fields, date, jekyll_post), date, bool(self.kind) or jekyll_post)

    # --- URLs -------------------------------------------------------------------------------------
    def _url(self, key: str, fields: dict[str, Any], date: str, jekyll_post: bool) -> str:
        own = clean_text(fields.get("url"))
        if own and (urlsplit(own).scheme or not self.base_url):
            return own  # the post's own URL, as given
        if not self.base_url:
            return ""
        if own:
            return f"{self.base_url}/{own.lstrip('/')}"
        if jekyll_post:
            path = self._jekyll_post_path(key, fields, date)
        elif self.kind == "hugo" and key.startswith("content/"):
            path = self._hugo_path(key, fields, date)
        elif self.kind in ("jekyll", "eleventy") or (self.kind == "astro" and key.startswith("src/")):
            path = self._page_path(key, fields)
        else:
            return ""
        path = re.sub(r"/+", "/", f"/{path}")
        return self.base_url + quote(path, safe="/:@!$&'()*+,;=-._~%")

    def _jekyll_post_path(self, key: str, fields: dict[str, Any], date: str) -> str:
        folders = key.split("/")[:-1]
        categories = folders[: folders.index("_posts")] if "_posts" in folders else []
        categories += [clean_text(fields.get("category"))] if isinstance(fields.get("category"), str) else []
        raw = fields.get("categories")
        categories += raw.split() if isinstance(raw, str) else clean_list(raw)
        dated = _DATED_NAME.match(_page_name(key))
        name = dated.group(4) if dated else _page_name(key)
        title = clean_text(fields.get("slug")) or name
        year, month, day = ([*date.split("-"), "", ""])[:3]
        values = {
            "year": year, "month": month, "day": day, "i_month": month.lstrip("0"), "i_day": day.lstrip("0"),
            "short_year": year[2:], "title": _jekyll_slug(title, pretty=True), "slug": _jekyll_slug(title),
            "name": _jekyll_slug(name), "output_ext": ".html",
            "categories": "/".join(dict.fromkeys(c.lower() for c in categories if c)),
        }  # fmt: skip
        with contextlib.suppress(ValueError):  # a file named 2013-02-30-… has no day of the year
            values["y_day"] = f"{dt.date.fromisoformat(date).timetuple().tm_yday:03d}"
        pattern = clean_text(fields.get("permalink")) or self.permalink or "date"
        pattern = _JEKYLL_STYLES.get(pattern, pattern)
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), pattern)

    def _hugo_path(self, key: str, fields: dict[str, Any], date: str) -> str:
        parts = key.split("/")[1:]  # under content/
        stem, folders = parts[-1].rsplit(".", 1)[0], parts[:-1]
        section = folders[0] if folders else ""
        if stem == "_index":  # a section's list page
            return "/".join(folders).lower() + "/"
        if stem == "index" and folders:  # a page bundle: the folder names the page
            stem, folders = folders[-1], folders[:-1]
        title, slug = clean_text(fields.get("title")), clean_text(fields.get("slug"))
        pattern = dict(self.hugo_permalinks).get(section)
        if pattern:
            year, month, day = ([*date.split("-"), "", ""])[:3]
            values = {
                "year": year, "month": month, "day": day, "section": section, "sections": "/".join(folders),
                "title": _urlize(title), "slug": _urlize(slug or title), "filename": stem,
                "slugorfilename": _urlize(slug) or stem, "contentbasename": stem,
            }  # fmt: skip
            path = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), pattern)
        else:
            path = "/".join([*folders, _urlize(slug) or stem]) + (".html" if self.ugly_urls else "/")
        return path.lower()

    def _page_path(self, key: str, fields: dict[str, Any]) -> str:
        """Pages of Jekyll, posts of Eleventy and Astro: the front matter's permalink, else the file's path."""
        if isinstance(fields.get("permalink"), str):
            return fields["permalink"]
        parts = key.split("/")
        if self.kind == "astro":  # src/content/blog/x.md → /blog/x/, src/pages/posts/x.md → /posts/x/
            parts = parts[2:] if parts[1] in ("content", "pages") else parts[1:]
        stem = parts[-1].rsplit(".", 1)[0]
        parts = parts[:-1] + ([] if stem == "index" else [clean_text(fields.get("slug")) or stem])
        if self.kind == "jekyll" and self.permalink != "pretty":
            return "/".join(parts) + ("/" if stem == "index" else ".html")
        return "/".join(parts) + "/"


def _load_config(name: str, data: bytes) -> dict[str, Any]:
    if len(data) > MAX_FRONT_MATTER_BYTES:
        raise ContentError(f"over {MAX_FRONT_MATTER_BYTES // 1024} KB")
    text = decode(data)
    if name.endswith(".toml"):
        return load_toml_mapping(text)
    if name.endswith(".json"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise ContentError(f"invalid JSON ({error})") from None
        return {str(k).lower(): v for k, v in data.items()} if isinstance(data, dict) else {}
    return load_yaml_mapping(text)


def _page_name(key: str) -> str:
    """The file name without its suffix, or its folder's for a bundle's ``index.md``."""
    parts = key.split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    return parts[-2] if stem in ("index", "_index") and len(parts) > 1 else stem


def _jekyll_slug(text: str, *, pretty: bool = False) -> str:
    """Jekyll's ``slugify``: "default" mode (lowercase letters and digits), or "pretty" (case and ``.~!$&'()+,;=@``
    kept), each run of other characters becoming one hyphen."""
    keep = r"\w.~!$&'()+,;=@" if pretty else r"\w"
    slug = re.sub(rf"[^{keep}]+|_+", "-", text).strip("-")
    return slug if pretty else slug.lower()


def _urlize(text: str) -> str:
    """Hugo's ``urlize`` for the common case: lowercased, spaces to hyphens, punctuation dropped."""
    return re.sub(r"[^\w\-.]", "", re.sub(r"\s+", "-", text.strip())).lower()
