"""Benchmark recipes of unlearn-graph, one module per family, registered under the
``unlearn.benchmarks`` entry-point group:

* `unlearn_graph.benchmarks.unlearn`: ``graph-unlearn-quick`` and ``graph-unlearn-full``
  (every method against the retrain oracle, edges and nodes scenarios);
* `unlearn_graph.benchmarks.speed`: ``unlearn-graph-speed`` (wall time and peak memory
  of the approximate methods against exact retraining at matched retained utility).
* `unlearn_graph.benchmarks.fraud_rings`: ``tfg-detection`` (fraud-ring detectors on
  graph-algos' TravelFraudBench world: AUC, ring recovery, edge-type ablation).
* `unlearn_graph.benchmarks.fraud_speed`: ``tfg-detection-speed`` (the same detectors at
  200 000 nodes: peak memory and epoch time against the issue's 8 GB / 1 minute goals).
* `unlearn_graph.benchmarks.label_noise`: ``graph-label-noise`` (ERASE against GCN cross
  entropy, GCE and label propagation under symmetric and pair-flip label noise).
* `unlearn_graph.benchmarks.geometry`: ``graph-geometry-shaper`` (GraphShaper's
  geometry experts fused by local structure against Euclidean, hyperbolic and spherical
  encoders on a tree/ring text graph: accuracy overall and at structural boundaries).
* `unlearn_graph.benchmarks.conhd`: ``graph-hyper-conhd`` (edge-dependent node
  classification on a planted-roles hypergraph: CoNHD against WHATsNet-like, HGNN and
  node-only models by depth: micro/macro-F1 and training step time).
* `unlearn_graph.benchmarks.edge_dht`: ``graph-edge-dht`` (EHGNN's dual hypergraph with
  HyperDrop and HyperCluster against a node-only GCN and a per-edge MLP where the edges
  carry the class: accuracy, edge reconstruction, DHT time at 10k-1M edges).
* `unlearn_graph.benchmarks.rwcs_attack`: ``graph-rwcs-attack`` (black-box feature attack
  on a few nodes picked by random, degree, RWCS and GC-RWCS: mis-classification rate of
  trained GCN/SAGE/GAT against the number of attacked nodes).

No module here imports torch at import time: listing and validating stay fast.
"""
