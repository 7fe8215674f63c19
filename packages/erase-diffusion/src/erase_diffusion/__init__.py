"""Concept erasure for text-to-image diffusion models: offline shapes world, tiny pipeline,
judge, ESD/UCE/RECE/MACE.

Heavy libraries (torch and friends) are imported inside the functions that need them,
never at package import, so discovery and config validation stay fast.
"""

__version__ = "0.1.0"
