"""GNN unlearning, editing and robust learning on torch-geometric: deletion requests,
retrain oracle, GNNDelete, D2DGN, GraphEraser, GIF, EGNN.

Heavy libraries (torch and friends) are imported inside the functions that need them,
never at package import, so discovery and config validation stay fast.
"""

__version__ = "0.1.0"
