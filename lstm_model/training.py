"""Training loop: the whole packed dataset lives on the device; batches are gathered by index.

No DataLoader, no host<->device copies inside an epoch, one sync per epoch (loss read-out).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from lstm_model.network import LSTMForecaster, NetworkConfig
from lstm_model.windows import gather

LOSSES = ("mae", "mse", "huber")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 300
    batch_size: int = 1024
    lr: float = 3e-3
    weight_decay: float = 0.0
    warmup_frac: float = 0.05
    min_lr_frac: float = 0.1
    patience: int = 50
    grad_clip: float = 1.0
    loss: str = "mae"
    seed: int = 0
    device: str = "auto"


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


def pick_device(name: str = "auto") -> torch.device:
    """cuda -> mps -> cpu when ``auto``; otherwise exactly what was asked."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def lr_at(epoch: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_frac * lr`` at the last epoch."""
    warm = max(1, int(cfg.warmup_frac * cfg.epochs))
    if epoch < warm:
        return cfg.lr * (epoch + 1) / warm
    t = min(1.0, (epoch - warm) / max(1, cfg.epochs - 1 - warm))  # 1 at the last epoch
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def loss_fn(name: str) -> nn.Module:
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")
    return {"mae": nn.L1Loss(), "mse": nn.MSELoss(), "huber": nn.HuberLoss(delta=0.5)}[name]


def fit(
    net_cfg: NetworkConfig,
    data: np.ndarray,
    train_starts: np.ndarray,
    val_starts: np.ndarray,
    cfg: TrainConfig,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train on windows of ``data`` (N, F) starting at ``train_starts`` (W,); early-stop on
    ``val_starts`` (V,) (on the training loss when V = 0). Returns the best weights."""
    if train_starts.size == 0:
        raise ValueError(
            "no training window: every series is shorter than input_size + horizon in its training part"
        )
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    L, H = net_cfg.input_size, net_cfg.horizon
    window = L + H

    x_all = torch.as_tensor(data, dtype=torch.float32, device=device)  # (N, F)
    tr = torch.as_tensor(train_starts, dtype=torch.int64, device=device)  # (W,)
    va = torch.as_tensor(val_starts, dtype=torch.int64, device=device)  # (V,)
    model = LSTMForecaster(net_cfg).to(device)
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=device.type == "cuda"
    )
    criterion = loss_fn(cfg.loss)
    use_bf16 = device.type == "cuda"
    bs = max(1, min(cfg.batch_size, tr.numel()))
    n_batches = math.ceil(tr.numel() / bs)

    def step_loss(starts: torch.Tensor) -> torch.Tensor:
        w = gather(x_all, starts, window)  # (B, L+H, F)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            y_hat = model(w[:, :L])  # (B, H)
        return criterion(y_hat.float(), w[:, L:, 0])  # target: feature 0 of the last H steps

    result = TrainResult(model=model, device=str(device), n_train_windows=tr.numel(), n_val_windows=va.numel())
    best_state = copy.deepcopy(model.state_dict())
    since_best = 0
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        for group in opt.param_groups:
            group["lr"] = lr_at(epoch, cfg)
        model.train()
        perm = tr[torch.randperm(tr.numel(), generator=gen, device=device)]  # (W,)
        total = torch.zeros((), device=device)
        for b in range(n_batches):
            loss = step_loss(perm[b * bs : (b + 1) * bs])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            total += loss.detach()
        val = evaluate_loss(model, va, step_loss, bs) if va.numel() else None
        train_loss = float(total) / n_batches  # the one sync of the epoch
        score = val if val is not None else train_loss
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val, "lr": lr_at(epoch, cfg)}
        result.history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if score < result.best_val_loss:
            result.best_val_loss, result.best_epoch, since_best = score, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
            if since_best >= cfg.patience:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    result.seconds = time.perf_counter() - t0
    epochs_run = len(result.history)
    result.windows_per_s = epochs_run * tr.numel() / max(result.seconds, 1e-9)
    model.load_state_dict(best_state)
    model.eval()
    return result


@torch.no_grad()
def evaluate_loss(
    model: nn.Module, starts: torch.Tensor, step_loss: Callable[[torch.Tensor], torch.Tensor], bs: int
) -> float:
    model.eval()
    total = torch.zeros((), device=starts.device)
    for b in range(0, starts.numel(), bs):
        chunk = starts[b : b + bs]
        total += step_loss(chunk) * chunk.numel()
    return float(total) / starts.numel()
