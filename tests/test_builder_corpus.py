"""The real 21,713-talk pyvideo corpus builds and publishes to (moto) S3 with every record id kept."""

from __future__ import annotations

import gzip
import json

import boto3
import pytest
from moto import mock_aws

from index_builder import build_and_publish
from talksearch.store import open_store
from tests.index_support import indexed_ids, unpacked_index

BUCKET = "talksearch-corpus-test"


@pytest.mark.shared
def test_full_corpus_builds_and_publishes_to_s3(full_corpus, tmp_path):
    with gzip.open(full_corpus, "rt", encoding="utf-8") as lines:
        expected_ids = {json.loads(line)["id"] for line in lines}
    assert len(expected_ids) == 21_713
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        s3.upload_file(str(full_corpus), BUCKET, f"content/{full_corpus.name}")
        # WHEN the corpus is built and published
        report = build_and_publish(f"s3://{BUCKET}/content", f"s3://{BUCKET}/index")
        # THEN it is published without a skipped file, and readers get every id, unchanged
        assert report.published and report.skipped == [] and report.warnings == []
        assert report.talks_indexed == 21_713
        store = open_store(f"s3://{BUCKET}/index")
        manifest, _ = store.read_manifest()
        assert manifest.talk_count == 21_713
        unpacked_index(store, manifest, tmp_path / "index")
    assert indexed_ids(tmp_path / "index") == expected_ids
