"""GNN unlearning, editing and robust learning on torch-geometric: deletion requests,
retrain oracle, GNNDelete, D2DGN, GraphEraser, GIF, EGNN.

Heavy libraries (torch and friends) are never imported at package import, and the
registries and params modules import none, so discovery and spec validation stay
fast. The rooms:

* `unlearn_graph.worlds`: contextual SBM, KarateClub, a local Planetoid folder, or your
  own PyG ``Data``;
* `unlearn_graph.tasks`, `unlearn_graph.models`, `unlearn_graph.training`;
* `unlearn_graph.deletion`: ``apply_requests`` and GNNDelete-style edge sampling;
* `unlearn_graph.methods`: one module per method, registered in ``METHODS`` (params in
  `unlearn_graph.methods.params`);
* `unlearn_graph.metrics` (``METRICS``) and `unlearn_graph.attacks` (``ATTACKS``);
* `unlearn_graph.hyper`: edge-dependent node classification on hypergraphs (CoNHD and
  its single-representation baselines; world `unlearn_graph.worlds.hyper_roles`);
* `unlearn_graph.benchmarks`: ``graph-unlearn-quick``/``-full`` and
  ``unlearn-graph-speed``.
"""

__version__ = "0.1.0"
