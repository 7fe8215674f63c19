"""Synthetic worlds: random graphs with a seed and a size knob.

``generators``: G(n, q), stochastic and hierarchical block models, Barabási–Albert,
planted-subgraph patterns Γ and G(n, q) with a planted copy; ``noisy_labels``: a
planted partition with noisy node labels; ``travel``: the TravelFraudBench (TFG)
heterogeneous travel graph with planted fraud rings. Every name is importable from
``graph_algos.worlds`` directly.
"""

from graph_algos.seeding import SeedLike, as_rng
from graph_algos.worlds.generators import (
    SUBGRAPHS,
    PlantedGraph,
    Subgraph,
    adjacency_from_edges,
    barabasi_albert,
    clique,
    cycle,
    dense_random,
    erdos_renyi,
    hierarchical_probabilities,
    hierarchical_sbm,
    make_subgraph,
    pair_index,
    path,
    planted_subgraph,
    random_tree,
    star,
    stochastic_block_model,
)
from graph_algos.worlds.noisy_labels import NoisyLabelWorld, noisy_label_world, noisy_labels
from graph_algos.worlds.travel import (
    EDGE_TYPES,
    NODE_TYPES,
    RING_KINDS,
    FraudRing,
    TravelFraudWorld,
    TravelWorldConfig,
    ring_recovery,
    travel_fraud_world,
)

__all__ = [
    "EDGE_TYPES",
    "NODE_TYPES",
    "RING_KINDS",
    "SUBGRAPHS",
    "FraudRing",
    "NoisyLabelWorld",
    "PlantedGraph",
    "SeedLike",
    "Subgraph",
    "TravelFraudWorld",
    "TravelWorldConfig",
    "adjacency_from_edges",
    "as_rng",
    "barabasi_albert",
    "clique",
    "cycle",
    "dense_random",
    "erdos_renyi",
    "hierarchical_probabilities",
    "hierarchical_sbm",
    "make_subgraph",
    "noisy_label_world",
    "noisy_labels",
    "pair_index",
    "path",
    "planted_subgraph",
    "random_tree",
    "ring_recovery",
    "star",
    "stochastic_block_model",
    "travel_fraud_world",
]
