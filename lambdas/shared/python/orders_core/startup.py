"""What a handler module does once its imports are done.

Everything imported by then (modules, classes, compiled patterns) lives as long as the
execution environment, yet Python's cyclic garbage collector would walk it again at
every full collection. ``gc.freeze()`` moves it out of the collector's sight. The first
full collection otherwise lands while botocore parses the first client's service model
(hundreds of thousands of new objects), so a cold init paid for rescanning every
imported module: measured here, the first DynamoDB client took about 72 ms instead of
50 ms whenever a few more modules than boto3's were loaded (docs/decisions.md, "Cold
init"). Later collections, during requests, are cheaper for the same reason.
"""

import gc


def imports_done() -> None:
    """Call at the end of a handler module's imports (cheap: no collection is run)."""
    gc.freeze()
