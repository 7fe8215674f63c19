"""Graph algorithms for the unlearning toolkit.

Modules: ``generators`` (random graphs), ``kernels`` (PageRank, components, betweenness,
local diffusions), ``hierarchy`` (bottom-up vs top-down communities), ``local`` (noisy
labels), ``planted`` (planted-subgraph tests), ``critical`` (critical nodes),
``robustness`` (RWCS node selection), ``benchmarks`` (registered recipes).

numpy/scipy.sparse core, networkx only for interop, no torch.
"""

__version__ = "0.1.0"
