"""Network, training loop and the serialised bundle, on tiny data on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_model import scaling
from lstm_model.bundle import FORMAT_VERSION, ModelBundle, forecast_packed
from lstm_model.network import Ensemble, LSTMForecaster
from lstm_model.training import fit, lr_at
from lstm_model.windows import PackedSeries, window_starts
from tests.conftest import net_config, train_config

CFG = net_config(input_size=8, horizon=3, hidden_size=8, num_layers=1)


def sine_data(n_series: int = 3, length: int = 60):
    t = np.arange(length)
    packed = PackedSeries.from_arrays([np.sin(2 * np.pi * (t + 3 * k) / 12) + 2 for k in range(n_series)])
    data = packed.values[:, None]
    zeros = np.zeros(n_series, dtype=np.int64)
    tr = window_starts(packed.offsets, zeros, packed.lengths - 6, 11)
    va = window_starts(packed.offsets, packed.lengths - 6, packed.lengths, 11)
    return packed, data, tr, va


@pytest.mark.parametrize("features", [1, 3])
def test_output_shape(features):
    model = LSTMForecaster(net_config(input_size=8, horizon=5, n_features=features, hidden_size=4))
    assert model(torch.randn(7, 8, features)).shape == (7, 5)


def test_level_norm_shifts_outputs_with_the_input_level():
    torch.manual_seed(0)
    model = LSTMForecaster(CFG).eval()
    x = torch.randn(4, 8, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(x + 10.0), model(x) + 10.0, rtol=0, atol=1e-5)


def test_training_learns_and_is_reproducible():
    _, data, tr, va = sine_data()
    cfg = train_config(epochs=40, batch_size=64, lr=1e-2, seed=3, patience=100)
    a, b = fit(CFG, data, tr, va, cfg), fit(CFG, data, tr, va, cfg)
    assert a.history[-1]["train_loss"] < a.history[0]["train_loss"] / 2
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(v, b.model.state_dict()[k], rtol=0, atol=0)
    c = fit(CFG, data, tr, va, train_config(epochs=2, batch_size=64, lr=1e-2, seed=4))
    assert not torch.equal(c.model.head.weight, a.model.head.weight)
    assert a.best_val_loss == min(r["val_loss"] for r in a.history)


def test_lr_schedule_warms_up_then_decays():
    cfg = train_config(epochs=100, lr=1.0, warmup_frac=0.1, min_lr_frac=0.1)
    lrs = [lr_at(e, cfg) for e in range(100)]
    assert lrs[0] < lrs[9] == pytest.approx(1.0)
    assert all(x >= y for x, y in zip(lrs[10:], lrs[11:])) and lrs[-1] == pytest.approx(0.1, abs=0.01)


def test_fit_without_windows_is_a_clear_error():
    with pytest.raises(ValueError, match="no training window"):
        fit(CFG, np.zeros((5, 1)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), train_config())


def test_bundle_round_trip_gives_same_forecasts():
    packed, data, tr, va = sine_data()
    res = fit(CFG, data, tr, va, train_config(epochs=5, seed=0))
    sid = packed.series_of_point()
    stats = scaling.fit_stats(packed.values, sid, np.ones_like(sid, bool), packed.n_series)
    bundle = ModelBundle(CFG, Ensemble.of(CFG, [res.model]).state_dict(), stats, ["a", "b", "c"], {"freq": "MS"})
    again = ModelBundle.from_payloads(bundle.weights_bytes(), bundle.config_json())
    origin = packed.lengths
    np.testing.assert_array_equal(
        forecast_packed(bundle.build(), packed, origin, stats),
        forecast_packed(again.build(), packed, origin, again.stats),
    )
    with pytest.raises(ValueError, match="input_size"):
        forecast_packed(again.build(), packed, np.array([2, 60, 60]), again.stats)
    bad = bundle.config_json().replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 99')
    with pytest.raises(ValueError, match="format version"):
        ModelBundle.from_payloads(bundle.weights_bytes(), bad)


def test_unseen_series_get_their_own_statistics():
    packed, data, tr, va = sine_data(2)
    stats = scaling.ScalerStats(np.array([1.0]), np.array([2.0]), "none", "standard")
    bundle = ModelBundle(CFG, Ensemble(CFG).state_dict(), stats, ["known"])
    got, unseen = bundle.stats_for(["known", "new"], packed)
    assert unseen.tolist() == [False, True] and got.loc[0] == 1.0 and got.loc[1] != 1.0


@pytest.mark.cuda
def test_trains_on_cuda_with_bf16():
    _, data, tr, va = sine_data()
    res = fit(CFG, data, tr, va, train_config(epochs=3, device="cuda"))
    assert res.device.startswith("cuda") and np.isfinite(res.best_val_loss)


@pytest.mark.cuda
def test_a_model_trained_on_cuda_loads_and_forecasts_on_the_cpu_alike():
    """Weights from a bf16 CUDA training, through the bundle's bytes, forecast on a CPU what they
    forecast on the GPU, within bf16 rounding."""
    packed, data, tr, va = sine_data()
    res = fit(CFG, data, tr, va, train_config(epochs=5, device="cuda", seed=0))
    on_gpu = Ensemble.of(CFG, [res.model.cpu()]).to("cuda").eval()
    stats = scaling.fit_stats(
        packed.values, packed.series_of_point(), np.ones(packed.values.size, bool), packed.n_series
    )
    y_gpu = forecast_packed(on_gpu, packed, packed.lengths, stats)  # (S, H), bf16 autocast on the GPU
    state = {k: v.detach().cpu() for k, v in on_gpu.state_dict().items()}
    bundle = ModelBundle(CFG, state, stats, [f"s{k}" for k in range(packed.n_series)])
    loaded = ModelBundle.from_payloads(bundle.weights_bytes(), bundle.config_json())
    y_cpu = forecast_packed(loaded.build("cpu"), packed, packed.lengths, stats)  # fp32 on the CPU
    assert np.isfinite(y_cpu).all() and y_cpu.shape == y_gpu.shape
    assert np.abs(y_cpu - y_gpu).max() <= 2e-2 * np.abs(y_gpu).max()  # bf16 keeps 8 bits of mantissa


def test_ensemble_is_the_mean_of_its_members():
    torch.manual_seed(0)
    a, b = LSTMForecaster(CFG).eval(), LSTMForecaster(CFG).eval()
    ens = Ensemble.of(CFG, [a, b]).eval()
    x = torch.randn(5, 8, 1)
    with torch.no_grad():
        torch.testing.assert_close(ens(x), (a(x) + b(x)) / 2)
    assert ens.cfg.members == 2
