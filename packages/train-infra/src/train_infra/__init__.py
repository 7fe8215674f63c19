"""Training infrastructure for unlearning at scale: erasure-coded in-memory snapshots, out-
of-core feature stores, decentralized training.

Heavy libraries (torch and friends) are imported inside the functions that need them,
never at package import, so discovery and config validation stay fast.
"""

__version__ = "0.1.0"
