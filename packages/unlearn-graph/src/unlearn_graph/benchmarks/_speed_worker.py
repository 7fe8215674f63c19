"""The fresh-process half of the ``unlearn-graph-speed`` benchmark.

`unlearn_graph.benchmarks.speed` starts one server process (`serve`, a fresh Python
that imports the modules in ``PRELOAD`` once) and asks it for one measurement at a
time; the server forks a new child per measurement, so no child pays torch's import
again and none inherits memory that earlier work freed (the server itself computes
nothing). The child rebuilds the seeded graph and deletion from the saved setup, loads
the trained weights, warms up, and measures one mode (``retrain`` or a method name)
with `measure_cost`, whose peak-RSS reset then sees only the measured call. It writes
its numbers to a JSON file.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from unlearn_schema import MethodParams

from unlearn_graph.config import BackboneConfig, TrainConfig
from unlearn_graph.deletion import DeletionProblem, apply_requests, sample_edge_deletion
from unlearn_graph.methods import METHODS
from unlearn_graph.metrics import link_auroc, measure_cost
from unlearn_graph.models import GraphModel, build_model, fresh_copy
from unlearn_graph.tasks import LinkTask, make_link_task
from unlearn_graph.training import element_loss, predict, train
from unlearn_graph.worlds import CSBMConfig, contextual_sbm

SERVER_COMMAND = "from unlearn_graph.benchmarks._speed_worker import serve; serve()"
"""What ``python -c`` runs in the server process."""

PRELOAD = [
    "torch",
    "torch_geometric.nn",
    "scipy.sparse",
    "sklearn.metrics",
    "unlearn_graph.benchmarks._speed_worker",
    "unlearn_graph.methods.d2dgn",
    "unlearn_graph.methods.gif",
    "unlearn_graph.methods.gnndelete",
    "unlearn_graph.methods.gradient_ascent",
    "unlearn_graph.methods.grapheraser",
]
"""What the server process imports once, before it forks the measuring children."""

REPEATS = 3
"""Method wall times are the median of this many runs ..."""
REPEAT_BELOW_S = 5.0
"""... for methods faster than this; slower ones run once."""


@dataclass(frozen=True)
class Setup:
    """Everything a worker needs to rebuild the parent's graph, deletion and models."""

    world: CSBMConfig
    backbone: BackboneConfig
    epochs: int
    deletion_ratio: float
    seed: int
    num_threads: int
    params: dict[str, MethodParams]


def build_problem(setup: Setup) -> tuple[LinkTask, DeletionProblem]:
    """The seeded task and deletion problem (identical in every process)."""
    task = make_link_task(contextual_sbm(setup.world, setup.seed), setup.seed)
    count = max(1, round(setup.deletion_ratio * task.edges.shape[1]))
    request = sample_edge_deletion(task, count, "in", setup.seed)
    return task, apply_requests(task, [request])


def utility(model: Any, problem: DeletionProblem) -> float:
    """Retained test AUROC of ``model`` on the retained graph."""
    assert problem.test_negatives is not None
    pos = predict(model, problem.x, problem.edge_index, problem.test_elements).numpy()
    neg = predict(model, problem.x, problem.edge_index, problem.test_negatives).numpy()
    return link_auroc(pos, neg)


def retrain_with_checkpoints(
    original: GraphModel, problem: DeletionProblem, config: TrainConfig, seed: int
) -> tuple[GraphModel, list[tuple[float, float]]]:
    """Exact retraining; returns the model and (training seconds so far, test AUROC)
    after every epoch (evaluation time is not counted)."""
    model = fresh_copy(original, seed)
    trace: list[tuple[float, float]] = []
    spent = 0.0
    began = time.perf_counter()

    def checkpoint() -> None:
        nonlocal spent, began
        spent += time.perf_counter() - began
        trace.append((spent, utility(model, problem)))
        model.train()  # the evaluation left it in eval mode
        began = time.perf_counter()

    x, edge_index, elements = problem.x, problem.edge_index, problem.retained_elements
    train(model, x, edge_index, elements, None, config, seed, after_epoch=checkpoint)
    return model, trace


def _warm_up(model: GraphModel, problem: DeletionProblem) -> None:
    """Load lazily imported code (scikit-learn for the AUROC, autograd's kernels) on a
    40-node slice, so that the measured peak is the method's memory, not code pages."""
    utility(model, problem)
    nodes = 40
    edges = problem.edges[:, (problem.edges < nodes).all(0)]
    edge_index = torch.cat([edges, edges.flip(0)], 1)
    element_loss(model.train(), problem.x[:nodes], edge_index, edges).backward()
    model.zero_grad(set_to_none=True)
    model.eval()


def measure(mode: str, state_path: str) -> dict[str, Any]:
    """Measure one mode ("retrain" or a method name) in this process."""
    from unlearn_graph.methods.grapheraser import ShardedModel

    state = torch.load(state_path, weights_only=False)
    setup: Setup = state["setup"]
    torch.set_num_threads(setup.num_threads)
    seed = setup.seed
    task, problem = build_problem(setup)
    in_dim = task.x.shape[1]
    original = build_model(in_dim, setup.backbone, "link", None, seed)
    original.load_state_dict(state["original"])
    original.eval()
    _warm_up(original, problem)
    config = TrainConfig(epochs=setup.epochs)
    if mode == "retrain":
        (_, trace), cost = measure_cost(
            lambda: retrain_with_checkpoints(original, problem, config, seed)
        )
        return {"trace": trace, "peak_mib": cost.peak_mib}
    start: Any = original
    if mode == "grapheraser":
        shards = []
        for weights in state["shards"]:
            shard = build_model(in_dim, setup.backbone, "link", None, seed)
            shard.load_state_dict(weights)
            shards.append(shard.eval())
        start = ShardedModel(shards, state["assignment"], config, seed)
        with torch.no_grad():
            start.weights.copy_(state["aggregation"])
    fn = METHODS[mode].function
    params = setup.params[mode]
    model, cost = measure_cost(lambda: fn(start, problem, params, seed=seed))
    times = [cost.wall_s]
    if cost.wall_s < REPEAT_BELOW_S:
        for _ in range(REPEATS - 1):
            began = time.perf_counter()
            fn(start, problem, params, seed=seed)
            times.append(time.perf_counter() - began)
    return {
        "wall_s": statistics.median(times),
        "wall_s_runs": times,
        "peak_mib": cost.peak_mib,
        "retained_test_auroc": utility(model, problem),
    }


def serve() -> None:
    """Answer requests on stdin, one JSON line ``[mode, state, out]`` each: measure in a
    forked child that writes ``out``, then print the child's exit code on a line."""
    for module in PRELOAD:
        importlib.import_module(module)
    print("ready", flush=True)
    for line in sys.stdin:
        mode, state_path, out = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child: measure, then leave without the server's cleanup
            code = 0
            try:
                Path(out).write_text(json.dumps(measure(mode, state_path)))
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)
