"""Out-of-core GNN node features, after DiskGNN (arXiv 2405.05231).

Neighbour sampling for a whole epoch is done offline (`train_infra.outofcore.sampling`), so the node
features every mini-batch needs are known before training; they are packed per batch,
contiguously, in a memory-mapped file, with the most-accessed nodes kept in a RAM cache
tier, and a prefetch thread reads batch ``i + 1`` while batch ``i`` is computed
(`train_infra.outofcore.store`). `train_infra.outofcore.model` holds a plain-torch
GraphSAGE that trains on the batches.
"""
