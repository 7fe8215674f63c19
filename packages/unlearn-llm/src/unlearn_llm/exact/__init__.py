"""Exact unlearning: systems whose deletion provably removes an item's influence.

Not a ``methods/`` entry: a method edits a trained model, whereas an exact system
decides how the model is trained in the first place (shards, slices, adapters) so that
deleting an item only switches off the parts that saw it.

* ``s3t``: Sequence-aware Sharded Sliced Training (S3T, arXiv:2406.16257), with the
  SISA-style full-model sharding and the full-retrain baselines it is compared with;
  its params (``S3TParams``) in the torch-free ``params.py``.
"""
