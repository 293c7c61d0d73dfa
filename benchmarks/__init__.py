"""`make bench` and `make capacity`: how fast the system is, each figure against a floor.

Every figure is a ratio to a floor measured in the same run, side by side, so a busy or a
faster machine moves both and the ratio stays meaningful; absolute figures are printed
beside it. ``python -m benchmarks`` runs the sections and writes docs/benchmarks.md (and
README's Performance block); ``python -m benchmarks.capacity`` is the load sweep of
docs/capacity.md. Which harness measures what, and why: docs/decisions.md.

Nothing here is imported by the app, the stacks or the functions; the functions are
loaded the way Lambda loads them (code directory and layer on ``sys.path``).
"""
