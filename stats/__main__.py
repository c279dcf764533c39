"""`python -m stats` (`make stats`): top, zero-hit and unopened queries from the local stack's logs or CloudWatch."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from devstack.stack import LOGS_DIR, SEARCH_FUNCTION
from stats import DEFAULT_SINCE, DEFAULT_TOP, StatsError, parse_since, render, report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stats",
        description="What visitors look for: the top queries, the zero-hit queries and the queries whose results "
        "nobody opened, from make dev's logs, or from a deployed stack's CloudWatch logs with --stack.",
    )
    parser.add_argument("--since", default=DEFAULT_SINCE, help="30m, 12h, 7d, 2w or a UTC date (default: 7d)")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, help="rows per list (default: 20)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--logs-dir", type=Path, default=LOGS_DIR, help="make dev's log folder (default: .dev/logs)")
    parser.add_argument("--stack", help="read this deployed stack's search log group with Logs Insights instead")
    parser.add_argument("--region", help="the stack's region (default: samconfig.toml's, else the AWS configuration's)")
    parser.add_argument("--config", type=Path, default=Path("samconfig.toml"), help="samconfig.toml to read")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    return args


def _shown(path: Path) -> Path:
    """The path relative to the working directory when it is inside it (.dev/logs/...), else as given."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    until = datetime.now(UTC)
    try:
        since = parse_since(args.since, until)
        if args.stack:
            from deploy import DeployError, target_stack
            from stats.cloudwatch import read_cloudwatch, search_log_group

            try:
                stack, region = target_stack(args.config, args.stack, args.region)
            except DeployError as error:
                raise StatsError(str(error)) from None
            group = search_log_group(stack, region)
            tallies = read_cloudwatch(group, region, since, until)
            source = f"CloudWatch log group {group} (stack {stack}, {region})"
        else:
            from stats.local import read_local

            folder = args.logs_dir / SEARCH_FUNCTION
            tallies = read_local(folder, since, until)
            source = f"make dev's logs in {_shown(folder)}"
    except StatsError as error:
        print(f"stats: {error}", file=sys.stderr)
        return 1
    summary = report(tallies, source=source, since=since, until=until, top=args.top)
    try:
        print(json.dumps(summary, ensure_ascii=False, indent=1) if args.json else render(summary), flush=True)
    except BrokenPipeError:  # `make stats | head`: the reader has what it wanted
        # Python would flush stdout again at exit and print a traceback: point it at /dev/null first
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
