"""The benchmark recipes of graph-algos, one module each, registered as entry points.

- ``planted_quickstart``: ``planted-quickstart``, the count and degree tests (the README's job);
- ``planted_power``: ``planted-power``, power curves over (n, q, Γ, k) and the scan test;
- ``hierarchy_phase``: ``hierarchy-phase``, bottom-up vs top-down phase diagrams;
- ``noisy_label_local``: ``noisy-label-local``, label-weighted flow diffusion vs baselines;
- ``critical_nodes``: ``critical-nodes``, every selector on dismantling and spreading;
- ``speed``: ``graph-algos-speed``, the kernels timed against networkx and igraph.

``_common`` holds the method-list check and the metric helper they share. Each module
imports only numpy/scipy/pydantic and the package, so listing and validating stay fast.
"""
