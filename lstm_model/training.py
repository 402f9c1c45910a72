"""Training loop: the whole packed dataset lives on the device; batches are gathered by index.

No DataLoader, no host<->device copies inside an epoch, one sync per epoch (loss read-out).
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lstm_model.network import LSTMForecaster, NetworkConfig
from lstm_model.windows import gather

LOSSES = ("mae", "mse", "huber")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """The loop's configuration, built from the settings (``tasks.train.configs``), which hold every
    default; the loop's own constants and the run's files follow."""

    epochs: int
    batch_size: int
    lr: float  # peak learning rate
    weight_decay: float
    weight_ema: float  # decay per step of the moving average of the weights that is validated and kept (0: off)
    recency_half_life: float  # windows of L + H steps over which a window's loss weight halves with age (0: off)
    patience: int  # epochs without validation improvement before stopping
    loss: str  # one of LOSSES
    flip_share: float  # share of training windows whose target is mirrored about its last input value
    seed: int
    device: str
    max_windows_per_epoch: int | None  # sample this many training windows per epoch (None: all)
    resume: bool  # continue from ``checkpoint`` when it exists
    warmup_frac: float = 0.05  # of the schedule: linear warm-up, then cosine decay
    min_lr_frac: float = 0.1  # the decay's floor, as a fraction of ``lr``
    grad_clip: float = 1.0
    checkpoint: str | None = None  # local file holding the whole training state after every epoch
    stop_after: int | None = None  # run this many epochs of the ``epochs``-long schedule, keep the last weights


@dataclass
class TrainResult:
    model: nn.Module  # best weights (lowest validation loss), on the training device
    history: list[dict] = field(default_factory=list)  # one row per epoch
    best_epoch: int = 0
    best_val_loss: float = math.inf
    windows_per_s: float = 0.0
    seconds: float = 0.0
    device: str = "cpu"
    n_train_windows: int = 0
    n_val_windows: int = 0
    peak_memory_mb: float = 0.0  # device memory high-water mark (CUDA only)
    resumed_from_epoch: int | None = None  # the last epoch the checkpoint held, when resumed
    world_size: int = 1  # data-parallel processes that trained together


def pick_device(name: str = "auto") -> torch.device:
    """cuda -> mps -> cpu when ``auto``; otherwise exactly what was asked."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def warmup_epochs(cfg: TrainConfig) -> int:
    """Epochs of the linear learning-rate warm-up at the start of the schedule."""
    return max(1, int(cfg.warmup_frac * cfg.epochs))


