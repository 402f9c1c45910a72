"""The network: a stacked LSTM with a direct multi-step head.

Shapes: B = batch, L = input_size, F = features (target first, then covariates), H = horizon,
Ff = future-known covariates (the last Ff of the F features: calendar, holidays, planned promotions).

Without future-known covariates a linear head maps the last LSTM state to the H steps. With them,
a decoder does, as in neuralforecast's LSTM: the last state becomes one context vector per step,
and a small MLP shared by the steps reads each step's context with that step's known covariates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """Everything needed to rebuild the network (serialised as JSON next to the weights). Built from
    the settings (``tasks.train.configs``), which hold every default."""

    input_size: int  # L: past steps the network sees
    horizon: int  # H: future steps emitted at once
    hidden_size: int
    num_layers: int
    dropout: float
    level_norm: bool  # subtract the last observed value from each window, add it back to the output
    window_scale: bool  # also divide each window's target by its spread, multiply the output back
    n_features: int = 1  # F: target + covariates (what the data has)
    n_future: int = 0  # Ff: the last Ff features are known for the horizon too (the decoder reads them)
    static_cardinalities: tuple[int, ...] = ()  # Fs static features just before those: categories (0: numeric)

    def __post_init__(self) -> None:
        object.__setattr__(self, "static_cardinalities", tuple(self.static_cardinalities))  # JSON gives a list

    members: int = 1  # independently trained networks whose forecasts are averaged (see Ensemble.of)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NetworkConfig:
        return cls(**{**BEFORE_FIELDS, **{k: v for k, v in d.items() if k in cls.__dataclass_fields__}})


BEFORE_FIELDS = {"window_scale": False}  # what a bundle written before these fields existed did
SPREAD_FLOOR = 1e-3  # a window's spread (scaled units) below which it counts as flat
CONTEXT = 16  # K: context units per horizon step handed to the decoder


def embedding_dim(categories: int) -> int:
    """Units of a categorical static covariate's embedding: a few, growing with its categories."""
    return min(8, (categories + 2) // 2)


class LSTMForecaster(nn.Module):
    """x (B, L, F) -> y_hat (B, H), all horizon steps at once (direct multi-step)."""

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.cfg = cfg
        cards = cfg.static_cardinalities
        self.embeddings = nn.ModuleList(nn.Embedding(c + 1, embedding_dim(c)) for c in cards if c)  # code 0: unseen
        static_units = sum(embedding_dim(c) if c else 1 for c in cards)
        self.lstm = nn.LSTM(
            input_size=cfg.n_features - len(cards) + static_units,
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
            batch_first=True,
        )
        if cfg.n_future:
            self.context = nn.Linear(cfg.hidden_size, cfg.horizon * CONTEXT)
            self.decoder = nn.Sequential(
                nn.Linear(CONTEXT + cfg.n_future, cfg.hidden_size), nn.ReLU(), nn.Linear(cfg.hidden_size, 1)
            )
        else:
            self.head = nn.Linear(cfg.hidden_size, cfg.horizon)

    def _out(self, state: torch.Tensor, future: torch.Tensor | None) -> torch.Tensor:
        """state (B, hidden), future (B, H, Ff) -> (B, H)."""
        if not self.cfg.n_future:
            return self.head(state)  # (B, H)
        if future is None:
            raise ValueError(f"this network reads {self.cfg.n_future} future-known covariates: pass their values")
        ctx = self.context(state).view(state.shape[0], self.cfg.horizon, CONTEXT)  # (B, H, K)
        return self.decoder(torch.cat([ctx, future.to(ctx.dtype)], dim=-1))[..., 0]  # (B, H, K + Ff) -> (B, H)

    def _static(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, L, F) -> (B, L, F - Fs + E): the static columns (constant over the window) replaced
        by their embeddings (categorical) or kept (numeric), at every step."""
        cards = self.cfg.static_cardinalities
        F, Ff, Fs = x.shape[-1], self.cfg.n_future, len(cards)
        first = F - Ff - Fs
        static = x[:, -1, first : F - Ff]  # (B, Fs)
        parts, emb = [], iter(self.embeddings)
        for k, c in enumerate(cards):
            if c:
                code = static[:, k].round().long().clamp(0, c)  # (B,)
                parts.append(next(emb)(code).to(x.dtype))  # (B, E_k)
            else:
                parts.append(static[:, k : k + 1])  # (B, 1)
        vec = torch.cat(parts, dim=-1)[:, None, :].expand(-1, x.shape[1], -1)  # (B, L, E)
        return torch.cat([x[..., :first], vec, x[..., F - Ff :]], dim=-1)

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, L, F), future (B, H, Ff) the known covariates of the horizon (when n_future) -> (B, H)."""
        if self.cfg.static_cardinalities:
            x = self._static(x)  # (B, L, F')
        target = x[..., :1]  # (B, L, 1)
        if not self.cfg.level_norm:
            out, _ = self.lstm(x)  # (B, L, hidden)
            return self._out(out[:, -1], future)  # (B, H)
        level = target[:, -1:]  # (B, 1, 1): last observed target value
        spread = target.std(dim=1, unbiased=False, keepdim=True)  # (B, 1, 1)
        if self.cfg.window_scale:
            target, gain = (target - level) / spread.clamp_min(SPREAD_FLOOR), spread
        else:  # a window with no variation at all forecasts its level (a series that stopped, all zeros)
            target, gain = target - level, spread / (spread + SPREAD_FLOOR)
        out, _ = self.lstm(torch.cat([target, x[..., 1:]], dim=-1))  # (B, L, hidden)
        return level[:, :, 0] + gain[:, :, 0] * self._out(out[:, -1], future)  # (B, 1) + (B, 1) * (B, H)


class Ensemble(nn.Module):
    """The mean forecast of ``cfg.members`` independently trained networks: (B, L, F) -> (B, H)."""

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.members = nn.ModuleList(LSTMForecaster(cfg) for _ in range(cfg.members))

    @classmethod
    def of(cls, cfg: NetworkConfig, trained: list[LSTMForecaster]) -> Ensemble:
        ens = cls(replace(cfg, members=len(trained)))
        for slot, model in zip(ens.members, trained):
            slot.load_state_dict(model.state_dict())
        return ens

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        return torch.stack([m(x, future) for m in self.members]).mean(dim=0)  # (K, B, H) -> (B, H)
