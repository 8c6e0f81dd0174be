"""ContactSync syncing a CSV and a JSON Lines file of N records into PostgreSQL: throughput
and the worker's peak memory, for a full sync and a sync with nothing changed.

Run ``python -m bench.file_sync --help``; docs/benchmarks.md holds the latest figures.
"""
