"""Batched inference: every series' last window in one pass (chunked only to bound memory)."""

from __future__ import annotations

import numpy as np
import torch

from lstm_model.windows import gather


@torch.no_grad()
def predict_windows(model: torch.nn.Module, data: np.ndarray, starts: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """data (N, F) scaled, starts (S,) first index of each input window -> (S, H) scaled forecasts.
    A network that reads future-known covariates takes them from the H rows after each input window
    (``data`` then holds the horizon's rows too, their target unknown)."""
    model.eval()
    device = next(model.parameters()).device
    x_all = torch.as_tensor(data, dtype=torch.float32, device=device)  # (N, F)
    st = torch.as_tensor(starts, dtype=torch.int64, device=device)  # (S,)
    L, H, Ff = model.cfg.input_size, model.cfg.horizon, model.cfg.n_future
    outs = []
    for b in range(0, st.numel(), chunk):
        w = gather(x_all, st[b : b + chunk], L + H if Ff else L)  # (B, L[+H], F)
        future = w[:, L:, w.shape[-1] - Ff :] if Ff else None  # (B, H, Ff)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            outs.append(model(w[:, :L], future).float())  # (B, H)
    if not outs:
        return np.zeros((0, H))
    return torch.cat(outs).cpu().numpy().astype(np.float64)  # (S, H)
