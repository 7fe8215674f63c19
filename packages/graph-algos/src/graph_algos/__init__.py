"""Graph algorithms for the unlearning toolkit: generators and planted-subgraph detection.

numpy/scipy.sparse core, networkx only for interop, no torch.
"""

__version__ = "0.1.0"
