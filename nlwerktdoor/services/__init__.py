"""Use cases: load, decide, persist. The only layer that commits."""
