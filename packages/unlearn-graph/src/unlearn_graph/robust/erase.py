r"""ERASE: error-resilient representation learning on graphs for label noise tolerance.

Chen, Zhang, Huang, Su, Lin, Xiao, Xia, Liu (CIKM 2024, arXiv:2312.08852); the
details follow the authors' code (github.com/eraseai/erase), written anew here.

1. **Label denoising before training.** The one-hot observed labels $Y^{(0)}$ of the
   training nodes spread over the graph restricted to edges between two training nodes,
   $A_\text{tr}$, with the random-walk operator $\hat A = A_\text{tr} D_\text{tr}^{-1}$
   (no self-loops):
   $\hat Y^{(t+1)} = \alpha \hat Y^{(t)} + (1 - \alpha) \hat A \hat Y^{(t)}$, $T$ steps.
   $\hat Y = \hat Y^{(T)}$ (zero rows outside the training set) is fixed from then on.
2. **Representations.** A two-layer GCN encoder $Z = f_\theta(X, A) \in \mathbb{R}^{n
   \times d}$ (dropout on the input, leaky ReLU and $\ell_1$ row normalisation after the
   first layer, $\ell_1$ row normalisation then ReLU after the second).
3. **Semantic labels at every step** (no gradient through them). Class prototypes
   $\mu_k$ are the mean of $Z$ over the training nodes whose denoised label
   $\arg\max_k \hat Y_{ik}$ is $k$; $S_{ik} = |\cos(z_i, \mu_k)|$;
   $Y = \mathrm{softmax}_k(\beta \hat Y + (1 - \beta) S)$ for every node; then the same
   propagation on the full graph, $Y \leftarrow \alpha Y + (1 - \alpha) A D^{-1} Y$, $T$
   steps, and pseudo-labels $\ell_i = \arg\max_k Y_{ik}$ for **all** nodes
   (transductive), membership $\Pi_j = \mathrm{diag}(\ell = j)$.
4. **Objective: maximal coding rate reduction** (MCR², Yu et al., arXiv:2006.08558) over
   all nodes, maximised:

   $$\Delta R(Z, \Pi, \epsilon) = \underbrace{\tfrac12 \log\det\!\big(I + \tfrac{d}{n
   \epsilon^2} Z^\top Z\big)}_{R(Z, \epsilon)} - \underbrace{\sum_j \tfrac{n_j}{2n}
   \log\det\!\big(I + \tfrac{d}{n_j \epsilon^2} Z^\top \Pi_j Z\big)}_{R_c(Z, \epsilon
   \mid \Pi)}, \qquad n_j = \mathrm{tr}\,\Pi_j$$

   (rows of $Z$ are nodes, so $Z^\top Z$ is the $d \times d$ form of the paper's
   $ZZ^\top$). ERASE minimises $-(\gamma_2 R - R_c)$ with $\gamma_2$ =
   ``expansion_weight`` (2 for Cora in the authors' settings; their $\gamma_1$ = 1
   throughout); $\gamma_2 = 1$ is $-\Delta R$ exactly. The authors' ``eps`` argument is
   our ``epsilon_squared`` (their code divides by it, not by its square).
5. **Classification.** A logistic regression on the $\ell_2$-normalised $Z$ of the
   training nodes, fitted to their pseudo-labels $\ell$, predicts every node; it is
   refitted every ``probe_every`` epochs and the epoch with the best accuracy on the
   *observed* (possibly noisy) validation labels is kept. The authors select on the
   clean validation labels; we do not, so that no learner reads a clean label.

Departures: Adam without AMSGrad, smaller widths and fewer epochs (see `ERASEParams`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from unlearn_graph.robust.common import Fitted, NoisyNodeTask
from unlearn_graph.robust.params import ERASEParams
from unlearn_graph.training import minimise


def coding_rate(z: Tensor, epsilon_squared: float) -> Tensor:
    r"""$R(Z, \epsilon) = \frac12 \log\det(I_d + \frac{d}{n \epsilon^2} Z^\top Z)$, rows of
    ``z`` the $n$ samples."""
    n, d = z.shape
    identity = torch.eye(d, dtype=z.dtype)
    return 0.5 * torch.logdet(identity + (d / (n * epsilon_squared)) * z.T @ z)


def class_coding_rate(
    z: Tensor, labels: Tensor, num_classes: int, epsilon_squared: float
) -> Tensor:
    r"""$R_c(Z, \epsilon \mid \Pi) = \sum_j \frac{n_j}{2n} \log\det(I_d + \frac{d}{n_j
    \epsilon^2} Z_j^\top Z_j)$ with $Z_j$ the rows labelled $j$; an empty class adds 0."""
    n, d = z.shape
    identity = torch.eye(d, dtype=z.dtype)
    total = z.new_zeros(())
    for j in range(num_classes):
        members = z[labels == j]
        n_j = members.shape[0]
        if n_j == 0:
            continue
        gram = members.T @ members
        total = total + n_j / (2 * n) * torch.logdet(
            identity + (d / (n_j * epsilon_squared)) * gram
        )
    return total


def coding_rate_reduction(
    z: Tensor, labels: Tensor, num_classes: int, epsilon_squared: float
) -> Tensor:
    r"""MCR²'s $\Delta R = R(Z, \epsilon) - R_c(Z, \epsilon \mid \Pi)$ (to be maximised)."""
    return coding_rate(z, epsilon_squared) - class_coding_rate(
        z, labels, num_classes, epsilon_squared
    )


