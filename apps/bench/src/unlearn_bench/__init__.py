"""The ``unlearn-bench`` app: discover, validate, run and report benchmarks."""

__version__ = "0.1.0"
