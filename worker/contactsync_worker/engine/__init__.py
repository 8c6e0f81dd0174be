"""The sync engine: what the activities do inside the region, with the store and adapters."""
