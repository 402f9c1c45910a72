"""Checkpoint/resume, per-epoch metrics, sampled epochs, covariates and leakage through the train stage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from lstm_model import scaling
from lstm_model.bundle import ModelBundle, features, forecast_packed
from lstm_model.training import fit
from lstm_model.windows import PackedSeries, window_starts
from tasks.adapters.settings import load_settings
from tasks.train.stage import train_stage
from tests.conftest import net_config, train_config

L, H = 6, 2
NET = net_config(input_size=L, horizon=H, hidden_size=8, num_layers=2, dropout=0.1)


def sine_data(n_series: int = 3, length: int = 40, val: int = 4):
    t = np.arange(length)
    p = PackedSeries.from_arrays([np.sin(2 * np.pi * (t + 2 * k) / 8) + 3.0 + k for k in range(n_series)])
    zeros = np.zeros(p.n_series, dtype=np.int64)
    tr = window_starts(p.offsets, zeros, p.lengths - val, L + H)
    va = window_starts(p.offsets, p.lengths - val, p.lengths, L + H)
    return p.values[:, None], tr, va


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class Interrupted(Exception):
    pass


def test_resume_continues_to_the_same_result_as_an_uninterrupted_run(tmp_path):
    data, tr, va = sine_data()
    cfg = train_config(epochs=12, batch_size=16, lr=1e-2, patience=100, seed=3)
    straight = fit(NET, data, tr, va, cfg)

    ckpt = str(tmp_path / "ckpt" / "member-0.pt")

    def crash_after_epoch_5(row: dict) -> None:
        if row["epoch"] == 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        fit(NET, data, tr, va, train_config(**{**cfg.__dict__, "checkpoint": ckpt}), on_epoch=crash_after_epoch_5)
    resumed = fit(NET, data, tr, va, train_config(**{**cfg.__dict__, "checkpoint": ckpt, "resume": True}))

    assert resumed.resumed_from_epoch == 5
    assert [r["epoch"] for r in resumed.history] == list(range(12))
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]
    assert resumed.best_epoch == straight.best_epoch
    assert same_weights(resumed.model, straight.model)


def test_without_resume_a_checkpoint_is_written_but_not_read(tmp_path):
    data, tr, va = sine_data()
    ckpt = tmp_path / "member-0.pt"
    cfg = train_config(epochs=3, batch_size=16, seed=1, checkpoint=str(ckpt))
    first = fit(NET, data, tr, va, cfg)
    assert ckpt.exists() and first.resumed_from_epoch is None
    again = fit(NET, data, tr, va, cfg)  # starts over: the same three epochs, not zero more
    assert again.resumed_from_epoch is None and len(again.history) == 3
    state = torch.load(ckpt, weights_only=True)  # tensors and plain values only: loads with no code run
    assert state["epoch"] == 2 and set(state["model"]) == set(first.model.state_dict())


def test_resume_of_a_finished_training_trains_no_more(tmp_path):
    data, tr, va = sine_data()
    cfg = train_config(epochs=4, batch_size=16, seed=1, checkpoint=str(tmp_path / "m.pt"))
    done = fit(NET, data, tr, va, cfg)
    again = fit(NET, data, tr, va, train_config(**{**cfg.__dict__, "resume": True}))
    assert again.resumed_from_epoch == 3 and len(again.history) == 4
    assert same_weights(again.model, done.model)


def test_every_epoch_reports_throughput_and_time():
    data, tr, va = sine_data()
    res = fit(NET, data, tr, va, train_config(epochs=2, batch_size=16))
    for row in res.history:
        assert row["windows_per_s"] > 0 and row["epoch_seconds"] > 0
    assert res.peak_memory_mb == 0.0  # CPU: no device memory to report


def test_max_windows_per_epoch_samples_that_many_windows():
    data, tr, va = sine_data(n_series=4, length=60)
    seen: list[int] = []

    def count(row: dict) -> None:
        seen.append(round(row["windows_per_s"] * row["epoch_seconds"]))

    fit(NET, data, tr, va, train_config(epochs=2, batch_size=8, max_windows_per_epoch=20), on_epoch=count)
    assert seen == [20, 20] and tr.size > 20


# -- covariates ------------------------------------------------------------------------------------


def covariate_frame(n_series: int = 3, n: int = 72, seed: int = 0) -> pd.DataFrame:
    """y follows the covariate x one step later: x carries information the target's past does not."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        x = rng.normal(0, 1, n)
        y = 10.0 + i + np.concatenate([[0.0], x[:-1]]) + rng.normal(0, 0.05, n)
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{i}",
                    "ds": pd.date_range("2020-01-01", periods=n, freq="D"),
                    "y": y,
                    "x": x * 100.0 + 5.0,
                    "unused": rng.normal(0, 1, n),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def tiny_settings(tmp_path, **over):
    return load_settings(
        {
            "storage.root": str(tmp_path / "storage"),
            "data.horizon": 1,
            "data.input_size": 4,
            "training.epochs": 40,
            "training.patience": 40,
            "training.batch_size": 64,
            "model.hidden_size": 16,
            "training.progress": False,
            "data.n_windows": 1,
            **over,
        }
    )