def random_walk_propagation(
    y: Tensor, edge_index: Tensor, num_nodes: int, alpha: float, steps: int
) -> Tensor:
    r"""``steps`` times $Y \leftarrow \alpha Y + (1 - \alpha) A D^{-1} Y$, i.e.
    $(A D^{-1} Y)_i = \sum_j A_{ij} Y_j / d_j$ (an isolated node sends nothing)."""
    source, target = edge_index
    degree = torch.zeros(num_nodes).index_add_(0, source, torch.ones(source.shape[0]))
    inverse = torch.where(degree > 0, 1.0 / degree.clamp_min(1.0), torch.zeros_like(degree))
    for _ in range(steps):
        sent = (y * inverse.unsqueeze(1).to(y.dtype))[source]
        y = alpha * y + (1.0 - alpha) * torch.zeros_like(y).index_add_(0, target, sent)
    return y


def denoise_labels(
    observed: Tensor,
    train_idx: Tensor,
    edge_index: Tensor,
    num_nodes: int,
    num_classes: int,
    alpha: float,
    steps: int,
) -> Tensor:
    r"""$\hat Y$ of step 1: the one-hot observed training labels propagated over the
    edges between two training nodes; rows outside the training set are zero."""
    in_train = torch.zeros(num_nodes, dtype=torch.bool)
    in_train[train_idx] = True
    kept = edge_index[:, in_train[edge_index[0]] & in_train[edge_index[1]]]
    start = torch.zeros(num_nodes, num_classes)
    start[train_idx, observed[train_idx]] = 1.0
    return random_walk_propagation(start, kept, num_nodes, alpha, steps)


def semantic_labels(z: Tensor, denoised: Tensor, train_idx: Tensor, beta: float) -> Tensor:
    r"""Step 3 before propagation: $\mathrm{softmax}(\beta \hat Y + (1-\beta) S)$, with
    $S_{ik} = |\cos(z_i, \mu_k)|$ and $\mu_k$ the mean training representation of
    denoised class $k$ (a class no training node holds has $\mu_k = 0$, $S_{ik} = 0$)."""
    num_classes = denoised.shape[1]
    z_train = z[train_idx]
    classes = denoised[train_idx].argmax(1)
    sums = torch.zeros(num_classes, z.shape[1]).index_add_(0, classes, z_train)
    counts = torch.bincount(classes, minlength=num_classes).clamp_min(1).unsqueeze(1)
    prototypes = sums / counts
    similarity = nn.functional.normalize(z, dim=1) @ nn.functional.normalize(prototypes, dim=1).T
    return torch.softmax(beta * denoised + (1.0 - beta) * similarity.abs(), dim=1)


