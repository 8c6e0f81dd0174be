"""The operator at scale on a real control plane: N ContactSyncs of R regions applied at once.

``python -m bench.operator_scale --resources 300 --regions 2``; docs/benchmarks.md says what it
measures and what it does not.
"""
