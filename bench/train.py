"""Training throughput: the project's training loop beside the ceiling and a tutorial loop, in one run.

    python bench/train.py                       # the standard workload (a GPU machine)
    python bench/train.py --save                # ... and write bench/results/train-<device>-<date>.txt
    python bench/train.py --series 100 --steps 400 --forecast-series 10000 --tta-seconds 5   # a CPU smoke run

Standard workload (synthetic, seeded): 2,000 series x 1,000 steps, input 60, horizon 12, a 2-layer
LSTM with 64 hidden units. Measured on one device in one process:

(a) project   ``lstm_model.training.fit``: packed series on the device, windows gathered by index,
              bf16 autocast and fused AdamW on CUDA, one sync per epoch (validation included);
(b) ceiling   the same network's forward + backward + clip + optimizer step on one pre-built batch
              already on the device, same batch size and precision: no data movement at all;
(c) tutorial  windows built by a Python loop, a ``DataLoader`` over CPU tensors, ``.to(device)``
              per batch, batch 256, fp32;
(d) epoch time, (e) peak device memory, (f) forecast throughput for many series
(``lstm_model.bundle.forecast_packed``: scaling, gather, network, inverse scaling), and
time-to-accuracy: the best validation loss reached within the same wall time at batch 1,024 and
at the benchmark's batch size.
Only torch and numpy are needed (``lstm_model`` is pure), so it runs on a bare GPU machine.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lstm_model import scaling  # noqa: E402
from lstm_model.bundle import forecast_packed  # noqa: E402
from lstm_model.network import LSTMForecaster, NetworkConfig  # noqa: E402
from lstm_model.training import TrainConfig, fit, loss_fn, pick_device  # noqa: E402
from lstm_model.windows import PackedSeries, complete, gather, window_starts  # noqa: E402


class Budget(Exception):
    """Raised from the epoch callback once a time budget is spent."""


def workload(n_series: int, n_steps: int, seed: int = 0) -> PackedSeries:
    """Seeded series with level, trend, two seasons and noise; every series the same length."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)[None, :]  # (1, T)
    level = rng.uniform(10, 1000, (n_series, 1))
    y = (
        level
        * (
            1
            + rng.uniform(-1e-4, 5e-4, (n_series, 1)) * t
            + 0.2 * np.sin(2 * np.pi * (t + rng.integers(0, 24, (n_series, 1))) / 24)
            + 0.1 * np.sin(2 * np.pi * t / 168)
        )
        + rng.normal(0, 0.02, (n_series, n_steps)) * level
    )
    return PackedSeries.from_arrays(list(np.abs(y) + 1.0))  # (S, T) -> packed (S*T,)


