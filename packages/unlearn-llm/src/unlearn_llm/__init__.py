"""Language-model unlearning: fictitious-facts world, exact retrain oracle, unlearning
methods, TOFU/MUSE-style evaluation and attacks.

Heavy libraries (torch and friends) are imported inside the functions that need them,
never at package import, so discovery and config validation stay fast.
"""

__version__ = "0.1.0"
