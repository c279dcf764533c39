"""`make dev`: the whole product on one machine, through the same code paths as in AWS.

``start_stack(content_dir, port)`` runs moto's S3 and SQS on loopback, uploads the content
folder, lets the real rebuild function publish an index, and serves the page and the real
search function over HTTP. See ``python -m devstack --help``.
"""

from devstack.stack import Rebuild, Stack, StackError, start_stack

__all__ = ["Rebuild", "Stack", "StackError", "start_stack"]
