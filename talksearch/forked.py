"""One function's result computed by a forked process while this one goes on (the builder's second core).

The child inherits everything it needs (nothing is sent to it) and sends back the return value, pickled
between our own two processes only. A child that fails costs only time: ``result`` is then None and the
caller does the work itself. Whether forking is worth it and safe is ``index_builder.writer.can_fork_worker``.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import pickle
from collections.abc import Callable
from typing import Any

__all__ = ["ForkedCall"]

logger = logging.getLogger(__name__)


class ForkedCall:
    """``function(*args)`` in a forked process named ``name``; ``result()`` waits for it."""

    def __init__(self, function: Callable[..., Any], *args: Any, name: str) -> None:
        context = multiprocessing.get_context("fork")
        self._name = name
        self._receive, send = context.Pipe(duplex=False)
        gc.freeze()  # the child's garbage collector then leaves the inherited objects' pages shared
        try:
            self._process = context.Process(target=_send_result, args=(send, function, args), name=name, daemon=True)
            self._process.start()
        finally:
            gc.unfreeze()
        send.close()

    def result(self) -> Any | None:
        """The function's return value, or None when the process stopped without sending it."""
        try:
            return pickle.loads(self._receive.recv_bytes())
        except (EOFError, OSError):
            logger.warning("the %s process stopped; its work is done here", self._name)
            return None
        finally:
            self._receive.close()
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()


def _send_result(send, function: Callable[..., Any], args: tuple) -> None:
    with send:
        send.send_bytes(pickle.dumps(function(*args), pickle.HIGHEST_PROTOCOL))
