"""Invoke one handler from a built Lambda package the way Lambda does, in a fresh interpreter.

Run it with the runtime's Python in isolated, no-site mode so that nothing from this repository
or any venv can leak in: ``python3.13 -I -S lambda_driver.py PACKAGE_DIR RUNTIME_DIR HANDLER EVENT OUT``.
Only PACKAGE_DIR (the built function) and RUNTIME_DIR (boto3, which Lambda's runtime provides)
are importable. The handler's result, the import time and the top-level modules loaded are
written to OUT as JSON (stdout belongs to the function's logs).
"""

import importlib
import json
import sys
import time


class LambdaContext:
    function_name = "talksearch-package-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:talksearch-package-test"
    aws_request_id = "11111111-1111-1111-1111-111111111111"
    log_group_name = "/aws/lambda/talksearch-package-test"
    log_stream_name = "2026/11/26/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main() -> None:
    package, runtime, handler, event_path, out_path = sys.argv[1:6]
    sys.path[:0] = [package, runtime]
    module_name, function_name = handler.rsplit(".", 1)
    started = time.perf_counter()
    module = importlib.import_module(module_name)
    import_seconds = time.perf_counter() - started
    with open(event_path, encoding="utf-8") as f:
        event = json.load(f)
    result = getattr(module, function_name)(event, LambdaContext())
    report = {
        "result": result,
        "import_seconds": import_seconds,
        "modules": sorted({name.split(".")[0] for name in sys.modules}),
        "module_names": sorted(sys.modules),
        "module_files": {
            name: getattr(sys.modules.get(name), "__file__", None) for name in ("functions", "talksearch", "boto3")
        },
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
