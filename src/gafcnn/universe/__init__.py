"""Several symbols in one run: one split for all, per-symbol and pooled fits, and a
decision per symbol."""
