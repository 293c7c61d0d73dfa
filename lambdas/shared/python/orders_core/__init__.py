"""Code shared by every (non-edge) function, shipped as one Lambda layer.

The top-level modules are the small core every function may use: the order model
(``model``), ``limits``, ``jsonutil``, ``versioning``, ``retry``, the settings base
(``settings``), ``validation`` (the checks' problems), ``observability`` (logger, metrics,
tracing policy, every metric name), ``http`` (the router, refusal family and JSON error
body of HTTP functions), ``batch`` (partial batch responses) and ``startup`` (what a
handler does after its imports). Each function's own
logic and data access live in the package named after it: ``orders_core.ingest``,
``orders_core.process``.

Pure Python: imports only the standard library, boto3/botocore and aws_lambda_powertools'
Logger and Metrics, which the Lambda runtime and the Powertools layer provide (no
pydantic, no Powertools event handler or batch utility: see orders_core.validation). This
file ships with the layer (a regular package, not a namespace package).
"""
