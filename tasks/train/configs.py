"""The network and training-loop configurations, built from the settings (the one source of defaults)."""

from __future__ import annotations

from lstm_model.network import NetworkConfig
from lstm_model.training import TrainConfig
from tasks.adapters.settings import Settings


def network_config(
    s: Settings,
    input_size: int,
    horizon: int,
    n_features: int = 1,
    n_future: int = 0,
    static_cardinalities: tuple[int, ...] = (),
) -> NetworkConfig:
    m = s.model
    return NetworkConfig(
        input_size=input_size,
        horizon=horizon,
        n_features=n_features,
        n_future=n_future,
        static_cardinalities=static_cardinalities,
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        dropout=m.dropout,
        level_norm=m.level_norm,
        window_scale=m.window_scale,
    )


def train_config(s: Settings) -> TrainConfig:
    t = s.training
    return TrainConfig(
        epochs=t.epochs,
        batch_size=t.batch_size,
        lr=t.lr,
        weight_decay=t.weight_decay,
        weight_ema=t.weight_ema,
        recency_half_life=t.recency_half_life,
        patience=t.patience,
        loss=t.loss,
        flip_share=t.flip_share,
        seed=t.seed,
        device=t.device,
        max_windows_per_epoch=t.max_windows_per_epoch,
        resume=t.resume,
    )
