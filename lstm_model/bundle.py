"""The trained model as data: weights (safetensors), network config, scaler statistics, metadata.

Serialised to two plain payloads, ``weights.safetensors`` bytes and ``model.json`` text; nothing
is pickled and loading never runs code from the files. A bundle trained on a GPU loads on a CPU.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from lstm_model import scaling
from lstm_model.inference import predict_windows
from lstm_model.network import Ensemble, NetworkConfig
from lstm_model.windows import PackedSeries

WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "model.json"
FORMAT_VERSION = 2
EVAL_PREFIX = "eval."


@dataclass
class ModelBundle:
    network: NetworkConfig
    state_dict: dict[str, torch.Tensor]
    stats: scaling.ScalerStats  # per series, in the order of ``series_ids``
    series_ids: list[str]
    meta: dict = field(default_factory=dict)  # freq, season, data fingerprint, ...
    covariate_stats: scaling.ScalerStats | None = None  # (S, C), when the network reads covariates
    covariates: list[str] = field(default_factory=list)  # their column names, in feature order
    eval_state_dict: dict[str, torch.Tensor] = field(default_factory=dict)  # the backtested weights (the gate)

    @property
    def has_lstm(self) -> bool:
        """False when no series was long enough to train a network: every series uses a comparator."""
        return bool(self.state_dict)

    # -- persistence ---------------------------------------------------------------------------
    def weights_bytes(self) -> bytes:
        """The served weights, and the backtested ones under ``eval.``; one placeholder when neither exists."""
        tensors = {**self.state_dict, **{EVAL_PREFIX + k: v for k, v in self.eval_state_dict.items()}}
        tensors = tensors or {"empty": torch.zeros(1)}
        return st_save({k: v.detach().float().cpu().contiguous() for k, v in tensors.items()})

    def config_json(self) -> str:
        return json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "network": self.network.to_dict(),
                "scaler": self.stats.to_dict(),
                "series_ids": self.series_ids,
                "meta": self.meta,
                "covariates": self.covariates,
                "covariate_scaler": None if self.covariate_stats is None else self.covariate_stats.to_dict(),
            },
            indent=1,
        )

    @classmethod
    def from_payloads(cls, weights: bytes, config: str) -> ModelBundle:
        cfg = json.loads(config)
        if cfg.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported model format version {cfg.get('format_version')!r}")
        tensors = st_load(weights)
        return cls(
            network=NetworkConfig.from_dict(cfg["network"]),
            state_dict={k: v for k, v in tensors.items() if not k.startswith(EVAL_PREFIX) and k != "empty"},
            eval_state_dict={k[len(EVAL_PREFIX) :]: v for k, v in tensors.items() if k.startswith(EVAL_PREFIX)},
            stats=scaling.ScalerStats.from_dict(cfg["scaler"]),
            series_ids=list(cfg["series_ids"]),
            meta=dict(cfg.get("meta", {})),
            covariate_stats=scaling.ScalerStats.from_dict(cfg["covariate_scaler"])
            if cfg.get("covariate_scaler")
            else None,
            covariates=list(cfg.get("covariates", [])),
        )

    # -- inference -----------------------------------------------------------------------------
    def build(self, device: torch.device | str = "cpu", evaluated: bool = False) -> Ensemble:
        """The served network, or with ``evaluated`` the one that was backtested (trained before the
        validation part: it can be re-scored out of sample on later cutoffs)."""
        model = Ensemble(self.network)
        model.load_state_dict(self.eval_state_dict if evaluated else self.state_dict)
        return model.to(device).eval()

    def stats_for(
        self, ids: list[str], packed: PackedSeries, season: np.ndarray | None = None
    ) -> tuple[scaling.ScalerStats, np.ndarray]:
        """Statistics for ``ids`` in that order; a series the model has not seen gets statistics
        fitted on its own history. A deseasonalising model's statistics carry each series' season
        (the training's; ``season`` (S,) for unseen series, else the most common one) and no
        indices: :func:`forecast_packed` estimates them on the history it reads. Returns the stats
        and a (S,) mask of the unseen series."""
        stats, unseen = self._known_stats_for(ids, packed)
        if self.stats.season is None:
            return stats, unseen
        known = np.bincount(self.stats.season).argmax() if self.stats.season.size else 1
        own = np.full(len(ids), known, dtype=np.int64) if season is None else np.asarray(season, dtype=np.int64)
        return replace(stats, season=np.where(unseen, own, stats.season), seasonal=None), unseen

    def _known_stats_for(self, ids: list[str], packed: PackedSeries) -> tuple[scaling.ScalerStats, np.ndarray]:
        sid, everything = packed.series_of_point(), np.ones_like(packed.values, dtype=bool)
        return _known_or_own(
            self.series_ids,
            self.stats,
            ids,
            lambda: scaling.fit_stats(
                packed.values,
                sid,
                everything,
                packed.n_series,
                transform=self.stats.transform,
                scaler=self.stats.scaler,
            ),
        )

    def covariate_stats_for(self, ids: list[str], packed: PackedSeries) -> scaling.ScalerStats | None:
        """Covariate statistics for ``ids`` (unseen series: fitted on their own history); None
        when the network reads no covariate."""
        if self.covariate_stats is None:
            return None
        if packed.n_covariates != len(self.covariates):
            raise ValueError(f"the model reads covariates {self.covariates}; the data has {packed.n_covariates}")
        sid, everything = packed.series_of_point(), np.ones_like(packed.values, dtype=bool)
        stats, unseen = _known_or_own(
            self.series_ids,
            self.covariate_stats,
            ids,
            lambda: scaling.fit_covariate_stats(packed.covariates, sid, everything, packed.n_series),
        )
        net = self.network  # the static and future-known columns: the training's own statistics, for every series
        pooled = net.n_future + len(net.static_cardinalities)
        if pooled and unseen.any():
            stats.loc[:, -pooled:] = self.covariate_stats.loc[0, -pooled:]
            stats.scale[:, -pooled:] = self.covariate_stats.scale[0, -pooled:]
        return stats


def _known_or_own(
    known_ids: list[str], known: scaling.ScalerStats, ids: list[str], fit_own
) -> tuple[scaling.ScalerStats, np.ndarray]:
    """``known`` statistics reordered to ``ids``; rows of ids not in ``known_ids`` from ``fit_own()``."""
    pos = {sid: i for i, sid in enumerate(known_ids)}
    idx = np.array([pos.get(s, -1) for s in ids], dtype=np.int64)
    unseen = idx < 0
    stats = known.take(np.where(unseen, 0, idx))
    if not unseen.any():
        return stats, unseen
    own = fit_own()
    mask = unseen.reshape(-1, *([1] * (stats.loc.ndim - 1)))  # (S,) or (S, 1) against (S, C)
    return scaling.ScalerStats(
        np.where(mask, own.loc, stats.loc),
        np.where(mask, own.scale, stats.scale),
        stats.transform,
        stats.scaler,
        np.where(unseen, own.log, stats.log),
        stats.season,  # an unseen series' season is set by the caller
    ), unseen


def features(
    packed: PackedSeries, stats: scaling.ScalerStats, covariate_stats: scaling.ScalerStats | None = None
) -> np.ndarray:
    """The network's input features, each point once: (N, F) = scaled target, then scaled covariates."""
    sid = packed.series_of_point()
    target = (scaling.scale(packed.values, sid, stats) - stats.component(sid, packed.position()))[:, None]  # (N, 1)
    if covariate_stats is None or not packed.n_covariates:
        return target
    covs = scaling.scale(packed.covariates, sid, covariate_stats)  # (N, C)
    return np.concatenate([target, covs], axis=1)  # (N, 1 + C)


def forecast_packed(
    model: torch.nn.Module,
    packed: PackedSeries,
    origin: np.ndarray,
    stats: scaling.ScalerStats,
    covariate_stats: scaling.ScalerStats | None = None,
    future: np.ndarray | None = None,
) -> np.ndarray:
    """Forecast ``horizon`` steps after position ``origin`` (S,) of each series (inputs are the
    ``input_size`` points before it), in original units: (S, H). A network that reads future-known
    covariates forecasts after each series' last point and takes their values for those steps from
    ``future`` (S, H, C) (every covariate column; the past-only ones are not read). Statistics of
    a deseasonalising model that carry no indices (a loaded bundle's, :meth:`ModelBundle.stats_for`'s)
    get them estimated on the whole history given, as the served weights' were on theirs."""
    if stats.season is not None and stats.seasonal is None:
        everything = np.ones(packed.values.shape[0], dtype=bool)
        stats = scaling.with_seasonal(stats, packed.values, packed.series_of_point(), everything, stats.season)
    if model.cfg.n_future:
        if future is None:
            raise ValueError("this model reads future-known covariates: give their values for the horizon")
        if np.any(origin != packed.lengths):
            raise ValueError("with future-known covariates a forecast starts after each series' last point")
        packed = packed.extended(future)
    return forecast_at(model, packed, np.arange(packed.n_series), origin, stats, covariate_stats)


def forecast_at(
    model: torch.nn.Module,
    packed: PackedSeries,
    series: np.ndarray,
    origin: np.ndarray,
    stats: scaling.ScalerStats,
    covariate_stats: scaling.ScalerStats | None = None,
) -> np.ndarray:
    """Forecasts for M (series, origin) pairs in one batched pass: series (M,), origin (M,)
    positions inside each series -> (M, H) in original units. Serves backtests over many cutoffs.

    A deseasonalising model reads each window without its seasonal indices and adds those of the
    horizon back, except where the window itself does not vary (a series that stopped): that
    window is read as it is and forecasts its level, as every flat window does."""
    L, H = model.cfg.input_size, model.cfg.horizon
    if np.any(origin < L):
        raise ValueError(f"every series needs at least input_size={L} points before its origin")
    if model.cfg.n_future and np.any(origin + H > packed.lengths[series]):
        # steps past a series' end (a backtest's last origins): their forecasts are never scored, and
        # the decoder reads each step's covariates for that step only, so the last row stands in
        last = packed.covariates[packed.offsets + np.maximum(packed.lengths - 1, 0)]  # (S, C)
        packed = packed.extended(np.repeat(last[:, None, :], H, axis=1))  # (S, H, C)
    starts = packed.offsets[series] + origin - L  # (M,)
    if stats.season is None:
        y_scaled = predict_windows(model, features(packed, stats, covariate_stats), starts)  # (M, H)
        return scaling.inverse(y_scaled, series[:, None], stats)  # (M, H)
    plain = features(packed, replace(stats, season=None, seasonal=None), covariate_stats)  # (N, F), each point once
    scaled = plain.copy()
    scaled[:, 0] -= stats.component(packed.series_of_point(), packed.position())  # the target without its season
    y_scaled = predict_windows(model, scaled, starts)  # (M, H)
    y_scaled += stats.component(series[:, None], origin[:, None] + np.arange(H))  # the season back
    flat = _flat_windows(plain[:, 0], starts, L)  # (M,)
    if flat.any():
        y_scaled[flat] = predict_windows(model, plain, starts[flat])
    return scaling.inverse(y_scaled, series[:, None], stats)  # (M, H)


FLAT = 1e-9  # scaled units: two neighbours closer than this are equal


def _flat_windows(values: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """(M,) the ``window`` points of ``values`` (N,) from each start are all equal (one pass, no gather)."""
    moved = np.zeros(values.shape[0], dtype=np.int64)
    moved[1:] = ~(np.abs(np.diff(values)) <= FLAT)  # a NaN counts as a move
    csum = np.concatenate([[0], np.cumsum(moved)])  # (N + 1,)
    return csum[starts + window] - csum[starts + 1] == 0
