"""Graph algorithms for the unlearning toolkit.

Rooms: ``worlds`` (random graphs: G(n, q), block models, Barabási–Albert, planted
subgraphs, noisy labels), ``kernels`` (PageRank, components, betweenness, ACL push,
flow diffusion, sweep cut), ``methods`` (planted-subgraph tests, hierarchical and local
clustering, critical-node selectors; ``METHODS`` is their registry), ``metrics``
(``METRICS``), ``benchmarks`` (one registered recipe per module, and the speed
benchmark ``graph-algos-speed``).

numpy/scipy.sparse core, networkx only for interop, no torch.
"""

__version__ = "0.1.0"