def test_covariates_widen_the_input_and_are_used(tmp_path):
    df = covariate_frame()
    # the raw weights: over this run's 160 steps the moving average (the default) still carries the first ones
    plain = train_stage(df, tiny_settings(tmp_path, **{"training.weight_ema": 0.0}))
    with_x = train_stage(df, tiny_settings(tmp_path, **{"data.covariates": "x", "training.weight_ema": 0.0}))
    assert plain.bundle.network.n_features == 1 and plain.bundle.covariates == []
    assert with_x.bundle.network.n_features == 2 and with_x.bundle.covariates == ["x"]
    assert with_x.bundle.covariate_stats.loc.shape == (3, 1)
    # x predicts tomorrow's y: the network that reads it is far better on the validation windows
    assert with_x.result.best_val_loss < 0.5 * plain.result.best_val_loss
    # ... and it really reads x: changing x in the inputs changes the forecast
    p = with_x.packed
    origin = p.lengths.copy()
    base = forecast_packed(with_x.bundle.build(), p, origin, with_x.bundle.stats, with_x.bundle.covariate_stats)
    moved = PackedSeries(p.values, p.offsets, p.lengths, p.covariates + 300.0)
    other = forecast_packed(with_x.bundle.build(), moved, origin, with_x.bundle.stats, with_x.bundle.covariate_stats)
    assert not np.allclose(base, other)


def test_all_covariates_and_a_missing_one(tmp_path):
    df = covariate_frame()
    out = train_stage(df, tiny_settings(tmp_path, **{"data.covariates": "all", "training.epochs": 2}))
    assert out.bundle.covariates == ["x", "unused"] and out.bundle.network.n_features == 3
    with pytest.raises(ValueError, match="covariate columns \\['nope'\\]"):
        train_stage(df, tiny_settings(tmp_path, **{"data.covariates": "nope"}))


def test_covariate_bundle_round_trip(tmp_path):
    out = train_stage(covariate_frame(), tiny_settings(tmp_path, **{"data.covariates": "x", "training.epochs": 2}))
    again = ModelBundle.from_payloads(out.bundle.weights_bytes(), out.bundle.config_json())
    assert again.covariates == ["x"]
    np.testing.assert_array_equal(again.covariate_stats.scale, out.bundle.covariate_stats.scale)
    p = out.packed
    a = forecast_packed(out.bundle.build(), p, p.lengths, out.bundle.stats, out.bundle.covariate_stats)
    b = forecast_packed(again.build(), p, p.lengths, again.stats, again.covariate_stats)
    np.testing.assert_array_equal(a, b)


def test_covariate_features_are_scaled_on_the_training_part_only():
    p = PackedSeries(np.arange(10.0) + 1, np.array([0]), np.array([10]), np.arange(10.0)[:, None] * 2)
    sid = p.series_of_point()
    train = np.arange(10) < 6
    cov = scaling.fit_covariate_stats(p.covariates, sid, train, 1)
    assert cov.loc[0, 0] == pytest.approx(5.0)  # mean of 0, 2, ..., 10 (the first six points)
    poisoned = PackedSeries(p.values, p.offsets, p.lengths, np.where(train[:, None], p.covariates, 1e9))
    assert scaling.fit_covariate_stats(poisoned.covariates, sid, train, 1).loc[0, 0] == pytest.approx(5.0)
    f = features(p, scaling.fit_stats(p.values, sid, train, 1, "none"), cov)
    assert f.shape == (10, 2)


