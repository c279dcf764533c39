"""Blog source trees as content: Jekyll, Hugo, Eleventy and Astro posts, split per talk, with their dates and URLs."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from index_builder import build_and_publish
from index_builder.parsers import ContentError, SiteConfig, parse_source
from tests.test_builder_incremental import published_documents

FIXTURES = Path(__file__).parent / "fixtures"
JEKYLL_BLOG = FIXTURES / "jekyll-blog"
HUGO_BLOG = FIXTURES / "hugo-blog"
SEED_KEY = "_posts/2013-06-07-dotscale.md"
SEED_SPEAKERS = [
    (["Claire Vasseur"], "Nuage Ouvert"),
    (["Marc-Antoine Ribeiro"], "Datalyse"),
    (["Sophie Lindqvist"], "Polar Systems"),
    (["Julien Morel", "Inès Haddad"], "Vélocité"),
    (["Thomas Ngata"], "Kiwi Compute"),
    (["Élise Fournier"], "Banque Hexagone"),
    (["David Okafor"], "Lagos Stack"),
    (["Hélène Marchetti"], "Archives Numériques"),
    (["Pieter van den Berg"], "Dijk Cloud"),
    (["Camille Dubreuil"], "Studio Lumière"),
    (["Rafael Ortega"], "Sol Analytics"),
]


def site_of(root: Path, **options) -> SiteConfig:
    keys = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    return SiteConfig.from_files(keys, lambda key: (root / key).read_bytes(), **options)


def parse_file(root: Path, key: str, site: SiteConfig | None = None):
    return parse_source(key, (root / key).read_bytes(), site)


# --- Jekyll ------------------------------------------------------------------------------------


def test_the_seed_as_a_jekyll_post_gives_its_eleven_talks_with_year_2013():
    # GIVEN the dotScale 2013 recap saved as a Jekyll post: layout: blog, no date in its front matter
    talks = parse_file(JEKYLL_BLOG, SEED_KEY).talks
    # THEN its eleven talks come out, dated by the file name, and nothing else poses as a talk
    assert [(t.speakers, t.company) for t in talks] == SEED_SPEAKERS
    assert {(t.date, t.year) for t in talks} == {("2013-06-07", 2013)}
    assert talks[0].title == "Des conteneurs pour en finir avec « ça marche sur ma machine »"
    assert talks[1].title == "Redis, bien plus qu'un cache"  # an emphasised opening line
    assert talks[9].title == "Le cache HTTP, premier outil de montée en charge"  # "Titre : …"
    assert all(t.event == "dotScale 2013 : nos notes de la première édition" and t.lang == "fr" for t in talks)
    assert not any("lightning" in t.title.lower() or "programme" in t.title.lower() for t in talks)
    assert "Exemple, Pas Un Talk" in talks[4].summary  # a heading inside a fenced block is code
    assert talks[0].id == "_posts/2013-06-07-dotscale/claire-vasseur-nuage-ouvert"
    assert talks[0].url == ""  # no site URL known from the file alone


def test_jekyll_urls_follow_the_sites_config_permalink_and_the_posts_own():
    # GIVEN the blog's _config.yml (url, baseurl, permalink: /:year/:month/:title/)
    site = site_of(JEKYLL_BLOG)
    assert (site.kind, site.base_url, site.problems) == ("jekyll", "https://carnet.example.org/blog", ())
    talks = parse_file(JEKYLL_BLOG, SEED_KEY, site).talks
    # THEN each talk links to the post as Jekyll publishes it, plus the section's anchor
    assert talks[0].url == "https://carnet.example.org/blog/2013/06/dotscale/#claire-vasseur-nuage-ouvert"
    assert talks[5].url == "https://carnet.example.org/blog/2013/06/dotscale/#élise-fournier-banque-hexagone"


@pytest.mark.parametrize(
    ("permalink", "front_matter", "key", "path"),
    [
        ("", "", "_posts/2013-06-07-dotscale.md", "/2013/06/07/dotscale.html"),  # Jekyll's default: date
        ("pretty", "", "_posts/2013-06-07-dotscale.md", "/2013/06/07/dotscale/"),
        ("none", "", "_posts/2013-06-07-dotscale.md", "/dotscale.html"),
        ("ordinal", "", "_posts/2013-06-07-dotscale.md", "/2013/158/dotscale.html"),
        ("/:categories/:title/", "categories: [Conférences, Paris]\n", "_posts/2013-06-07-dotscale.md",
         "/conférences/paris/dotscale/"),
        ("", "category: Scale\n", "notes/_posts/2013-06-07-dot-Scale.md", "/notes/scale/2013/06/07/dot-Scale.html"),
        ("", "permalink: /recaps/dotscale-2013/\n", "_posts/2013-06-07-dotscale.md", "/recaps/dotscale-2013/"),
        ("", "date: 2013-06-10 09:00:00 +0200\n", "_posts/2013-06-07-dotscale.md", "/2013/06/10/dotscale.html"),
        ("", "slug: dotscale-paris\n", "_posts/2013-06-07-dotscale.md", "/2013/06/07/dotscale-paris.html"),
    ],
)  # fmt: skip
def test_jekyll_permalinks(permalink, front_matter, key, path):
    site = SiteConfig(kind="jekyll", base_url="https://blog.example.org", permalink=permalink)
    text = f"---\nlayout: blog\n{front_matter}---\n\n## Marie Dupont, Acme\n\nUn talk.\n"
    (talk,) = parse_source(key, text.encode(), site).talks
    url_path = talk.url.removeprefix("https://blog.example.org").split("#")[0]
    assert url_path == path.replace("é", "%C3%A9")


def test_a_jekyll_tree_indexes_its_posts_and_skips_everything_else_quietly(tmp_path):
    # GIVEN the whole blog source: config, layouts, a README, a page, a draft, an unpublished post, an ordinary post
    content = shutil.copytree(JEKYLL_BLOG, tmp_path / "blog")
    report = build_and_publish(str(content), str(tmp_path / "index"))
    # THEN only the recap's talks are indexed, and none of the other files is reported as broken
    assert report.published and report.talks_indexed == 11
    assert report.skipped == [] and report.warnings == []
    documents = published_documents(tmp_path / "index", tmp_path)
    assert {d["source"] for d in documents.values()} == {SEED_KEY}
    assert {d["date"] for d in documents.values()} == {"2013-06-07"}


def test_changing_the_site_url_relinks_every_talk_on_the_next_build(tmp_path, monkeypatch):
    content = shutil.copytree(JEKYLL_BLOG, tmp_path / "blog")
    index = tmp_path / "index"
    assert build_and_publish(str(content), str(index)).published
    # WHEN only _config.yml changes (the posts' bytes do not)
    config = content / "_config.yml"
    config.write_text(config.read_text().replace("carnet.example.org", "notes.example.net"))
    report = build_and_publish(str(content), str(index))
    # THEN every file is read again and the talks link to the new address
    assert report.published and report.mode == "full"
    assert report.warnings == ["parsing changed (site URL, permalinks, parser): every file read again"]
    urls = {d["url"].split("#")[0] for d in published_documents(index, tmp_path).values()}
    assert urls == {"https://notes.example.net/blog/2013/06/dotscale/"}
    # AND an explicit site URL (the CLI's --site-url, $TALKSEARCH_SITE_URL) wins over the configuration
    monkeypatch.setenv("TALKSEARCH_SITE_URL", "https://override.example.com/")
    assert build_and_publish(str(content), str(index)).published
    urls = {d["url"].split("#")[0] for d in published_documents(index, tmp_path).values()}
    assert urls == {"https://override.example.com/2013/06/dotscale/"}


def test_posts_without_a_site_url_are_indexed_with_a_warning(tmp_path):
    content = tmp_path / "content"
    (content / "_posts").mkdir(parents=True)
    shutil.copy(JEKYLL_BLOG / SEED_KEY, content / SEED_KEY)
    report = build_and_publish(str(content), str(tmp_path / "index"))
    assert report.talks_indexed == 11 and report.skipped == []
    assert report.warnings == [
        "no site URL: the talks of blog posts have no link (set url in _config.yml, "
        "baseURL in hugo.toml, or the builder's --site-url)"
    ]


# --- Hugo --------------------------------------------------------------------------------------


def test_hugo_posts_with_toml_front_matter_bundles_and_drafts():
    site = site_of(HUGO_BLOG)
    assert (site.kind, site.base_url) == ("hugo", "https://hugo.example.org")
    # a post with TOML front matter, a slug and talks
    devfest = parse_file(HUGO_BLOG, "content/posts/devfest-nantes-2024.md", site).talks
    assert [(t.speakers, t.title) for t in devfest] == [
        (["Léa Garnier"], "Observer une application sans se noyer dans les journaux"),
        (["Hugo Lambert"], "Mesurer l'empreinte carbone d'un site"),
    ]
    assert {(t.date, t.event) for t in devfest} == {("2024-10-18", "DevFest Nantes 2024")}
    assert devfest[0].url == "https://hugo.example.org/posts/devfest-nantes/#léa-garnier-océan-logiciel"
    # a page bundle (YAML front matter), named by its folder
    (bundle,) = parse_file(HUGO_BLOG, "content/posts/meetup-python-mai/index.md", site).talks
    assert bundle.url == "https://hugo.example.org/posts/meetup-python-mai/#nadia-benali-piste-cyclable"
    # a draft, the home page's _index.md and a layout give nothing, and no error
    for key in ("content/posts/brouillon.md", "content/_index.md", "layouts/_default/single.html", "hugo.toml"):
        assert parse_file(HUGO_BLOG, key, site).talks == []


def test_a_hugo_tree_indexes_its_posts_and_skips_the_rest_quietly(tmp_path):
    content = shutil.copytree(HUGO_BLOG, tmp_path / "site")
    report = build_and_publish(str(content), str(tmp_path / "index"))
    assert report.published and report.talks_indexed == 3
    assert report.skipped == [] and report.warnings == []


@pytest.mark.parametrize(
    ("pattern", "path"),
    [("/:year/:month/:slug/", "/2024/10/devfest-nantes/"), ("/:section/:title/", "/posts/retour-sur-le-devfest/"),
     ("/archives/:filename/", "/archives/devfest-2024/")],
)  # fmt: skip
def test_hugo_permalinks(pattern, path):
    site = SiteConfig(kind="hugo", base_url="https://hugo.example.org", hugo_permalinks=(("posts", pattern),))
    slug = 'slug = "devfest-nantes"\n' if ":slug" in pattern else ""
    text = f'+++\ntitle = "Retour sur le DevFest"\ndate = 2024-10-18\n{slug}+++\n## Marie Dupont, Acme\n\nUn talk.\n'
    (talk,) = parse_source("content/posts/devfest-2024.md", text.encode(), site).talks
    assert talk.url == f"https://hugo.example.org{path}#marie-dupont-acme"


def test_hugo_config_yaml_permalinks_and_ugly_urls():
    config = b"baseURL: https://hugo.example.org/\nuglyURLs: true\npermalinks:\n  page:\n    talks: /t/:slug/\n"
    site = SiteConfig.from_files(["config.yaml", "content/posts/a.md"], lambda key: config)
    assert site.hugo_permalinks == (("talks", "/t/:slug/"),) and site.ugly_urls
    (talk,) = parse_source("content/posts/a.md", b"## Marie Dupont, Acme\n\nUn talk.\n", site).talks
    assert talk.url == "https://hugo.example.org/posts/a.html#marie-dupont-acme"


# --- Eleventy and Astro ------------------------------------------------------------------------


def test_eleventy_posts_date_from_the_file_name_permalink_and_drafts():
    site = SiteConfig.from_files(["eleventy.config.js", "posts/2024-03-02-meetup.md"], lambda key: b"")
    assert site.kind == "eleventy"
    text = b"---\ntitle: Meetup\ntags: [post]\n---\n## Marie Dupont, Acme\n\nUn talk.\n"
    (talk,) = parse_source(
        "posts/2024-03-02-meetup.md", text, SiteConfig(kind="eleventy", base_url="https://e.example")
    ).talks
    assert (talk.date, talk.url) == ("2024-03-02", "https://e.example/posts/2024-03-02-meetup/#marie-dupont-acme")
    custom = b"---\npermalink: /meetups/mars/\n---\n## Marie Dupont, Acme\n\nUn talk.\n"
    (talk,) = parse_source("posts/x.md", custom, SiteConfig(kind="eleventy", base_url="https://e.example")).talks
    assert talk.url == "https://e.example/meetups/mars/#marie-dupont-acme"
    draft = b"---\ntitle: Pas fini\ndraft: true\n---\n## Marie Dupont, Acme\n\nUn talk.\n"
    assert parse_source("posts/draft.md", draft, site).talks == []


def test_astro_content_collection_posts():
    site = SiteConfig(kind="astro", base_url="https://a.example")
    text = b"---\ntitle: 'Retour de meetup'\npubDate: 'Jul 08 2022'\n---\n## Marie Dupont, Acme\n\nUn talk.\n"
    (talk,) = parse_source("src/content/blog/retour-meetup.md", text, site).talks
    assert (talk.date, talk.url) == ("2022-07-08", "https://a.example/blog/retour-meetup/#marie-dupont-acme")
    assert parse_source("src/components/Card.astro", b"<div/>", site).talks == []


# --- what is not a post ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["README.md", "docs/README.md", "LICENSE.md", "CHANGELOG.md", "_config.yml", "_layouts/post.html",
     "_includes/talk.md", "_drafts/notes.md", "_data/talks.json", "_site/index.html", ".github/ISSUE.md",
     "node_modules/pkg/README.md"],
)  # fmt: skip
def test_files_that_are_not_posts_are_left_out_quietly_in_any_tree(key):
    assert parse_source(key, b"## Marie Dupont, Acme\n\nUn talk.\n").talks == []


def test_in_a_plain_content_folder_the_old_rules_hold():
    # outside a blog tree, a Markdown file without talks and a non-content file are still reported
    with pytest.raises(ContentError, match="no talk sections"):
        parse_source("recaps/notes.md", b"# Notes\n\nRien.\n")
    with pytest.raises(ContentError, match="unsupported file type"):
        parse_source("notes.txt", b"hello")
    # and a draft is left out wherever it is
    assert parse_source("recaps/x.md", b"---\ndraft: true\n---\n## Marie Dupont, Acme\n\nT.\n").talks == []


@pytest.mark.parametrize("kind", ["jekyll", "hugo", "eleventy", "astro"])
@pytest.mark.parametrize("key", ["src", "content", "_posts/2013-02-30-x.md", "_posts/x.md", "content/_index.md"])
def test_odd_file_names_never_break_a_site(kind, key):
    site = SiteConfig(kind=kind, base_url="https://blog.example.org", permalink="ordinal")
    with contextlib.suppress(ContentError):  # a reason is fine; any other exception is a bug
        parse_source(key, b"## Marie Dupont, Acme\n\nUn talk.\n", site)
