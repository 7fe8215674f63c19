"""GNN unlearning, editing and robust learning on torch-geometric: deletion requests,
retrain oracle, GNNDelete, D2DGN, GraphEraser, GIF, EGNN.

Heavy libraries (torch and friends) are imported inside the functions that need them,
never at package import, so discovery and config validation stay fast. The main entry
points live in submodules:

* :mod:`unlearn_graph.worlds`: contextual SBM, KarateClub, your own PyG ``Data`` or a
  Planetoid folder;
* :mod:`unlearn_graph.tasks`, :mod:`unlearn_graph.models`, :mod:`unlearn_graph.training`;
* :mod:`unlearn_graph.deletion`: ``apply_requests`` and GNNDelete-style edge sampling;
* :mod:`unlearn_graph.methods`: one module per method;
* :mod:`unlearn_graph.metrics`, :mod:`unlearn_graph.attacks`;
* :mod:`unlearn_graph.benchmarks`: ``graph-unlearn-quick`` and ``graph-unlearn-full``.
"""

__version__ = "0.1.0"
