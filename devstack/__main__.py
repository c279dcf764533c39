"""``python -m devstack``: run the local stack in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

from devstack.stack import LOG_RETENTION_DAYS, LOGS_DIR, ROOT, SEARCH_FUNCTION, StackError, start_stack
from talksearch.contracts import ENV_ALLOWED_ORIGINS, s3_location

SAMPLE_CONTENT = ROOT / "content" / "sample"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Serve talksearch locally: embedded S3 and SQS (moto), the real rebuild and search "
        "functions, and the page. Files added, changed or deleted in the content folder are indexed within seconds.",
    )
    parser.add_argument(
        "--content-dir",
        type=Path,
        default=Path(os.environ.get("CONTENT_DIR") or SAMPLE_CONTENT),
        help="folder of talk summaries (.md, .json, .jsonl, .jsonl.gz) to serve and watch "
        "(default: $CONTENT_DIR, else content/sample)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT") or 8000),
        help="port on 127.0.0.1 for the page and the API; 0 picks a free one (default: $PORT, else 8000)",
    )
    parser.add_argument(
        "--allowed-origins",
        default=os.environ.get(ENV_ALLOWED_ORIGINS, ""),
        metavar="ORIGINS",
        help="comma-separated origins whose pages may call the API, e.g. the blog that embeds the widget: "
        "http://localhost:4000 (default: $ALLOWED_ORIGINS, else none)",
    )
    parser.add_argument(
        "--logs-dir",
        type=Path,
        default=LOGS_DIR,
        help="where each function's log records are kept, one JSON line each in <function>/<UTC day>.jsonl, "
        f"{LOG_RETENTION_DAYS} days (default: .dev/logs; `make stats` reads them)",
    )
    return parser.parse_args(argv)


class ConsoleWithoutMetrics(io.TextIOBase):
    """stdout minus the functions' CloudWatch metric documents (EMF JSON, one per invocation).

    In Lambda they go to CloudWatch; here they would bury the URLs and rebuild lines.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            lines = (self._pending + text).split("\n")
            self._pending = lines.pop()
            kept = [line for line in lines if not line.startswith('{"_aws"')]
            if kept:
                self.stream.write("\n".join(kept) + "\n")
                self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.stdout = ConsoleWithoutMetrics(sys.stdout)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        # No time limit: a big content folder takes minutes to index; the rebuild lines show progress.
        stack = start_stack(
            args.content_dir,
            args.port,
            log=lambda line: print(line, flush=True),
            ready_timeout=None,
            allowed_origins=args.allowed_origins,
            logs_dir=args.logs_dir,
        )
    except StackError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the stack was ready: start_stack has stopped what it started
        print("stopped", flush=True)
        return 130
    cors = args.allowed_origins or "none (ALLOWED_ORIGINS=... lets other sites' pages call the API)"
    with stack:
        print(
            f"\ntalksearch is running\n"
            f"  page:           {stack.url}\n"
            f"  API:            {stack.api_url}   (try {stack.api_url}/search?q=python)\n"
            f"  widget:         {stack.url}widget/talksearch.js\n"
            f"  other origins:  {cors}\n"
            f"  S3 endpoint:    {stack.s3_endpoint}\n"
            f"  content bucket: {s3_location(stack.content_bucket)}  (synced from {args.content_dir})\n"
            f"  index bucket:   {s3_location(stack.index_bucket)}\n"
            f"  search logs:    {args.logs_dir / SEARCH_FUNCTION}/   (what visitors look for: make stats)\n"
            f"Edit files in {args.content_dir} and search again. Ctrl-C stops.\n",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            stopping.wait()
        print("stopping...", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