def lr_at(epoch: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_frac * lr`` at the last epoch."""
    warm = warmup_epochs(cfg)
    if epoch < warm:
        return cfg.lr * (epoch + 1) / warm
    t = min(1.0, (epoch - warm) / max(1, cfg.epochs - 1 - warm))  # 1 at the last epoch
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def loss_fn(name: str, reduction: str = "mean") -> nn.Module:
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")
    return {
        "mae": nn.L1Loss(reduction=reduction),
        "mse": nn.MSELoss(reduction=reduction),
        "huber": nn.HuberLoss(delta=0.5, reduction=reduction),
    }[name]


def fit(
    net_cfg: NetworkConfig,
    data: np.ndarray,
    train_starts: np.ndarray,
    val_starts: np.ndarray,
    cfg: TrainConfig,
    on_epoch: Callable[[dict], None] | None = None,
    train_ages: np.ndarray | None = None,
) -> TrainResult:
    """Train on windows of ``data`` (N, F) starting at ``train_starts`` (W,); early-stop on
    ``val_starts`` (V,) (on the training loss when V = 0). Returns the best weights. ``train_ages``
    (W,): steps from each training window's last target to the newest training target of its
    series, which weigh the windows when ``cfg.recency_half_life`` is set.

    Inside an initialised ``torch.distributed`` process group (``torchrun``), every rank walks the
    same shuffled order and takes its own slice of each global batch of ``batch_size`` windows;
    DDP all-reduces the gradients and the losses are averaged over ranks, so every rank takes the
    same early-stopping decision. Only rank 0 writes the checkpoint.
    """
    if train_starts.size == 0:
        raise ValueError("no training window: every series is shorter than input_size + horizon in its training part")
    rank, world = _world()
    device = pick_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    torch.manual_seed(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    L, H = net_cfg.input_size, net_cfg.horizon
    window = L + H

    x_all = torch.as_tensor(data, dtype=torch.float32, device=device)  # (N, F)
    tr = torch.as_tensor(train_starts, dtype=torch.int64, device=device)  # (W,)
    va = torch.as_tensor(val_starts, dtype=torch.int64, device=device)  # (V,)
    weight_of = None  # (N,) the loss weight of the window starting at each point
    if cfg.recency_half_life > 0 and train_ages is not None:
        weight_of = torch.zeros(x_all.shape[0], device=device)
        ages = torch.as_tensor(train_ages, dtype=torch.float32, device=device)  # (W,)
        weight_of[tr] = 0.5 ** (ages / (cfg.recency_half_life * window))
    model = LSTMForecaster(net_cfg).to(device)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=device.type == "cuda")
    criterion = loss_fn(cfg.loss, reduction="none")
    use_bf16 = device.type == "cuda"
    per_epoch = min(tr.numel(), cfg.max_windows_per_epoch or tr.numel())
    per_epoch -= per_epoch % world  # every rank gets the same number of windows
    bs = max(world, min(cfg.batch_size, per_epoch) // world * world)  # global batch, a multiple of world
    n_batches = math.ceil(per_epoch / bs)

    def step_loss(
        module: nn.Module, starts: torch.Tensor, batch_weight: torch.Tensor | None = None, flip: bool = False
    ) -> torch.Tensor:
        """Mean loss of the windows at ``starts``; with ``batch_weight`` (the age weights summed over the
        whole global batch, of which ``starts`` is this rank's slice), this rank's share of the batch's
        weighted mean, scaled so that the gradients averaged over ranks are that of the weighted mean."""
        w = gather(x_all, starts, window)  # (B, L+H, F)
        if flip:
            w = _mirrored(w, L, cfg.flip_share, gen)  # (B, L+H, F)
        future = w[:, L:, w.shape[-1] - net_cfg.n_future :] if net_cfg.n_future else None  # (B, H, Ff)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            y_hat = module(w[:, :L], future)  # (B, H)
        err = criterion(y_hat.float(), w[:, L:, 0])  # (B, H) target: feature 0 of the last H steps
        if batch_weight is not None and weight_of is not None:
            k = weight_of[starts]  # (B,)
            return (err.mean(dim=1) * k).sum() * world / batch_weight
        return err.mean()

    result = TrainResult(
        model=model, device=str(device), n_train_windows=tr.numel(), n_val_windows=va.numel(), world_size=world
    )
    state = {
        "epoch": -1,
        "best": copy.deepcopy(model.state_dict()),
        "best_epoch": 0,
        "best_val_loss": math.inf,
        "since_best": 0,
        "history": [],
        "seconds": 0.0,
    }
    ema = copy.deepcopy(model) if cfg.weight_ema > 0 else None  # the moving average of the weights
    if cfg.resume and cfg.checkpoint and Path(cfg.checkpoint).exists():
        state = _restore(cfg.checkpoint, model, opt, gen, device, ema)
        result.resumed_from_epoch = state["epoch"]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter() - state["seconds"]
    for epoch in range(state["epoch"] + 1, min(cfg.stop_after or cfg.epochs, cfg.epochs)):
        if state["since_best"] >= cfg.patience:
            break
        te = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = lr_at(epoch, cfg)
        net.train()
        perm = tr[torch.randperm(tr.numel(), generator=gen, device=device)[:per_epoch]]  # (E,) this epoch's windows
        total = torch.zeros((), device=device)
        for b in range(n_batches):
            batch = perm[b * bs : (b + 1) * bs]  # (B,) the global batch, the same on every rank
            weight = weight_of[batch].sum() if weight_of is not None else None
            loss = step_loss(net, batch[rank::world], weight, cfg.flip_share > 0)  # this rank's slice
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            if ema is not None:  # warmed up: the k-th step of the run weighs at least 1/k
                _update_ema(ema, model, min(cfg.weight_ema, 1 - 1 / (epoch * n_batches + b + 1)))
            total += loss.detach()
        kept = model if ema is None else ema  # the weights validated and kept
        kept.eval()
        val = evaluate_loss(partial(step_loss, kept), va[rank::world], bs, va.numel()) if va.numel() else None
        train_loss = float(_sum_over_ranks(total)) / world / n_batches  # the one sync of the epoch
        seconds = time.perf_counter() - te
        score = val if val is not None else train_loss
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val,
            "lr": lr_at(epoch, cfg),
            "windows_per_s": per_epoch / max(seconds, 1e-9),
            "epoch_seconds": seconds,
        }
        if device.type == "cuda":
            row["gpu_mem_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        state["history"].append(row)
        if score < state["best_val_loss"] or cfg.stop_after:  # a fixed-length run keeps its last weights
            state.update(best_val_loss=score, best_epoch=epoch, since_best=0, best=copy.deepcopy(kept.state_dict()))
        else:
            state["since_best"] += 1
        state["epoch"], state["seconds"] = epoch, time.perf_counter() - t0
        if cfg.checkpoint and rank == 0:
            _save(cfg.checkpoint, state, model, opt, gen, ema)
        if on_epoch is not None:
            on_epoch(row)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        result.peak_memory_mb = torch.cuda.max_memory_allocated(device) / 2**20
    result.seconds = time.perf_counter() - t0
    result.history, result.best_epoch, result.best_val_loss = (
        state["history"],
        state["best_epoch"],
        state["best_val_loss"],
    )
    result.windows_per_s = len(result.history) * per_epoch / max(result.seconds, 1e-9)
    model.load_state_dict(state["best"])
    model.eval()
    return result


def _mirrored(w: torch.Tensor, L: int, share: float, gen: torch.Generator) -> torch.Tensor:
    """w (B, L+H, F) with the target (feature 0) of a random ``share`` of the windows mirrored about
    its last input value, y -> 2 last - y: a rise becomes a fall. The drift the network can learn
    without reading it from the window shrinks by a factor 1 - 2 share (half: none)."""
    flip = torch.rand(w.shape[0], generator=gen, device=w.device) < share  # (B,)
    last = w[:, L - 1 : L, 0]  # (B, 1)
    target = torch.where(flip[:, None], 2 * last - w[..., 0], w[..., 0])  # (B, L+H)
    return torch.cat([target[..., None], w[..., 1:]], dim=-1)


@torch.no_grad()
def _update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, parameter by parameter (buffers copied)."""
    e, m = list(ema.parameters()), list(model.parameters())
    torch._foreach_lerp_(e, m, 1.0 - decay)
    for b_e, b_m in zip(ema.buffers(), model.buffers(), strict=True):
        b_e.copy_(b_m)


@torch.no_grad()
def evaluate_loss(
    step_loss: Callable[[torch.Tensor], torch.Tensor], starts: torch.Tensor, bs: int, total_count: int
) -> float:
    """Mean loss over ``starts`` (this rank's share of ``total_count`` windows), averaged over ranks."""
    total = torch.zeros((), device=starts.device)
    for b in range(0, starts.numel(), bs):
        chunk = starts[b : b + bs]
        total += step_loss(chunk) * chunk.numel()
    return float(_sum_over_ranks(total)) / total_count


# -- data parallel ---------------------------------------------------------------------------------


def _world() -> tuple[int, int]:
    """(rank, world size) of the initialised process group; (0, 1) without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _sum_over_ranks(x: torch.Tensor) -> torch.Tensor:
    """``x`` summed over every rank (``x`` itself without a process group)."""
    if _world()[1] == 1:
        return x
    import torch.distributed as dist

    x = x.clone()
    dist.all_reduce(x)
    return x


# -- checkpoints -----------------------------------------------------------------------------------


def _save(
    path: str, state: dict, model: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator, ema: nn.Module | None
) -> None:
    """The whole training state (tensors and plain values only), written atomically."""
    payload = {
        **state,
        "model": model.state_dict(),
        **({"ema": ema.state_dict()} if ema is not None else {}),
        "opt": opt.state_dict(),
        "gen": gen.get_state(),
        "torch_rng": torch.get_rng_state(),
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, target)


def _restore(
    path: str,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    gen: torch.Generator,
    device: torch.device,
    ema: nn.Module | None,
) -> dict:
    """Load a checkpoint written by :func:`_save` (``weights_only``: no code runs) into the objects."""
    payload = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(payload.pop("model"))
    saved_ema = payload.pop("ema", None)
    if ema is not None:
        ema.load_state_dict(saved_ema if saved_ema is not None else model.state_dict())
    opt.load_state_dict(payload.pop("opt"))
    gen.set_state(payload.pop("gen").cpu())
    torch.set_rng_state(payload.pop("torch_rng").cpu())
    return payload
