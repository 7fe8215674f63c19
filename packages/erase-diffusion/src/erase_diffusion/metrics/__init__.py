"""Judge-based metrics: ``erasure`` (numpy formulas) and ``judge`` (the torch classifier)."""
