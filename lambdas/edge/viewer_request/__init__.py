"""The Lambda@Edge viewer-request function (its own asset: standard library only).

Tests import it as ``lambdas.edge.viewer_request``; Lambda loads ``handler`` from the
asset directory. Each module imports its siblings relatively when it is part of a package
and absolutely otherwise (see handler.py), so both ways load the same code.
"""
