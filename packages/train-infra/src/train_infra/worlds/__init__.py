"""The synthetic worlds the train-infra benchmarks run on, each with a seed and size knobs.

- `training_state`: the stream of classification batches that ``snapshot-recovery``
  trains on (a batch is a function of the seed and the step, so a restored run can
  regenerate it);
- `disk_graph`: world ``planted-partition-on-disk`` of ``diskgnn-features``, a
  planted-partition graph whose node features live in a file;
- `gossip`: world ``barabasi-albert-gossip`` of ``p2p-disruption``, a Barabási–Albert
  communication graph, data held by some nodes, and a drop schedule.

The params classes are torch-free; the generators call into the engine sub-packages
(`train_infra.outofcore`, `train_infra.decentralized`).
"""