def prepared(p: PackedSeries, L: int, H: int, val: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As the train stage does: scale on the training part, window starts for train and validation."""
    sid, pos = p.series_of_point(), p.position()
    val0 = p.lengths - H - val  # (S,) the test part (last H) is left out, validation before it
    stats = scaling.fit_stats(p.values, sid, pos < val0[sid], p.n_series, "auto", "standard")
    data = scaling.scale(p.values, sid, stats)[:, None].astype(np.float32)  # (N, 1)
    zeros = np.zeros(p.n_series, dtype=np.int64)
    tr = complete(p.values, window_starts(p.offsets, zeros, val0, L + H), L + H)
    va = complete(p.values, window_starts(p.offsets, val0, val0 + val, L + H), L + H)
    return data, tr, va


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ceiling(
    net: NetworkConfig, data: np.ndarray, starts: np.ndarray, batch: int, device: torch.device, steps: int
) -> float:
    """Windows/s of the bare training step on one batch already on the device (same precision)."""
    torch.manual_seed(0)
    model = LSTMForecaster(net).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type == "cuda")
    crit = loss_fn("mse")
    x_all = torch.as_tensor(data, device=device)  # (N, 1)
    w = gather(x_all, torch.as_tensor(starts[:batch], device=device), net.input_size + net.horizon)  # (B, L+H, 1)
    x, y = w[:, : net.input_size].contiguous(), w[:, net.input_size :, 0].contiguous()  # (B, L, 1), (B, H)
    bf16 = device.type == "cuda"

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            y_hat = model(x)  # (B, H)
        loss = crit(y_hat.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(5):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return steps * x.shape[0] / (time.perf_counter() - t0)


def tutorial(p: PackedSeries, data: np.ndarray, net: NetworkConfig, device: torch.device, seconds: float) -> float:
    """Windows/s of the usual loop: Python-built windows, DataLoader over CPU tensors, fp32, batch 256."""
    from torch.utils.data import DataLoader, TensorDataset

    L, H = net.input_size, net.horizon
    xs, ys = [], []
    for s in range(p.n_series):  # the tutorial builds every window in Python
        series = data[p.offsets[s] : p.offsets[s] + p.lengths[s], 0]
        for i in range(len(series) - L - H + 1):
            xs.append(series[i : i + L])
            ys.append(series[i + L : i + L + H])
    loader = DataLoader(
        TensorDataset(torch.tensor(np.array(xs))[:, :, None], torch.tensor(np.array(ys))), batch_size=256, shuffle=True
    )
    torch.manual_seed(0)
    model = LSTMForecaster(net).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = loss_fn("mse")
    done, t0 = 0, None
    for i, (xb, yb) in enumerate(loader):
        if i == 3:  # after a short warm-up
            sync(device)
            t0, done = time.perf_counter(), 0
        xb, yb = xb.to(device), yb.to(device)
        loss = crit(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        done += xb.shape[0]
        if t0 is not None and time.perf_counter() - t0 > seconds:
            break
    sync(device)
    return done / (time.perf_counter() - t0)


def time_to_accuracy(
    net: NetworkConfig,
    data: np.ndarray,
    tr: np.ndarray,
    va: np.ndarray,
    batch: int,
    lr: float,
    device: str,
    seconds: float,
) -> tuple[float, float, int]:
    """(best validation loss within ``seconds``, seconds it took to reach it, epochs run)."""
    seen: list[tuple[float, float]] = []
    t0 = time.perf_counter()

    def on_epoch(row: dict) -> None:
        seen.append((time.perf_counter() - t0, row["val_loss"]))
        if seen[-1][0] > seconds:
            raise Budget

    try:
        fit(
            net,
            data,
            tr,
            va,
            loop(
                epochs=10_000,
                batch_size=batch,
                lr=lr,
                loss="mse",
                patience=10_000,
                warmup_frac=0.0,
                min_lr_frac=1.0,
                device=str(device),
            ),
            on_epoch=on_epoch,
        )
    except Budget:
        pass
    within = [(v, t) for t, v in seen if t <= seconds] or [(seen[0][1], seen[0][0])]
    best = min(within)
    return best[0], best[1], len(seen)


# The workload's network and loop, spelled out: the bench needs only torch and numpy (no settings).
NETWORK = {"hidden_size": 64, "num_layers": 2, "dropout": 0.0, "level_norm": True, "window_scale": False}
LOOP = {
    "epochs": 5,
    "batch_size": 1024,
    "lr": 3e-3,
    "weight_decay": 0.0,
    "weight_ema": 0.995,
    "recency_half_life": 0.0,  # throughput only: every window weighs the same
    "patience": 5,
    "loss": "mse",
    "flip_share": 0.0,
    "seed": 0,
    "device": "auto",
    "max_windows_per_epoch": None,
    "resume": False,
}


def loop(**kw) -> TrainConfig:
    """The workload's training loop with ``kw`` changed."""
    return TrainConfig(**{**LOOP, **kw})


def forecast_rate(n_series: int, net: NetworkConfig, device: torch.device) -> float:
    """Series/s of a full forecast (scaling, gather, network, inverse scaling) for ``n_series``."""
    p = workload(n_series, net.input_size + 40, seed=1)
    stats = scaling.fit_stats(p.values, p.series_of_point(), np.ones(p.values.shape, bool), p.n_series)
    model = LSTMForecaster(net).to(device).eval()
    forecast_packed(
        model, workload(64, net.input_size + 40), np.full(64, net.input_size + 40), stats.take(np.arange(64))
    )  # warm-up
    sync(device)
    t0 = time.perf_counter()
    y_hat = forecast_packed(model, p, p.lengths, stats)  # (S, H), back on the host
    seconds = time.perf_counter() - t0
    assert y_hat.shape == (n_series, net.horizon) and np.isfinite(y_hat).all()
    return n_series / seconds


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--input-size", type=int, default=60)
    ap.add_argument("--horizon", type=int, default=12)
    ap.add_argument("--batch", type=int, default=16384, help="the project's batch size (and the ceiling's)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--tutorial-seconds", type=float, default=20.0)
    ap.add_argument("--forecast-series", type=int, default=100_000)
    ap.add_argument("--tta-seconds", type=float, default=30.0, help="time-to-accuracy budget per batch size")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--save", action="store_true", help="also write bench/results/train-<device>-<date>.txt")
    ap.add_argument("--out", default="", help="write the result file into this folder instead (the device's $OUT)")
    a = ap.parse_args(argv)

    device = pick_device(a.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    if device.type == "cpu":
        torch.set_num_threads(max(1, torch.get_num_threads()))
    net = NetworkConfig(input_size=a.input_size, horizon=a.horizon, **NETWORK)
    p = workload(a.series, a.steps)
    data, tr, va = prepared(p, a.input_size, a.horizon, val=a.horizon)
    lines = [
        f"device: {name} ({device}), torch {torch.__version__}, {date.today().isoformat()}",
        f"workload: {a.series:,} series x {a.steps:,} steps, input {a.input_size}, horizon {a.horizon}, "
        f"LSTM 2x64; {tr.size:,} training windows, {va.size:,} validation windows; batch {a.batch:,}, "
        f"{'bf16' if device.type == 'cuda' else 'fp32'}",
    ]
    print("\n".join(lines), flush=True)

    lr = min(2e-2, 3e-3 * (a.batch / 1024) ** 0.5)  # larger batches, larger steps (square-root rule)
    res = fit(
        net,
        data,
        tr,
        va,
        loop(epochs=a.epochs, batch_size=a.batch, lr=lr, loss="mse", patience=a.epochs, device=str(device)),
    )
    project = float(np.median([r["windows_per_s"] for r in res.history[1:]] or [res.windows_per_s]))
    epoch_s = float(np.median([r["epoch_seconds"] for r in res.history[1:]] or [res.seconds]))
    ceil = ceiling(net, data, tr, min(a.batch, tr.size), device, steps=max(10, int(3 * tr.size / a.batch)))
    tut = tutorial(p, data, net, device, a.tutorial_seconds)
    fc = forecast_rate(a.forecast_series, net, device)
    data_mb = data.nbytes / 2**20
    rows = [
        (
            "(a) project: fit(), gathered by index",
            f"{project:>14,.0f}",
            f"{project / ceil:>9.2f}x",
            f"{project / tut:>9.1f}x",
        ),
        ("(b) ceiling: bare step on a resident batch", f"{ceil:>14,.0f}", f"{1:>9.2f}x", f"{ceil / tut:>9.1f}x"),
        ("(c) tutorial: Python windows + DataLoader", f"{tut:>14,.0f}", f"{tut / ceil:>9.2f}x", f"{1:>9.1f}x"),
    ]
    out = [f"{'windows/s':<44}{'':>14}{'vs ceiling':>10}{'vs tutorial':>11}"]
    out += [f"{r[0]:<44}{r[1]}{r[2]:>10}{r[3]:>11}" for r in rows]
    out += [
        f"(d) epoch time (train + validation): {epoch_s:.3f} s ({tr.size:,} windows)",
        f"(e) peak device memory during fit: {res.peak_memory_mb:,.0f} MiB (series data on the device: "
        f"{data_mb:,.1f} MiB = series x length x 4 bytes; CPU runs report 0)",
        f"(f) forecast: {a.forecast_series:,} series in {a.forecast_series / fc:.2f} s ({fc:,.0f} series/s)",
    ]
    print("\n".join(out), flush=True)

    tta = []
    for batch in (1024, a.batch):
        lr_b = min(2e-2, 3e-3 * (batch / 1024) ** 0.5)
        best, at, epochs = time_to_accuracy(net, data, tr, va, batch, lr_b, str(device), a.tta_seconds)
        tta.append(
            f"  batch {batch:>6,} (lr {lr_b:.4f}): best validation loss {best:.5f} reached at {at:6.1f} s "
            f"({epochs} epochs in the {a.tta_seconds:.0f} s budget)"
        )
    out += [f"time-to-accuracy (constant lr, {a.tta_seconds:.0f} s each):", *tta]
    print("\n".join(out[-3:]), flush=True)
    if a.save or a.out:
        folder = Path(a.out) if a.out else ROOT / "bench" / "results"
        folder.mkdir(parents=True, exist_ok=True)
        tag = name.replace(" ", "-").replace("/", "-")
        path = folder / f"train-{tag}-{date.today().isoformat()}.txt"
        path.write_text("\n".join(lines + out) + "\n")
        print(f"written to {path}")


if __name__ == "__main__":
    main()