class ERASEEncoder(nn.Module):
    """The two-layer GCN of step 2, outputs non-negative rows of unit $\\ell_1$ norm
    (or zero)."""

    def __init__(self, in_dim: int, hidden: int, embedding: int, dropout: float) -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv

        # Transductive: one graph, so the normalised adjacency is computed once.
        self.first = GCNConv(in_dim, hidden, cached=True)
        self.second = GCNConv(hidden, embedding, cached=True)
        self.dropout = dropout

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        h = nn.functional.dropout(x, p=self.dropout, training=self.training)
        h = nn.functional.leaky_relu(self.first(h, edge_index))
        h = nn.functional.normalize(h, p=1.0, dim=1)
        h = nn.functional.normalize(self.second(h, edge_index), p=1.0, dim=1)
        return torch.relu(h)


def _linear_probe(z: Tensor, train_idx: Tensor, targets: Tensor) -> Tensor:
    """Logistic regression on the l2-normalised training rows; predicts every node."""
    from sklearn.linear_model import LogisticRegression

    features = nn.functional.normalize(z, dim=1).numpy()
    train_targets = targets[train_idx].numpy()
    if np.unique(train_targets).size < 2:
        return torch.full((z.shape[0],), int(train_targets[0]), dtype=torch.long)
    probe = LogisticRegression(max_iter=1000).fit(features[train_idx.numpy()], train_targets)
    return torch.as_tensor(probe.predict(features), dtype=torch.long)


@dataclass
class _Progress:
    """What the training loop carries between steps: the latest pseudo-labels and the
    best probe so far."""

    pseudo: Tensor
    predictions: Tensor
    epoch: int = 0
    best: float = -1.0


def erase(noisy: NoisyNodeTask, params: ERASEParams, *, seed: int) -> Fitted:
    """Train an ERASE encoder on the observed labels and classify every node (steps 1-5)."""
    task = noisy.task
    n, k = task.num_nodes, task.num_classes
    x, edge_index = task.x, task.edge_index
    denoised = denoise_labels(
        noisy.observed, task.train_idx, edge_index, n, k, params.alpha, params.propagation_steps
    )
    torch.manual_seed(seed)
    encoder = ERASEEncoder(x.shape[1], params.hidden, params.embedding, params.dropout)
    run = _Progress(pseudo=denoised.argmax(1), predictions=denoised.argmax(1))

    def objective() -> Tensor:
        encoder.train()
        z = encoder(x, edge_index)
        with torch.no_grad():
            soft = semantic_labels(z.detach(), denoised, task.train_idx, params.beta)
            soft = random_walk_propagation(
                soft, edge_index, n, params.alpha, params.propagation_steps
            )
            run.pseudo = soft.argmax(1)
        expansion = coding_rate(z, params.epsilon_squared)
        compression = class_coding_rate(z, run.pseudo, k, params.epsilon_squared)
        return -(params.expansion_weight * expansion - compression)

    def probe() -> None:
        run.epoch += 1
        if run.epoch % params.probe_every and run.epoch != params.epochs:
            return
        encoder.eval()
        with torch.no_grad():
            z = encoder(x, edge_index)
        predictions = _linear_probe(z, task.train_idx, run.pseudo)
        value = float((predictions[task.val_idx] == noisy.observed[task.val_idx]).float().mean())
        if value > run.best:
            run.best, run.predictions = value, predictions

    minimise(
        objective,
        encoder.parameters(),
        params.epochs,
        params.learning_rate,
        params.weight_decay,
        after_step=probe,
    )
    corrected = noisy.observed.clone()
    corrected[task.train_idx] = denoised[task.train_idx].argmax(1)
    return Fitted(run.predictions, {"validation_accuracy": run.best}, corrected_labels=corrected)
