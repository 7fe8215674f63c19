"""The methods of graph-algos, one record each: name, params, entry, summary, paper.

Rule for params: every params class sits next to its algorithm in the family module
(``planted``, ``hierarchy``, ``local``, ``critical``, ``influence``, ``robustness``,
``selection``); every module here is torch-free, so validating a spec imports nothing
heavy. A method with no options takes ``unlearn_schema.NoParams``.

Entry shape: ``entry(adjacency, problem, params, *, seed=None)`` where the family has a
problem object (the pattern Γ for the scan test, ``LabelledSeed`` for noisy-label local
clustering, ``NodeSelection`` for critical-node selectors), ``entry(adjacency, params,
*, seed=None)`` for the hierarchical methods, and ``entry(adjacency)`` for the count and
degree test statistics. This module imports only the schema.
"""

from unlearn_schema import MethodSpec, Registry

_PLANTED = "arXiv:2503.19069"  # Elimelech & Huleihel, detecting arbitrary planted subgraphs
_HIERARCHY = "arXiv:2306.00833"  # Dreveton et al., bottom-up vs top-down
_NOISY_LABELS = "arXiv:2310.08031"  # Back de Luca, Fountoulakis, Yang
_CRITICAL_SURVEY = "arXiv:2507.06164"  # Chen et al., critical nodes identification survey
_RWCS = "arXiv:2006.05057"  # Ma, Ding, Mei, practical black-box attacks on GNNs
NO_PARAMS = "unlearn_schema:NoParams"

