r"""Metrics of a hierarchical clustering against the true tree of a hierarchical SBM.

Exact recovery at each depth of the tree (the predicted partition equals the true one up
to relabelling), tree recovery (the predicted dendrogram over the finest clusters has the
true tree's shape) and dendrogram inversions (a parent whose height exceeds its child's,
which makes the dendrogram non-monotone). The community of a node at depth $\ell$ of
the true tree of depth $L$ is ``leaf >> (L - ℓ)``.
"""

from __future__ import annotations

import numpy as np

from graph_algos.methods.hierarchy import Dendrogram


def same_partition(predicted: np.ndarray, truth: np.ndarray) -> bool:
    """True when the two labelings define the same partition (up to relabelling)."""
    pairs = np.unique(np.stack([predicted, truth], axis=1), axis=0)
    return len(pairs) == len(np.unique(predicted)) == len(np.unique(truth))


def exact_recovery_by_depth(tree: Dendrogram, leaf_labels: np.ndarray, depth: int) -> list[bool]:
    """For ℓ = 1..L: whether the tree's partition at depth ℓ is the true one, leaf >> (L − ℓ).

    At ℓ = L (the leaf communities) the dendrogram's leaves are compared, so that the
    finest level is judged on the clustering alone and not on the tree's shape.
    """
    n = len(leaf_labels)
    result = [
        same_partition(tree.partition_at_depth(level, n), leaf_labels >> (depth - level))
        for level in range(1, depth)
    ]
    finest = np.full(n, -1, dtype=np.int64)
    for label, node in enumerate(tree.leaves()):
        finest[tree.members[node]] = label
    return [*result, same_partition(finest, leaf_labels)]


def tree_recovered(tree: Dendrogram, leaf_labels: np.ndarray, depth: int) -> bool:
    """Whether the dendrogram has the true tree's shape over the true leaf communities.

    Each predicted finest cluster is mapped to its majority true leaf; the tree is
    recovered when there are exactly 2^L finest clusters, they map onto distinct leaves,
    and the leaf sets under the internal nodes equal the subtrees of the true tree.
    """
    leaves = tree.leaves()
    if len(leaves) != 2**depth:
        return False
    majority = {node: int(np.bincount(leaf_labels[tree.members[node]]).argmax()) for node in leaves}
    if len(set(majority.values())) != len(leaves):
        return False

    def leaf_set(node: int) -> frozenset[int]:
        if not tree.children[node]:
            return frozenset([majority[node]])
        return frozenset().union(*(leaf_set(c) for c in tree.children[node]))

    predicted = {leaf_set(i) for i, c in enumerate(tree.children) if c}
    truth = {
        frozenset(range(block * 2 ** (depth - level), (block + 1) * 2 ** (depth - level)))
        for level in range(depth)
        for block in range(2**level)
    }
    return predicted == truth


def dendrogram_inversions(tree: Dendrogram) -> int:
    """Number of parent–child inversions of a dendrogram (see ``Dendrogram.inversions``)."""
    return tree.inversions()
