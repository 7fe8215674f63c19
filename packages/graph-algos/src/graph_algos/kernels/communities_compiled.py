r"""Louvain's colouring and local moving compiled by numba (extra ``graph-algos[fast]``).

The same two steps as the numpy ones in `graph_algos.kernels.communities`, written as
loops over the CSR arrays so that numba compiles them; `communities.louvain` picks them
with ``engine="numba"`` (or ``"auto"`` when numba imports). They take the same random
draws and make the same decisions in the same order as the numpy steps, so the two
engines return the same partition for the same seed (see `local_moving_pass` for the
one place where floating-point rounding may differ).

Importing this module imports numba; nothing else in the package does.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def colour_classes(
    indptr: np.ndarray, indices: np.ndarray, priority: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The Jones-Plassmann colouring of ``communities._colour_classes`` in one sweep.

    There a node is coloured in the first round in which no uncoloured neighbour has a
    higher priority, so its round is 0 without such a neighbour and otherwise one more
    than the latest round among its higher-priority neighbours; visiting nodes by
    decreasing priority computes every round from finished ones. Returns the classes
    as a row pointer and the nodes of each class in increasing order (as numpy's
    ``flatnonzero`` lists them).
    """
    n = priority.size
    by_priority = np.empty(n, dtype=np.int64)
    for node in range(n):
        by_priority[priority[node]] = node
    colour = np.zeros(n, dtype=np.int64)
    for rank in range(n - 1, -1, -1):
        node = by_priority[rank]
        latest = -1
        for entry in range(indptr[node], indptr[node + 1]):
            neighbour = indices[entry]
            if neighbour != node and priority[neighbour] > rank and colour[neighbour] > latest:
                latest = colour[neighbour]
        colour[node] = latest + 1
    count = colour.max() + 1 if n else 0
    class_ptr = np.zeros(count + 1, dtype=np.int64)
    for node in range(n):
        class_ptr[colour[node] + 1] += 1
    for index in range(count):
        class_ptr[index + 1] += class_ptr[index]
    filled = class_ptr[:-1].copy()
    class_nodes = np.empty(n, dtype=np.int64)
    for node in range(n):
        class_nodes[filled[colour[node]]] = node
        filled[colour[node]] += 1
    return class_ptr, class_nodes


@njit(cache=True)
def local_moving_pass(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    class_ptr: np.ndarray,
    class_nodes: np.ndarray,
    order: np.ndarray,
    community: np.ndarray,
    total: np.ndarray,
    strength: np.ndarray,
    active: np.ndarray,
    scale: float,
    self_loops: bool,
) -> tuple[int, float]:
    r"""One pass of colour-class moves, the classes visited in ``order`` (in place).

    For each class: its active nodes are deactivated; each finds the neighbouring
    community $C$ of largest $k_{i,C} - \gamma K_C k_i / 2m$ ($K_C$ without $i$, from
    the totals at the start of the class; the smallest label among equals) and moves
    there when that beats staying by more than $10^{-12}\max(1, \max|\text{best}|)$
    over the class; then the totals are updated, the movers relabelled and their
    neighbours reactivated: `communities._move_class` step by step. Returns the moves
    and the change of $\Sigma^{\text{in}}$. $k_{i,C}$ is summed here in CSR order and
    there in the order scipy's ``sum_duplicates`` leaves; with non-integer weights the
    last bit can differ, which changes a decision only on an exact tie.
    """
    n = strength.size
    weight_to = np.zeros(n)
    seen = np.zeros(n, dtype=np.bool_)
    touched = np.empty(n, dtype=np.int64)
    widest = 0
    for index in range(class_ptr.size - 1):
        widest = max(widest, class_ptr[index + 1] - class_ptr[index])
    chosen = np.empty(widest, dtype=np.int64)
    has_pairs = np.empty(widest, dtype=np.bool_)
    best = np.empty(widest)
    stay = np.empty(widest)
    stay_in = np.empty(widest)
    best_in = np.empty(widest)
    target = np.empty(widest, dtype=np.int64)
    movers = np.empty(widest, dtype=np.int64)
    moved, inside_change = 0, 0.0
    for colour in order:
        size = 0
        for position in range(class_ptr[colour], class_ptr[colour + 1]):
            node = class_nodes[position]
            if active[node]:
                chosen[size] = node
                size += 1
        if size == 0:
            continue
        for slot in range(size):
            active[chosen[slot]] = False
        largest = 0.0
        for slot in range(size):
            node = chosen[slot]
            has_pairs[slot] = indptr[node + 1] > indptr[node]
            if not has_pairs[slot]:
                continue
            pairs = 0
            for entry in range(indptr[node], indptr[node + 1]):
                neighbour = indices[entry]
                weight = 0.0 if self_loops and neighbour == node else data[entry]
                label = community[neighbour]
                if seen[label]:
                    weight_to[label] += weight
                else:
                    seen[label] = True
                    weight_to[label] = weight
                    touched[pairs] = label
                    pairs += 1
            own, node_strength = community[node], strength[node]
            stay_in[slot] = weight_to[own] if seen[own] else 0.0
            stay[slot] = stay_in[slot] - scale * (total[own] - node_strength) * node_strength
            best[slot], target[slot] = -np.inf, n
            for pair in range(pairs):
                label = touched[pair]
                others_total = total[label] - node_strength if label == own else total[label]
                score = weight_to[label] - scale * others_total * node_strength
                if score > best[slot] or (score == best[slot] and label < target[slot]):
                    best[slot], target[slot], best_in[slot] = score, label, weight_to[label]
                seen[label] = False
            largest = max(largest, abs(best[slot]))
        threshold = 1e-12 * max(1.0, largest)
        count = 0
        for slot in range(size):
            if has_pairs[slot] and best[slot] - stay[slot] > threshold:
                movers[count] = chosen[slot]
                target[count] = target[slot]  # count <= slot: compacts in place
                inside_change += 2.0 * (best_in[slot] - stay_in[slot])
                count += 1
        for index in range(count):
            total[community[movers[index]]] -= strength[movers[index]]
        for index in range(count):
            total[target[index]] += strength[movers[index]]
        for index in range(count):
            node = movers[index]
            community[node] = target[index]
            for entry in range(indptr[node], indptr[node + 1]):
                active[indices[entry]] = True
        moved += count
    return moved, inside_change
