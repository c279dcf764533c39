"""``python -m index_builder``: build, roll back, and list the published index versions."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from index_builder.build import build_and_publish, keep_versions_from_env
from index_builder.parsers import MAX_SOURCE_BYTES
from index_builder.publish import rollback
from talksearch.contracts import DEFAULT_KEEP_VERSIONS, ENV_KEEP_VERSIONS
from talksearch.store import ManifestConflictError, StoreError, open_store

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3

LOCATION_HELP = "a local directory or s3://bucket/prefix (endpoint from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)"


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m index_builder",
        description="Build the talksearch index from talk summaries and publish it behind an atomic manifest.",
    )
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser(
        "build",
        help="build (incrementally by default) and publish the index",
        description="List the content, re-index what changed since the published build, upload the new index "
        "as a new version and switch the manifest to it with a conditional write. A broken file is skipped and "
        "reported; an empty result, or one that lost most talks while the content did not shrink, is not published.",
    )
    build.add_argument("--source", required=True, help=f"where the talk summaries are: {LOCATION_HELP}")
    build.add_argument("--index", required=True, help=f"where to publish the index: {LOCATION_HELP}")
    build.add_argument(
        "--full", action="store_true", help="ignore the previous build and re-index every file (default: incremental)"
    )
    build.add_argument(
        "--keep-versions",
        type=int,
        default=None,
        metavar="N",
        help=f"versions kept for rollback, older ones are deleted (default: ${ENV_KEEP_VERSIONS} or "
        f"{DEFAULT_KEEP_VERSIONS})",
    )
    build.add_argument(
        "--max-file-mb",
        type=float,
        default=MAX_SOURCE_BYTES / 2**20,
        metavar="MB",
        help=f"skip content files bigger than this (default: {MAX_SOURCE_BYTES // 2**20})",
    )
    build.add_argument(
        "--site-url",
        metavar="URL",
        help="the blog's address for talk links, e.g. https://blog.example.org (default: $TALKSEARCH_SITE_URL, "
        "else url + baseurl of the content's _config.yml, or baseURL of its hugo.toml)",
    )
    build.add_argument("--json", action="store_true", help="print the build report as JSON instead of text")
    build.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress line (default: only when stderr is a terminal and not in Lambda)",
    )

    back = commands.add_parser(
        "rollback",
        help="point the manifest back at an earlier kept version",
        description="Re-publish a kept version (its artifact checksum is verified first). The manifest is "
        "replaced with a conditional write, so a concurrent build is never overwritten.",
    )
    back.add_argument("--index", required=True, help=f"the published index: {LOCATION_HELP}")
    back.add_argument("--to", metavar="VERSION", help="the version to publish (default: the one before the current)")

    versions = commands.add_parser("versions", help="list the kept versions and mark the published one")
    versions.add_argument("--index", required=True, help=f"the published index: {LOCATION_HELP}")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "build":
            if args.keep_versions is not None and args.keep_versions < 1:
                print("--keep-versions must be at least 1", file=sys.stderr)
                return EXIT_USAGE
            report = build_and_publish(
                args.source,
                args.index,
                full=args.full,
                keep_versions=args.keep_versions or keep_versions_from_env(),
                max_source_bytes=int(args.max_file_mb * 2**20),
                progress=args.progress,
                site_url=args.site_url,
            )
            print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1) if args.json else report.format())
            return EXIT_REFUSED if report.status == "refused" else EXIT_OK
        if args.command == "rollback":
            manifest = rollback(args.index, to=args.to)
            print(f"published version {manifest.index_version} ({manifest.talk_count:,} talks) again")
            return EXIT_OK
        store = open_store(args.index)
        current, _ = store.read_manifest()
        for version in store.list_versions():
            mark = "*" if current is not None and version == current.index_version else " "
            print(f"{mark} {version}")
        return EXIT_OK
    except ManifestConflictError as error:
        print(f"conflict: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (StoreError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
