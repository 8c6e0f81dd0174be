"""Manifests the tests share: the examples and the invalid corpus derived from them."""
