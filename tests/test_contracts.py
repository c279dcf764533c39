"""talksearch.contracts: each shared fact has one home, and every part reads it from there."""

from __future__ import annotations

import pytest

from functions.rebuild import app as rebuild_app
from talksearch.contracts import Locations, index_location_from_env, s3_location
from talksearch.store import open_store


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
