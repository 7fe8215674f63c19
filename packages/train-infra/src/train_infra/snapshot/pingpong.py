r"""Ping-pong AdamW: every-step snapshots without a copy.

The copy path (`Snapshotter.snapshot` with any optimizer) copies parameters and
optimizer state into the manager's memory every snapshot: for AdamW that is three
bytes of state per byte of parameters, which competes with the training step for the
CPU cores and memory bandwidth. `PingPongAdamW` keeps *two* copies of the
parameters and of the AdamW moments, in a pair of shared-memory segments that the
snapshot-manager process already maps, and computes the update of step ``t + 1``
out of place, from segment ``A`` (the state after step ``t``) into segment ``B``:

$$
m_B = \beta_1 m_A + (1 - \beta_1) g, \qquad v_B = \beta_2 v_A + (1 - \beta_2) g^2,
$$

$$
\theta_B = \theta_A (1 - \eta\lambda) - \eta\,\hat m_B / (\sqrt{\hat v_B} + \epsilon)
$$

(decoupled weight decay, Loshchilov & Hutter, arXiv:1711.05101; Adam, Kingma & Ba,
arXiv:1412.6980), with $\hat m = m / (1 - \beta_1^t)$, $\hat v = v / (1 - \beta_2^t)$.
An out-of-place update writes as many bytes as the in-place one. The parameters are then
re-pointed to ``B``, and ``A``, untouched, *is* the consistent snapshot of step ``t``:
committing it to the manager sends only a header (RNG states, buffers, step counters,
loader position). Because the manager maps ``A``, it survives a crash of the trainer.

Before an update writes into a committed segment the manager is told to forget that
snapshot (``reopen``), so a crash mid-update leaves the other, intact snapshot as the
latest. A step taken without a snapshot after it updates the live segment in place,
which keeps the latest snapshot intact whatever the snapshot frequency.

The arithmetic is that of ``torch.optim.AdamW`` (single-tensor path, the CPU default)
operation by operation, so the two produce bit-identical parameters; with
``weight_decay=0`` it equals ``torch.optim.Adam``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import torch

from train_infra.snapshot.errors import IncompatibleSnapshotError, SnapshotError
from train_infra.snapshot.manager import ManagerClient
from train_infra.snapshot.state import FORMAT_VERSION, encode_inline, layout, param_shapes, unpack


class SlotHost(Protocol):
    """What `PingPongAdamW` needs of the snapshotter that holds its two slots.

    `train_infra.snapshot.snapshotter.Snapshotter` is one; naming the interface here
    keeps the imports one-way (the snapshotter imports this module, not the reverse).
    """

    client: ManagerClient

    def before_overwrite(self, name: str) -> None:
        """Called before an update writes into the committed slot ``name``."""


class PingPongAdamW(torch.optim.Optimizer):
    """AdamW whose parameters and moments live in two alternating shared-memory slots.

    ``model``'s parameters are moved into the first slot (``p.data`` becomes a view of
    it). With ``snapshotter`` the two slots are allocated by its manager process; with
    None they are plain process memory (the same arithmetic, no snapshots), which is
    what a reference run or a test needs.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        snapshotter: SlotHost | None = None,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        if not (isinstance(lr, float | int) and lr >= 0 and math.isfinite(lr)):
            raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        named = list(model.named_parameters())
        if not named:
            raise ValueError("the model has no parameters to optimise")
        for name, param in named:
            if not param.dtype.is_floating_point or param.device.type != "cpu":
                raise ValueError(
                    f"parameter {name!r} is {param.dtype} on {param.device}; PingPongAdamW "
                    "holds floating-point CPU parameters only"
                )
        defaults = {"lr": float(lr), "betas": tuple(betas), "eps": eps}
        defaults["weight_decay"] = weight_decay
        super().__init__([p for _, p in named], defaults)
        self.snapshotter = snapshotter
        self.param_names = [name for name, _ in named]
        shapes: dict[str, torch.Tensor] = {}
        for index, (name, param) in enumerate(named):
            meta = torch.empty(param.shape, dtype=param.dtype, device="meta")
            shapes[f"model/{name}"] = meta
            shapes[f"optim/{index}/exp_avg"] = meta
            shapes[f"optim/{index}/exp_avg_sq"] = meta
        self.manifest, self.size = layout(shapes)
        if snapshotter is None:
            self.slot_names: list[str | None] = [None, None]
            buffers = [torch.zeros(max(self.size, 1), dtype=torch.uint8) for _ in range(2)]
        else:
            names = snapshotter.client.request("pair", self.size)
            self.slot_names = list(names)
            buffers = [
                torch.frombuffer(snapshotter.client.segment(n).buf, dtype=torch.uint8)[
                    : max(self.size, 1)
                ]
                for n in names
            ]
        self.slots = [unpack(b, self.manifest, copy=False) for b in buffers]
        # `load_state_dict` copies into the slots: restore_state may hand it views.
        self.copies_on_load = True
        self.live = 0
        self.live_committed = False
        self._buffers: dict[torch.dtype, torch.Tensor] = {}
        # Fault injection for tests: called after each parameter's update.
        self._after_param: Callable[[int], None] | None = None
        live = self.slots[0]
        with torch.no_grad():
            for index, (name, param) in enumerate(named):
                view = live[f"model/{name}"]
                view.copy_(param)
                param.data = view
                self.state[param] = {
                    "step": torch.tensor(0.0, dtype=torch.float32),
                    "exp_avg": live[f"optim/{index}/exp_avg"].zero_(),
                    "exp_avg_sq": live[f"optim/{index}/exp_avg_sq"].zero_(),
                }
        attach = getattr(snapshotter, "attach", None)
        if attach is not None:
            attach(self)

    def detach(self) -> None:
        """Move the parameters and moments out of the snapshotter's shared memory.

        `Snapshotter.close` calls this before it unmaps the slots, so the model keeps
        working (its parameters would otherwise point into unmapped memory). After it,
        the optimizer trains on in plain process memory and can no longer be snapshot.
        """
        if self.snapshotter is None:
            return
        buffers = [torch.zeros(max(self.size, 1), dtype=torch.uint8) for _ in range(2)]
        slots = [unpack(b, self.manifest, copy=False) for b in buffers]
        live = self.slots[self.live]
        with torch.no_grad():
            for key, tensor in live.items():
                slots[0][key].copy_(tensor)
            for index, param in enumerate(self.param_groups[0]["params"]):
                param.data = slots[0][f"model/{self.param_names[index]}"]
                self.state[param]["exp_avg"] = slots[0][f"optim/{index}/exp_avg"]
                self.state[param]["exp_avg_sq"] = slots[0][f"optim/{index}/exp_avg_sq"]
        self.slots, self.live, self.live_committed = slots, 0, False
        self.slot_names = [None, None]
        self.snapshotter = None

    # -- the update -------------------------------------------------------------------

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One AdamW update, out of place into the other slot when the live one is committed."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        source = self.live
        target = 1 - source if self.live_committed else source
        if target != source and self.snapshotter is not None:
            name = self.slot_names[target]
            assert name is not None
            self.snapshotter.before_overwrite(name)
        group = self.param_groups[0]
        lr, (beta1, beta2) = group["lr"], group["betas"]
        eps, weight_decay = group["eps"], group["weight_decay"]
        src, dst = self.slots[source], self.slots[target]
        for index, param in enumerate(group["params"]):
            key = f"model/{self.param_names[index]}"
            p_src, p_dst = src[key], dst[key]
            m_src, m_dst = src[f"optim/{index}/exp_avg"], dst[f"optim/{index}/exp_avg"]
            v_src, v_dst = src[f"optim/{index}/exp_avg_sq"], dst[f"optim/{index}/exp_avg_sq"]
            state = self.state[param]
            grad = param.grad
            if grad is None:
                if target != source:  # nothing to update, but the other slot must hold it
                    p_dst.copy_(p_src)
                    m_dst.copy_(m_src)
                    v_dst.copy_(v_src)
            else:
                # The same operations, in the same order, as torch.optim.AdamW's
                # single-tensor path, written out of place (``out=``).
                state["step"] += 1
                step = state["step"].item()
                if weight_decay != 0:
                    torch.mul(p_src, 1 - lr * weight_decay, out=p_dst)
                    base = p_dst
                else:
                    base = p_src
                torch.lerp(m_src, grad, 1 - beta1, out=m_dst)
                torch.mul(v_src, beta2, out=v_dst).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                step_size = lr / bias_correction1
                # torch computes (v.sqrt() / c).add_(eps) in two fresh tensors; the same
                # operations into one reused buffer give the same bits without
                # allocating (and page-faulting) two parameter-sized tensors per step.
                denom = self._scratch(v_dst)
                torch.sqrt(v_dst, out=denom)
                denom.div_(bias_correction2**0.5).add_(eps)
                torch.addcdiv(base, m_dst, denom, value=-step_size, out=p_dst)
            param.data = p_dst
            state["exp_avg"], state["exp_avg_sq"] = m_dst, v_dst
            if self._after_param is not None:
                self._after_param(index)
        self.live = target
        self.live_committed = False
        return loss

    def _scratch(self, like: torch.Tensor) -> torch.Tensor:
        """A reused buffer shaped like ``like`` (one per dtype, as large as needed)."""
        buffer = self._buffers.get(like.dtype)
        if buffer is None or buffer.numel() < like.numel():
            buffer = torch.empty(like.numel(), dtype=like.dtype)
            self._buffers[like.dtype] = buffer
        return buffer[: like.numel()].view(like.shape)

    # -- snapshots --------------------------------------------------------------------

    def snapshot_header(
        self, model: torch.nn.Module, step: int, loader_position: Any = None
    ) -> tuple[str, dict[str, Any]]:
        """The live slot's name and the header that makes it a complete snapshot.

        Everything not in the slot travels in the header: RNG states, model buffers
        (batch-norm statistics), the optimizer's step counters and hyperparameters.
        """
        from train_infra.snapshot.rng import encode_rng_states

        name = self.slot_names[self.live]
        if name is None:
            raise SnapshotError(
                "this PingPongAdamW has no snapshotter (made without one, or its "
                "Snapshotter was closed)"
            )
        live = self.slots[self.live]
        params = dict(model.named_parameters())
        for param_name in self.param_names:
            param = params.get(param_name)
            view = live[f"model/{param_name}"]
            if param is None or param.data_ptr() != view.data_ptr():
                raise SnapshotError(
                    f"parameter {param_name!r} no longer lives in the optimizer's slot: "
                    "snapshot the model this PingPongAdamW was built from"
                )
        inline: dict[str, torch.Tensor] = {}
        for key, value in model.state_dict().items():
            if key not in params:
                inline[f"model/{key}"] = value
        for index, param in enumerate(self.param_groups[0]["params"]):
            inline[f"optim/{index}/step"] = self.state[param]["step"]
        inline.update(encode_rng_states())
        inline["rng/torch"] = torch.get_rng_state()
        meta = {
            "format": FORMAT_VERSION,
            "step": int(step),
            "loader_position": loader_position,
            "optimizer": {
                "class": type(self).__name__,
                "param_groups": self.state_dict_groups(),
                "scalars": {},
                "param_shapes": param_shapes(self),
            },
        }
        header = {
            "manifest": self.manifest,
            "inline": encode_inline(inline),
            "meta": meta,
            "size": self.size,
            "crc": None,
        }
        return name, header

    def state_dict_groups(self) -> list[dict[str, Any]]:
        """``param_groups`` as `state_dict` gives them (parameters as indices)."""
        group = self.param_groups[0]
        out = {k: v for k, v in group.items() if k != "params"}
        out["betas"] = list(out["betas"])
        out["params"] = list(range(len(group["params"])))
        return [out]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Copy a state dict into the live slot (the moments stay in shared memory)."""
        groups = state_dict["param_groups"]
        params = self.param_groups[0]["params"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(params):
            raise IncompatibleSnapshotError(
                f"PingPongAdamW has one group of {len(params)} parameters; the state dict "
                f"has groups of {[len(g['params']) for g in groups]}"
            )
        for key in ("lr", "eps", "weight_decay"):
            self.param_groups[0][key] = groups[0][key]
        self.param_groups[0]["betas"] = tuple(groups[0]["betas"])
        states = state_dict["state"]
        with torch.no_grad():
            for index, param in enumerate(params):
                entries = states.get(index, states.get(str(index)))
                if entries is None:
                    raise IncompatibleSnapshotError(f"the state dict has no state for {index}")
                state = self.state[param]
                for key in ("exp_avg", "exp_avg_sq"):
                    if entries[key].shape != state[key].shape:
                        raise IncompatibleSnapshotError(
                            f"optimizer state {index}/{key}: {tuple(entries[key].shape)} "
                            f"in the snapshot, {tuple(state[key].shape)} here"
                        )
                    state[key].copy_(entries[key])
                state["step"] = torch.as_tensor(entries["step"], dtype=torch.float32).clone()
        self.live_committed = False
