"""Lambda@Edge viewer request: the orders API's front door at CloudFront.

Handler string ``handler.lambda_handler``. Standard library only, no layer, no
environment: the configuration is ``edge_config.json`` in the asset (written at synth).
Lambda loads this module as ``handler`` from the asset directory, where its siblings are
top-level modules; tests import it as ``lambdas.edge.viewer_request.handler``, where
they are package members. Each module picks the matching import form (``__package__``).
"""

import os
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # tests: imported as lambdas.edge.viewer_request.handler
    from .edge_config import CONFIG_FILE, load_config
    from .gate import ViewerRequestGate, build_gate
else:  # Lambda: the asset directory is on sys.path
    from edge_config import CONFIG_FILE, load_config
    from gate import ViewerRequestGate, build_gate

# os.path, not pathlib: pathlib is not otherwise imported, and every cold start would pay it.
CONFIG_PATH = os.path.join(os.path.dirname(os.path.realpath(__file__)), CONFIG_FILE)


@cache
def get_gate() -> ViewerRequestGate:
    """Built on the first request and kept for the container's life (with its key cache)."""
    return build_gate(load_config(CONFIG_PATH))


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request: dict[str, Any] = event["Records"][0]["cf"]["request"]
    return get_gate().handle(request)
