"""Two worker processes against one on a slow CardDAV source: ``python -m bench.scale_out``."""
