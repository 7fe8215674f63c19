"""Readouts: from a backbone's node activations to one vector per graph.

`unlearn_graph.readout.histograph` holds HISTOGRAPH (arXiv:2601.01123), the two-stage
attention over every layer's activations; `unlearn_graph.readout.classifier` a graph
classifier that uses it or a last-layer pooling baseline (mean, sum, attention). Both
import torch, so this package imports them only when asked.
"""
