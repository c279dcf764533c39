"""`python -m deploy stack|publish|prune-versions|empty-buckets`: what `make deploy`/`make destroy` run around SAM."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deploy import (
    DeployError,
    empty_bucket,
    prune_versions,
    publish_site,
    stack_buckets,
    stack_functions,
    target_stack,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    parser.add_argument("command", choices=["stack", "publish", "prune-versions", "empty-buckets"])
    parser.add_argument("--config", type=Path, default=Path("samconfig.toml"), help="samconfig.toml to read")
    parser.add_argument("--stack", help="stack name (default: the config's)")
    parser.add_argument("--region", help="region (default: the config's)")
    parser.add_argument("--site", type=Path, default=Path("frontend"), help="the page to publish")
    args = parser.parse_args(argv)
    try:
        stack, region = target_stack(args.config, args.stack, args.region)
        if args.command == "stack":
            print(stack, region)
        elif args.command == "publish":
            outputs = publish_site(stack, region, args.site)
            print(f"Site: {outputs.get('SiteUrl')}   Content bucket: s3://{outputs.get('ContentBucketName')}/")
        elif args.command == "prune-versions":
            for function in stack_functions(stack, region):
                deleted = prune_versions(function, region)
                print(f"{function}: {len(deleted)} old versions deleted {' '.join(deleted)}".rstrip(), flush=True)
        else:
            for bucket in stack_buckets(stack, region):
                print(f"s3://{bucket}: {empty_bucket(bucket, region)} object versions deleted", flush=True)
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
