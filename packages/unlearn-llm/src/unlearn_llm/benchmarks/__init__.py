"""Benchmark recipes of unlearn-llm, registered under the ``unlearn.benchmarks`` group.

- ``facts.py``: ``llm-facts-quick`` and ``llm-facts-full``, one recipe (world, original,
  exact retrain oracle, every method, scored against the oracle); its reporting helpers
  are in ``_facts_report.py``.
- ``speed.py``: ``unlearn-llm-speed``, time per unlearning step against a plain
  training step, peak memory, and time to forget vs the oracle's retrain.
- ``_attacks.py``: the recovery attacks inside the facts benchmarks (which run, on which
  models, clean against attacked forget quality, the attack validity gate).
- ``attack_power.py``: ``llm-attack-power``, which attacks catch the designed
  suppression-only models, per training recipe (one-stage, TOFU-like two-stage).
- ``restor.py``: ``llm-restor`` (RESTOR), documents of wrong facts corrupt the model,
  every method unlearns them: forgetting of the wrong facts vs recovery of the true ones.
- ``dusk.py``: ``llm-dusk`` (DUSK), forget one of several document sets that share some
  facts: DUSK's seven metrics (verbatim, unique/shared knowledge, PrivLeak, ...) per method.
- ``erase_and_check.py``: ``llm-erase-and-check``, the certified erase-and-check prompt
  defence (``unlearn_llm.defences``): certified and harmless accuracy and cost per d.
- ``copy_suppression.py``: ``llm-copy-suppression``, negative heads, OV copy-suppression
  scores and self-repair in a tiny attention-only transformer (``unlearn_llm.circuits``).
- ``s3t.py``: ``llm-s3t`` (S3T exact unlearning, ``unlearn_llm.exact``), LoRA slices
  switched off on deletion vs SISA sharding and a full retrain: cost, deletions, utility.
- ``retain_sampling.py``: ``llm-retain-sampling`` (modular sampling), 1:1, cyclic and MELU
  retain sampling (``unlearn_llm.sampling``) per method: forget and per-neighbour-set accuracy.
- ``gone.py``: ``llm-gone`` (GONE), knowledge-graph facts forgotten: direct removal,
  multi-hop leakage through them, forgetting by hop distance, locality; NEDS among methods.
- ``continual.py``: ``llm-continual-stream`` (FIT + PCH), a stream of personal, copyright-
  like and harmful-like deletion requests served in order by every method (FIT among them):
  F.D. and R.U. after each request, per-request cost, relearning at the end, MUSE curves.
- ``_common.py``: the one ``metric(...)`` helper both build their MetricValues with.

Benchmark modules import no torch at module level (``unlearn-bench list`` and
``validate`` load them); their ``run`` functions do.
"""