# -- leakage through the whole train stage --------------------------------------------------------


def test_scaler_statistics_ignore_an_outlier_in_the_test_part(tmp_path):
    n = 60
    ds = pd.date_range("2015-01-01", periods=n, freq="MS")
    y = 100 + 10 * np.sin(2 * np.pi * np.arange(n) / 12)
    clean = pd.DataFrame({"unique_id": "a", "ds": ds, "y": y})
    spiked = clean.assign(y=np.where(np.arange(n) >= n - 12, 1e7, y))  # the last horizon: the test part
    s = tiny_settings(tmp_path, **{"data.horizon": 12, "data.input_size": 12, "training.epochs": 1})
    a, b = train_stage(clean, s), train_stage(spiked, s)
    np.testing.assert_array_equal(a.stats.loc, b.stats.loc)  # the scored model never sees the test part
    np.testing.assert_array_equal(a.stats.scale, b.stats.scale)
    assert a.bundle.stats.loc[0] != b.bundle.stats.loc[0]  # the served refit sees every point


def test_train_stage_resume_uses_the_checkpoint_of_the_same_training(tmp_path):
    df = covariate_frame(n_series=2)
    s = tiny_settings(tmp_path, **{"training.epochs": 3})
    first = train_stage(df, s)
    assert list((tmp_path / "storage" / "checkpoints").glob("*/member-0.pt"))
    resumed = train_stage(df, tiny_settings(tmp_path, **{"training.epochs": 3, "training.resume": True}))
    assert resumed.result.resumed_from_epoch == 2
    other = train_stage(
        df, tiny_settings(tmp_path, **{"training.epochs": 3, "training.resume": True, "training.lr": 1e-2})
    )
    assert other.result.resumed_from_epoch is None  # other settings: another training, another checkpoint
    assert same_weights(first.result.model, resumed.result.model)


def test_weight_ema_keeps_the_moving_average_and_resumes_to_the_same_result(tmp_path):
    data, tr, va = sine_data()
    cfg = train_config(epochs=8, batch_size=16, lr=1e-2, patience=100, seed=3, stop_after=8, weight_ema=0.0)
    plain = fit(NET, data, tr, va, cfg)
    averaged = fit(NET, data, tr, va, train_config(**{**cfg.__dict__, "weight_ema": 0.9}))
    assert [r["train_loss"] for r in averaged.history] == [r["train_loss"] for r in plain.history]  # same iterates
    assert not same_weights(averaged.model, plain.model)  # ... but the average of them is kept
    for p in averaged.model.parameters():
        assert torch.isfinite(p).all()

    ckpt = str(tmp_path / "ema.pt")
    ema_cfg = train_config(**{**cfg.__dict__, "weight_ema": 0.9, "checkpoint": ckpt})

    def crash_after_epoch_3(row: dict) -> None:
        if row["epoch"] == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        fit(NET, data, tr, va, ema_cfg, on_epoch=crash_after_epoch_3)
    assert "ema" in torch.load(ckpt, weights_only=True)
    resumed = fit(NET, data, tr, va, train_config(**{**ema_cfg.__dict__, "resume": True}))
    assert resumed.resumed_from_epoch == 3
    assert same_weights(resumed.model, averaged.model)


def test_weight_ema_validates_the_average():
    data, tr, va = sine_data()
    cfg = train_config(epochs=10, batch_size=16, lr=1e-2, patience=100, seed=3, weight_ema=0.0)
    plain = fit(NET, data, tr, va, cfg)
    averaged = fit(NET, data, tr, va, train_config(**{**cfg.__dict__, "weight_ema": 0.8}))
    assert [r["train_loss"] for r in averaged.history] == [r["train_loss"] for r in plain.history]
    assert [r["val_loss"] for r in averaged.history] != [r["val_loss"] for r in plain.history]
