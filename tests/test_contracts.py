"""talksearch.contracts: each shared fact has one home, and every part reads it from there."""

from __future__ import annotations

import pytest

from functions.rebuild import app as rebuild_app
from functions.search import params
from functions.search.openapi import OPENAPI_DOCUMENT
from talksearch import contracts, page_contracts
from talksearch.contracts import Locations, index_location_from_env, s3_location
from talksearch.schema import FACETS
from talksearch.store import open_store


def test_the_page_module_is_what_the_contracts_generate():
    # GIVEN frontend/js/contracts.js as committed THEN it is exactly what talksearch/contracts.py gives today
    # (if not: run `python -m talksearch.page_contracts` and commit the file)
    assert page_contracts.PAGE_MODULE.read_text(encoding="utf-8") == page_contracts.render()
    for name in page_contracts.EXPORTED:
        assert f"export const {name} = " in page_contracts.render()


def test_the_page_reads_its_bounds_from_the_generated_module():
    for name in ("url.js", "state.js"):  # the URL's state and the page's reading of it
        source = (page_contracts.PAGE_MODULE.parent / name).read_text(encoding="utf-8")
        assert "from './contracts.js'" in source, name
        assert "= 200" not in source and "'speaker'" not in source, name  # no copy of a bound or a facet name


def test_api_bounds_facets_and_sorts_have_one_home():
    assert tuple(FACETS) == contracts.FACET_NAMES
    assert ("q", "page", "size", "sort", "exact", *contracts.FACET_NAMES) == params.SEARCH_PARAMETERS
    search = OPENAPI_DOCUMENT["paths"]["/api/search"]["get"]["parameters"]
    assert [p["name"] for p in search] == list(params.SEARCH_PARAMETERS)
    assert search[0]["schema"]["maxLength"] == contracts.MAX_QUERY_CHARS
    assert search[3]["schema"]["enum"] == list(contracts.SORTS)


def test_a_location_has_no_trailing_slash():
    assert s3_location("bucket") == "s3://bucket"
    assert s3_location("bucket", "/index/") == "s3://bucket/index"
    assert open_store(s3_location("bucket", "index/")).location == "s3://bucket/index"


def test_locations_come_from_the_environment_the_template_sets():
    env = {"CONTENT_BUCKET": "talks", "INDEX_BUCKET": " idx ", "CONTENT_PREFIX": "recaps/"}
    locations = Locations.from_env(env)
    assert (locations.content, locations.index) == ("s3://talks/recaps", "s3://idx/index")
    assert Locations.from_env(locations.to_env()) == locations
    assert locations.holds("recaps/2026/devfest.md") and not locations.holds("other/x.md")
    assert not locations.holds("recaps/folder/")
    assert index_location_from_env(env) == "s3://idx/index"  # the search function is given the index only
    assert index_location_from_env({"INDEX_BUCKET": "idx", "INDEX_PREFIX": ""}) == "s3://idx"
    assert index_location_from_env({}) is None
    assert rebuild_app.Locations is Locations


def test_missing_buckets_are_named():
    with pytest.raises(RuntimeError, match="CONTENT_BUCKET"):
        Locations.from_env({"INDEX_BUCKET": "idx"})