METHODS = Registry(
    "method",
    [
        # Planted-subgraph tests: the entry is the statistic a level-α cut is put on.
        MethodSpec(
            name="count-test",
            params=NO_PARAMS,
            entry="graph_algos.methods.planted:edge_count",
            summary="Count test: reject G(n, q) when the edge count exceeds its level-α cut.",
            paper=_PLANTED,
        ),
        MethodSpec(
            name="degree-test",
            params=NO_PARAMS,
            entry="graph_algos.methods.planted:max_degree",
            summary="Degree test: reject G(n, q) when the maximum degree exceeds its cut.",
            paper=_PLANTED,
        ),
        MethodSpec(
            name="scan-test",
            params=NO_PARAMS,
            entry="graph_algos.methods.planted:scan_statistic",
            summary="Scan test: most edges of Γ present over all placements (tiny n only).",
            paper=_PLANTED,
        ),
        # Hierarchical community detection: the entry returns a Dendrogram.
        MethodSpec(
            name="bottom-up",
            params="graph_algos.methods.hierarchy:BottomUpParams",
            entry="graph_algos.methods.hierarchy:bottom_up",
            summary="Bethe-Hessian clustering to the finest communities, then average linkage.",
            paper=_HIERARCHY,
        ),
        MethodSpec(
            name="top-down",
            params="graph_algos.methods.hierarchy:TopDownParams",
            entry="graph_algos.methods.hierarchy:top_down",
            summary="Recursive Bethe-Hessian bisection until a part shows one community.",
            paper=_HIERARCHY,
        ),
        # Local clustering with noisy labels: the entry returns the cluster's nodes.
        MethodSpec(
            name="weighted-flow",
            params="graph_algos.methods.local:WeightedFlowParams",
            entry="graph_algos.methods.local:weighted_flow",
            summary="ℓ2 flow diffusion on the label-weighted graph, then a sweep cut.",
            paper=_NOISY_LABELS,
        ),
        MethodSpec(
            name="weighted-acl",
            params="graph_algos.methods.local:WeightedACLParams",
            entry="graph_algos.methods.local:weighted_acl",
            summary="ACL push on the label-weighted graph, then a sweep cut.",
            paper=_NOISY_LABELS,
        ),
        MethodSpec(
            name="unweighted-flow",
            params="graph_algos.methods.local:FlowParams",
            entry="graph_algos.methods.local:unweighted_flow",
            summary="Baseline: ℓ2 flow diffusion on the plain graph (labels ignored).",
            paper="arXiv:2005.09810",
        ),
        MethodSpec(
            name="unweighted-acl",
            params="graph_algos.methods.local:ACLParams",
            entry="graph_algos.methods.local:unweighted_acl",
            summary="Baseline: ACL push (approximate personalised PageRank) on the plain graph.",
            paper="doi:10.1109/FOCS.2006.44",
        ),
        MethodSpec(
            name="labels-only",
            params=NO_PARAMS,
            entry="graph_algos.methods.local:labels_only",
            summary="Baseline: the nodes labelled 1, whatever the graph says.",
            paper=None,
        ),
        # Critical-node selectors: the entry returns budget nodes, most critical first.
        MethodSpec(
            name="degree",
            params=NO_PARAMS,
            entry="graph_algos.methods.critical:select_by_degree",
            summary="The budget nodes of largest degree.",
            paper=_CRITICAL_SURVEY,
        ),
        MethodSpec(
            name="betweenness",
            params="graph_algos.methods.critical:BetweennessParams",
            entry="graph_algos.methods.critical:select_by_betweenness",
            summary="The budget nodes of largest betweenness (Brandes, exact or sampled).",
            paper="doi:10.1080/0022250X.2001.9990249",
        ),
        MethodSpec(
            name="closeness",
            params=NO_PARAMS,
            entry="graph_algos.methods.critical:select_by_closeness",
            summary="The budget nodes of largest closeness (Wasserman–Faust).",
            paper=_CRITICAL_SURVEY,
        ),
        MethodSpec(
            name="pagerank",
            params=NO_PARAMS,
            entry="graph_algos.methods.critical:select_by_pagerank",
            summary="The budget nodes of largest PageRank (α = 0.85).",
            paper=_CRITICAL_SURVEY,
        ),
        MethodSpec(
            name="k-core",
            params=NO_PARAMS,
            entry="graph_algos.methods.critical:select_by_k_core",
            summary="The budget nodes of largest k-core number (Batagelj–Zaversnik peeling).",
            paper="arXiv:cs/0310049",
        ),
        MethodSpec(
            name="collective-influence",
            params="graph_algos.methods.critical:CollectiveInfluenceParams",
            entry="graph_algos.methods.critical:select_by_collective_influence",
            summary="The budget nodes of largest collective influence CI_ℓ (Morone & Makse).",
            paper="arXiv:1506.08326",
        ),
        MethodSpec(
            name="greedy-cnd",
            params=NO_PARAMS,
            entry="graph_algos.methods.critical:select_greedy_cnd",
            summary="Greedy critical node deletion: remove the node that cuts most pairs, k times.",
            paper=_CRITICAL_SURVEY,
        ),
        MethodSpec(
            name="celf",
            params=NO_PARAMS,
            entry="graph_algos.methods.influence:select_celf",
            summary="CELF lazy greedy influence maximisation on the Monte Carlo spread.",
            paper="doi:10.1145/1281192.1281239",
        ),
        MethodSpec(
            name="reverse-reachable-sets",
            params="graph_algos.methods.influence:ReverseReachableParams",
            entry="graph_algos.methods.influence:select_reverse_reachable",
            summary="Influence maximisation by greedy maximum coverage of reverse-reachable sets.",
            paper="arXiv:1212.0884",
        ),
        MethodSpec(
            name="rwcs",
            params="graph_algos.methods.robustness:RWCSParams",
            entry="graph_algos.methods.robustness:select_rwcs",
            summary="Attack node selection by random-walk column sums of M^L.",
            paper=_RWCS,
        ),
        MethodSpec(
            name="gc-rwcs",
            params="graph_algos.methods.robustness:GCRWCSParams",
            entry="graph_algos.methods.robustness:select_gc_rwcs",
            summary="Greedy-corrected RWCS: cover the most not-yet-covered targets, spread out.",
            paper=_RWCS,
        ),
        MethodSpec(
            name="random",
            params=NO_PARAMS,
            entry="graph_algos.methods.selection:select_at_random",
            summary="Baseline selector: budget nodes uniformly at random.",
            paper=None,
        ),
    ],
)

__all__ = ["METHODS"]
