"""The fresh-process half of ``tfg-detection-speed``: one detector, one process.

`unlearn_graph.benchmarks.fraud_speed` runs ``python -c WORKER_COMMAND REQUEST`` once
per detector. The child imports the libraries, then builds the TravelFraudBench world
from the seed, converts it to ``HeteroData`` (reverse edges added, as ``tfg-detection``
does), builds the detector and times ``epochs`` full-batch training epochs and one
evaluation pass; it prints one JSON line with the timings and the process's peak
resident size (``resource.getrusage``'s ``ru_maxrss``). A fresh process matters: the
peak then covers exactly imports + world + conversion + training, and no memory freed
by earlier work hides in the allocator.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

WORKER_COMMAND = (
    "import sys; from unlearn_graph.benchmarks._fraud_speed_worker import main; main(sys.argv[1])"
)
"""What ``python -c`` runs in the child; its one argument is the JSON request."""


def _peak_rss_bytes() -> int:
    # Linux reports ru_maxrss in KiB (macOS in bytes; the benchmark notes the platform).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def measure(request: dict[str, Any]) -> dict[str, Any]:
    """Build the world, convert it, train ``request["detector"]``; timings and peaks."""
    began = time.perf_counter()
    import torch
    import torch_geometric.nn  # noqa: F401  (imported before the clocks start)
    from graph_algos.worlds import travel

    from unlearn_graph.fraud_detectors import TARGET, start_training, training_step
    from unlearn_graph.worlds.hetero import to_hetero_data

    torch.set_num_threads(int(request["threads"]))
    imports_s = time.perf_counter() - began
    after_imports = _peak_rss_bytes()
    config = travel.TravelWorldConfig(**request["world"])
    began = time.perf_counter()
    world = travel.travel_fraud_world(config, seed=int(request["seed"]))
    world_s = time.perf_counter() - began
    began = time.perf_counter()
    data = to_hetero_data(world, reverse_edges=True)
    convert_s = time.perf_counter() - began
    detector = str(request["detector"])
    began = time.perf_counter()
    model, optimiser = start_training(detector, data, int(request["hidden"]), seed=request["seed"])
    build_s = time.perf_counter() - began
    epochs: list[float] = []
    cpu: list[float] = []
    losses: list[float] = []
    for _ in range(int(request["epochs"])):
        began, began_cpu = time.perf_counter(), time.process_time()
        losses.append(training_step(detector, model, optimiser, data))
        epochs.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    model.eval()
    began = time.perf_counter()
    with torch.no_grad():
        scores = torch.sigmoid(model(data))
    eval_s = time.perf_counter() - began
    if not torch.isfinite(scores).all() or scores.shape[0] != data[TARGET].num_nodes:
        raise RuntimeError(f"{detector}: scores are not one finite value per user")
    return {
        "detector": detector,
        "nodes": world.node_count,
        "edges": world.edge_count,
        "heterodata_edges": int(sum(e.shape[1] for e in data.edge_index_dict.values())),
        "users": int(data[TARGET].num_nodes),
        "imports_s": imports_s,
        "world_s": world_s,
        "convert_s": convert_s,
        "build_s": build_s,
        "epoch_s": epochs,
        "epoch_cpu_s": cpu,
        "eval_s": eval_s,
        "losses": losses,
        "rss_after_imports_bytes": after_imports,
        "peak_rss_bytes": _peak_rss_bytes(),
    }


def main(request_json: str) -> None:
    """Entry of the child process: measure, print the JSON result on one line."""
    print(json.dumps(measure(json.loads(request_json))), flush=True)
