"""Network, training loop, learning-rate schedule and the serialised bundle, tiny and on the CPU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lstm_model import scaling
from lstm_model.bundle import FORMAT_VERSION, ModelBundle, forecast_packed
from lstm_model.network import Ensemble, LSTMForecaster, NetworkConfig
from lstm_model.training import fit, lr_at
from lstm_model.windows import PackedSeries, gather, window_starts
from tests.conftest import net_config, train_config

L, H = 6, 2
NET = net_config(input_size=L, horizon=H, hidden_size=8, num_layers=1)


def sine_packed(n_series: int = 3, length: int = 40) -> PackedSeries:
    t = np.arange(length)
    return PackedSeries.from_arrays([np.sin(2 * np.pi * (t + 2 * k) / 8) + 3.0 + k for k in range(n_series)])


def sine_dataset(n_series: int = 3, length: int = 40, val: int = 4):
    """Packed sines, their (N, 1) data and train/val window starts (validation: the last ``val`` ends)."""
    p = sine_packed(n_series, length)
    zeros = np.zeros(p.n_series, dtype=np.int64)
    tr = window_starts(p.offsets, zeros, p.lengths - val, L + H)
    va = window_starts(p.offsets, p.lengths - val, p.lengths, L + H)
    return p, p.values[:, None], tr, va


def state_dicts_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- network ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_features", [1, 3])
@pytest.mark.parametrize("level_norm", [True, False])
def test_output_shape_is_batch_by_horizon(n_features, level_norm):
    torch.manual_seed(0)
    model = LSTMForecaster(
        net_config(input_size=7, horizon=4, n_features=n_features, hidden_size=5, num_layers=2, level_norm=level_norm)
    )
    out = model(torch.randn(3, 7, n_features))
    assert out.shape == (3, 4)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("n_features", [1, 3])
def test_level_norm_shifts_outputs_by_the_same_constant(n_features):
    torch.manual_seed(1)
    model = LSTMForecaster(
        net_config(input_size=L, horizon=3, n_features=n_features, hidden_size=8, num_layers=2, level_norm=True)
    ).eval()
    x = torch.randn(5, L, n_features)
    shifted = x.clone()
    shifted[..., 0] += 7.5  # the target only; covariates unchanged
    with torch.no_grad():
        base, moved = model(x), model(shifted)
    torch.testing.assert_close(moved, base + 7.5, rtol=0, atol=1e-5)


@pytest.mark.parametrize("window_scale", [False, True])
def test_a_flat_window_forecasts_its_level(window_scale):
    """A series that stopped (every input value the same, zeros included) gets that value back at every
    step, whatever the weights; a window with any variation does not."""
    torch.manual_seed(2)
    model = LSTMForecaster(
        net_config(input_size=L, horizon=3, hidden_size=8, num_layers=2, window_scale=window_scale)
    ).eval()
    flat = torch.tensor([0.0, 2.5, -1.0]).view(3, 1, 1).expand(3, L, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(flat), flat[:, :3, 0], rtol=0, atol=0)
        bumped = flat.clone()
        bumped[:, 0] += 0.5
        assert not torch.allclose(model(bumped), bumped[:, -3:, 0], atol=1e-3)


def test_window_scale_forecasts_scale_with_the_window():
    torch.manual_seed(3)
    model = LSTMForecaster(net_config(input_size=L, horizon=3, hidden_size=8, num_layers=1, window_scale=True)).eval()
    x = torch.randn(4, L, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(3.0 * x + 2.0), 3.0 * model(x) + 2.0, rtol=1e-5, atol=1e-5)


def test_without_level_norm_a_shift_is_not_passed_through():
    torch.manual_seed(1)
    model = LSTMForecaster(net_config(input_size=L, horizon=3, hidden_size=8, num_layers=1, level_norm=False)).eval()
    x = torch.randn(5, L, 1)
    with torch.no_grad():
        assert not torch.allclose(model(x + 7.5), model(x) + 7.5, atol=1e-3)


def test_ensemble_is_the_mean_of_its_members():
    torch.manual_seed(2)
    a, b = LSTMForecaster(NET).eval(), LSTMForecaster(NET).eval()
    ens = Ensemble.of(NET, [a, b]).eval()
    assert ens.cfg.members == 2 and len(ens.members) == 2
    x = torch.randn(4, L, 1)
    with torch.no_grad():
        torch.testing.assert_close(ens(x), (a(x) + b(x)) / 2, rtol=0, atol=1e-6)
        assert not torch.allclose(a(x), b(x))  # two different members, so the mean is informative


def test_network_config_dict_round_trip_ignores_unknown_keys():
    cfg = net_config(input_size=5, horizon=2, n_features=2, hidden_size=3, num_layers=1, dropout=0.1, level_norm=False)
    assert NetworkConfig.from_dict({**cfg.to_dict(), "something_new": 1}) == cfg


# -- training --------------------------------------------------------------------------------------


def test_fit_reduces_the_loss_and_keeps_the_best_weights():
    p, data, tr, va = sine_dataset()
    res = fit(NET, data, tr, va, train_config(epochs=30, batch_size=32, lr=1e-2, seed=0, patience=100, loss="mae"))
    assert res.n_train_windows == tr.size and res.n_val_windows == va.size
    assert len(res.history) == 30
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert res.history[-1]["train_loss"] < 0.5 * res.history[0]["train_loss"]
    vals = [r["val_loss"] for r in res.history]
    assert res.best_val_loss == min(vals) and res.history[res.best_epoch]["val_loss"] == res.best_val_loss
    # the returned model holds the best weights: its validation MAE is the best validation loss
    assert val_mae(res.model, data, va) == pytest.approx(res.best_val_loss, rel=1e-5)
    assert not res.model.training


def val_mae(model, data: np.ndarray, starts: np.ndarray) -> float:
    w = gather(torch.as_tensor(data, dtype=torch.float32), torch.as_tensor(starts), L + H)
    with torch.no_grad():
        return float(torch.mean(torch.abs(model(w[:, :L]) - w[:, L:, 0])))


def test_early_stopping_returns_the_best_epoch_weights_not_the_last():
    _, data, tr, va = sine_dataset()
    res = fit(
        NET,
        data,
        tr,
        va,
        train_config(epochs=40, batch_size=16, lr=3e-2, seed=0, patience=3, loss="mae", weight_ema=0.0),
    )  # the raw weights: their validation loss stalls, the moving average's (the default) keeps falling here
    n = len(res.history)
    assert n < 40  # stopped early ...
    assert res.best_epoch == n - 1 - 3  # ... exactly `patience` epochs after the best one
    last_val = res.history[-1]["val_loss"]
    assert last_val > res.best_val_loss
    got = val_mae(res.model, data, va)
    assert got == pytest.approx(res.best_val_loss, rel=1e-5)
    assert got != pytest.approx(last_val, rel=1e-3)


def test_fit_is_reproducible_with_a_seed():
    _, data, tr, va = sine_dataset()
    cfg = train_config(epochs=8, batch_size=16, lr=1e-2, seed=5, patience=100)
    a = fit(NET, data, tr, va, cfg)
    b = fit(NET, data, tr, va, cfg)
    assert state_dicts_equal(a.model.state_dict(), b.model.state_dict())
    assert [r["train_loss"] for r in a.history] == [r["train_loss"] for r in b.history]
    c = fit(NET, data, tr, va, train_config(epochs=8, batch_size=16, lr=1e-2, seed=6, patience=100))
    assert not state_dicts_equal(a.model.state_dict(), c.model.state_dict())


def test_fit_stops_early_when_nothing_improves():
    _, data, tr, va = sine_dataset()
    res = fit(NET, data, tr, va, train_config(epochs=50, lr=0.0, patience=3, seed=0))  # lr 0: weights frozen
    assert len(res.history) == 1 + 3
    assert res.best_epoch == 0


def test_fit_without_validation_uses_the_training_loss():
    _, data, tr, _ = sine_dataset()
    res = fit(NET, data, tr, np.zeros(0, dtype=np.int64), train_config(epochs=5, lr=1e-2, seed=0))
    assert all(r["val_loss"] is None for r in res.history)
    assert res.best_val_loss == min(r["train_loss"] for r in res.history)


def test_fit_without_training_windows_is_a_value_error():
    empty = np.zeros(0, dtype=np.int64)
    with pytest.raises(ValueError, match="no training window"):
        fit(NET, np.zeros((5, 1)), empty, empty, train_config(epochs=1))
    # also through window_starts: every series shorter than input_size + horizon
    short = PackedSeries.from_arrays([np.ones(5), np.ones(7)])
    starts = window_starts(short.offsets, np.zeros(2, int), short.lengths, L + H)
    assert starts.size == 0
    with pytest.raises(ValueError):
        fit(NET, short.values[:, None], starts, empty, train_config(epochs=1))


def test_lr_warms_up_then_decays():
    cfg = train_config(epochs=100, lr=1.0, warmup_frac=0.1, min_lr_frac=0.1)
    lrs = [lr_at(e, cfg) for e in range(100)]
    warm = lrs[:10]
    assert warm == pytest.approx([(e + 1) / 10 for e in range(10)])  # linear warm-up to the peak
    assert all(a < b for a, b in zip(warm, warm[1:]))
    assert max(lrs) == pytest.approx(1.0)
    decay = lrs[9:]
    assert all(a >= b for a, b in zip(decay, decay[1:]))  # non-increasing after the peak
    assert lrs[55] < 0.6 < lrs[45]  # cosine: halfway down around the middle of the decay
    assert min(lrs) >= 0.1 - 1e-12  # never below min_lr_frac * lr
    assert lrs[-1] == pytest.approx(0.1, abs=0.01)


def test_lr_reaches_the_floor_at_the_last_epoch():
    """Documented: 'cosine decay to min_lr_frac * lr at the last epoch' (the last epoch is epochs - 1)."""
    cfg = train_config(epochs=10, lr=1.0, warmup_frac=0.1, min_lr_frac=0.1)
    assert lr_at(cfg.epochs - 1, cfg) == pytest.approx(0.1, rel=1e-6)


# -- bundle ----------------------------------------------------------------------------------------


def trained_bundle():
    p, data, tr, va = sine_dataset()
    sid = p.series_of_point()
    stats = scaling.fit_stats(p.values, sid, p.position() < (p.lengths - 4)[sid], p.n_series, "auto", "standard")
    scaled = scaling.scale(p.values, sid, stats)[:, None]
    res = fit(NET, scaled, tr, va, train_config(epochs=3, lr=1e-2, seed=0))
    ens = Ensemble.of(NET, [res.model])
    return p, ModelBundle(ens.cfg, ens.state_dict(), stats, ["a", "b", "c"], {"freq": "MS", "season": 8})


def test_bundle_payload_round_trip_gives_identical_predictions():
    p, bundle = trained_bundle()
    weights, config = bundle.weights_bytes(), bundle.config_json()
    assert isinstance(weights, bytes) and isinstance(config, str)
    assert json.loads(config)["format_version"] == FORMAT_VERSION
    again = ModelBundle.from_payloads(weights, config)
    assert again.network == bundle.network
    assert again.series_ids == ["a", "b", "c"] and again.meta == {"freq": "MS", "season": 8}
    np.testing.assert_array_equal(again.stats.loc, bundle.stats.loc)
    np.testing.assert_array_equal(again.stats.scale, bundle.stats.scale)
    assert (again.stats.transform, again.stats.scaler) == (bundle.stats.transform, bundle.stats.scaler)
    assert state_dicts_equal(again.state_dict, {k: v.float() for k, v in bundle.state_dict.items()})
    x = torch.randn(4, L, 1)
    with torch.no_grad():
        torch.testing.assert_close(again.build()(x), bundle.build()(x), rtol=0, atol=0)
    origin = p.lengths
    a = forecast_packed(bundle.build(), p, origin, bundle.stats)
    b = forecast_packed(again.build(), p, origin, again.stats)
    assert a.shape == (3, H) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 0, "1", None])
def test_bundle_rejects_another_format_version(version):
    _, bundle = trained_bundle()
    cfg = json.loads(bundle.config_json())
    if version is None:
        del cfg["format_version"]
    else:
        cfg["format_version"] = version
    with pytest.raises(ValueError, match="format version"):
        ModelBundle.from_payloads(bundle.weights_bytes(), json.dumps(cfg))


def test_two_member_bundle_round_trip():
    torch.manual_seed(3)
    ens = Ensemble.of(NET, [LSTMForecaster(NET), LSTMForecaster(NET)])
    stats = scaling.ScalerStats(np.array([0.5]), np.array([2.0]), "none", "standard")
    bundle = ModelBundle(ens.cfg, ens.state_dict(), stats, ["only"])
    again = ModelBundle.from_payloads(bundle.weights_bytes(), bundle.config_json())
    assert again.network.members == 2
    x = torch.randn(3, L, 1)
    with torch.no_grad():
        torch.testing.assert_close(again.build()(x), ens.eval()(x), rtol=0, atol=0)


def test_forecast_packed_uses_the_input_size_points_before_the_origin():
    p, bundle = trained_bundle()
    model, stats = bundle.build(), bundle.stats
    origin = p.lengths - 3
    got = forecast_packed(model, p, origin, stats)
    # by hand: scale the L points before the origin, run the network, invert
    sid = p.series_of_point()
    scaled = scaling.scale(p.values, sid, stats)
    x = np.stack([scaled[o + g - L : o + g] for o, g in zip(p.offsets, origin)])[:, :, None]
    with torch.no_grad():
        y = model(torch.as_tensor(x, dtype=torch.float32)).numpy().astype(np.float64)
    want = scaling.inverse(y, np.arange(3)[:, None], stats)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # points at or after the origin are never read
    poisoned = p.values.copy()
    poisoned[p.position() >= origin[sid]] = 1e6
    again = forecast_packed(model, PackedSeries(poisoned, p.offsets, p.lengths), origin, stats)
    np.testing.assert_array_equal(again, got)


def test_forecast_packed_raises_when_origin_is_before_input_size():
    p, bundle = trained_bundle()
    with pytest.raises(ValueError, match="input_size"):
        forecast_packed(bundle.build(), p, np.array([L - 1, 40, 40]), bundle.stats)
    forecast_packed(bundle.build(), p, np.array([L, L, L]), bundle.stats)  # exactly input_size is enough


def test_window_ages_count_steps_back_from_the_newest_training_target():
    from tasks.train.stage import window_ages

    p = PackedSeries.from_arrays([np.arange(20.0), np.arange(15.0)])
    fit_end = np.array([18, 15])
    starts = window_starts(p.offsets, np.zeros(2, np.int64), fit_end, L + H)
    ages = window_ages(starts, p, fit_end, L + H)
    sid = p.series_of_point()[starts]
    last_target = p.position()[starts] + L + H - 1  # (W,)
    assert np.array_equal(ages, fit_end[sid] - 1 - last_target)
    for k in range(2):  # each series' newest window is age 0, its oldest the farthest back
        assert ages[sid == k].min() == 0 and ages[sid == k].max() == fit_end[k] - (L + H)


def test_recency_weighting_ignores_old_windows_when_the_half_life_is_tiny():
    """With a half-life far below one step, only the newest window of each series carries weight:
    replacing the older history with anything else leaves the trained weights unchanged; without
    the weighting the same change moves them."""
    from tasks.train.stage import window_ages

    p, data, tr, va = sine_dataset()
    fit_end = p.lengths - 4
    ages = window_ages(tr, p, fit_end, L + H)
    newest = np.zeros(data.shape[0], bool)
    for s in tr[ages == 0]:
        newest[s : s + L + H] = True
    newest[np.concatenate([np.arange(v, v + L + H) for v in va])] = True
    other = np.where(newest[:, None], data, 7.0 * np.cos(np.arange(data.shape[0]))[:, None])  # old points replaced
    cfg = train_config(epochs=6, batch_size=1024, lr=1e-2, seed=0, recency_half_life=1e-4)
    a = fit(NET, data, tr, va, cfg, train_ages=ages)
    b = fit(NET, other, tr, va, cfg, train_ages=ages)
    for k, v in a.model.state_dict().items():
        assert torch.allclose(v, b.model.state_dict()[k], atol=1e-6), k
    flat = train_config(epochs=6, batch_size=1024, lr=1e-2, seed=0)
    c = fit(NET, data, tr, va, flat, train_ages=ages)
    d = fit(NET, other, tr, va, flat, train_ages=ages)
    assert not state_dicts_equal(c.model.state_dict(), d.model.state_dict())


def test_mirrored_windows_reflect_the_target_about_the_last_input_value():
    from lstm_model.training import _mirrored

    w = torch.randn(64, L + H, 3)  # (B, L+H, F)
    gen = torch.Generator().manual_seed(0)
    out = _mirrored(w, L, 0.5, gen)
    last = w[:, L - 1, 0]  # (B,)
    flipped = ~torch.isclose(out[:, :, 0], w[:, :, 0]).all(dim=1)  # (B,)
    assert 10 < int(flipped.sum()) < 54  # about half, drawn
    assert torch.allclose(out[flipped, :, 0], 2 * last[flipped, None] - w[flipped, :, 0])
    assert torch.equal(out[:, L - 1, 0], last)  # the window's last value stays where it was
    assert torch.equal(out[..., 1:], w[..., 1:])  # covariates are never mirrored
    assert torch.equal(_mirrored(w, L, 0.0, gen), w)


def test_mirrored_training_reads_the_drift_from_the_window():
    """Trained on one rising line, the network forecasts a rise whatever the window shows; with half
    the windows mirrored it forecasts a falling window falling."""
    line = 0.05 * np.arange(120.0)  # (N,) one series, scaled units
    starts = np.arange(0, 100 - (L + H) + 1)
    val = np.arange(100 - (L + H) + 1, 120 - (L + H) + 1)
    falling = torch.as_tensor(-0.05 * np.arange(L + H), dtype=torch.float32)  # (L+H,)
    errors = {}
    for share in (0.0, 0.5):
        cfg = train_config(epochs=60, batch_size=32, lr=1e-2, seed=0, patience=100, flip_share=share)
        res = fit(NET, line[:, None], starts, val, cfg)
        with torch.no_grad():
            y_hat = res.model(falling[None, :L, None])[0]  # (H,)
        errors[share] = float((y_hat - falling[L:]).abs().mean())
    assert errors[0.5] < 0.5 * errors[0.0], errors
