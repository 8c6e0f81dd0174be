"""ContactSync and vdirsyncer side by side on one real Radicale address book.

Run ``make bench`` (or ``python -m bench.carddav_sync --help``); docs/benchmarks.md holds the
latest figures and what limits each.
"""
