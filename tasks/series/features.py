"""The covariates a network reads, by kind, and the ones generated from the timestamps.

- past-observed: columns of the data known up to each series' last point (the encoder reads them);
- static: one value per series from the static table (numeric, or categorical: an embedding),
  read by the encoder at every step;
- future-known: columns of the data whose values are also known for the horizon (planned prices,
  promotions), given at forecast time as future values, and the features generated from the
  timestamps, known for any date: the calendar (cyclical encodings that fit the frequency) and
  public holidays of one country (the ``holidays`` package).

The network's features are the target, then the past-observed columns, the static ones (a
categorical as its code: 1 + its rank among the training's categories, 0 for one never seen), then
the future-known ones (declared, then generated): the decoder reads the last ``n_future`` of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from lstm_model.windows import PackedSeries
from tasks.series.prepare import Prepared

# frequency family -> (name, period) of each cyclical feature: value = phase in [0, 1) of the period
CYCLES = {
    "subdaily": ("hour", "dow"),
    "daily": ("dow", "doy"),
    "weekly": ("woy",),
    "monthly": ("month",),
    "quarterly": ("quarter",),
    "yearly": (),
}
HOLIDAY_FEATURES = ("holiday", "holiday_next", "holiday_prev")  # today, days to the next / since the last
HOLIDAY_REACH = 7  # days: the distance features saturate here (a holiday a month away does not matter)


def family(freq: str | None) -> str:
    """The calendar family of a pandas frequency alias: subdaily, daily, weekly, monthly, quarterly, yearly."""
    if not freq:
        raise ValueError("--calendar needs a frequency: the timestamps are irregular (set --freq)")
    base = pd.tseries.frequencies.to_offset(freq).name.split("-")[0].lstrip("0123456789")
    for prefix, fam in (("W", "weekly"), ("Q", "quarterly"), ("BQ", "quarterly"), ("Y", "yearly"), ("A", "yearly")):
        if base.startswith(prefix):
            return fam
    if base in ("MS", "ME", "M", "BMS", "BME", "SMS", "SME", "CBMS", "CBME"):
        return "monthly"
    if base in ("D", "B", "C"):
        return "daily"
    return "subdaily"


def _phase(ds: pd.DatetimeIndex, name: str) -> np.ndarray:
    """(N,) position in [0, 1) of each timestamp in the cycle ``name``."""
    if name == "hour":
        return (ds.hour * 3600 + ds.minute * 60 + ds.second).to_numpy() / 86_400
    if name == "dow":
        return ds.dayofweek.to_numpy() / 7
    if name in ("doy", "woy"):
        return (ds.dayofyear.to_numpy() - 1) / 365.25
    if name == "month":
        return (ds.month.to_numpy() - 1) / 12
    return (ds.quarter.to_numpy() - 1) / 4


def holiday_days(country: str, years: range) -> np.ndarray:
    """Sorted days (int, days since the epoch) of the public holidays of ``country`` in ``years``."""
    import holidays

    try:
        cal = holidays.country_holidays(country, years=list(years))
    except NotImplementedError:
        raise ValueError(f"unknown holiday country {country!r}: use an ISO code such as US, GB, DE, FR") from None
    return np.sort(np.array([np.datetime64(d, "D").astype(np.int64) for d in cal], dtype=np.int64))


@dataclass(frozen=True)
class FeatureSpec:
    """Which covariates a model reads, by kind; recorded in the bundle so that forecasting builds
    the same features."""

    past: tuple[str, ...] = ()
    future: tuple[str, ...] = ()  # future-known columns of the data
    calendar: str | None = None  # the calendar family generated (None: no calendar features)
    holidays: str | None = None  # the country whose holidays are generated (None: none)
    static: tuple[str, ...] = ()  # columns of the static table
    vocab: dict[str, tuple[str, ...]] = field(default_factory=dict)  # categorical static column -> categories

    @property
    def cardinalities(self) -> tuple[int, ...]:
        """Per static column: its number of categories (0: numeric)."""
        return tuple(len(self.vocab.get(c, ())) for c in self.static)

    @property
    def generated(self) -> list[str]:
        cal = [f"cal_{n}_{t}" for n in CYCLES.get(self.calendar or "", ()) for t in ("sin", "cos")]
        return cal + ([f"{n}_{self.holidays}" for n in HOLIDAY_FEATURES] if self.holidays else [])

    @property
    def data_columns(self) -> list[str]:
        """The columns read from the data (the others are generated)."""
        return [*self.past, *self.future]

    @property
    def columns(self) -> list[str]:
        """Every covariate in feature order: past-observed, static, then future-known."""
        return [*self.past, *self.static, *self.future, *self.generated]

    @property
    def n_future(self) -> int:
        return len(self.future) + len(self.generated)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["vocab"] = {k: list(v) for k, v in self.vocab.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> FeatureSpec:
        d = d or {}
        vocab = {k: tuple(v) for k, v in d.get("vocab", {}).items()}
        return cls(
            tuple(d.get("past", ())),
            tuple(d.get("future", ())),
            d.get("calendar"),
            d.get("holidays"),
            tuple(d.get("static", ())),
            vocab,
        )

    def static_values(self, ids: list[str], static: pd.DataFrame | None) -> np.ndarray:
        """(S, len(static)) each series' static values: numeric as given (NaN when missing),
        categorical as codes (0: missing or a category the training never saw)."""
        out = np.full((len(ids), len(self.static)), np.nan)
        if not self.static:
            return out
        rows = (static if static is not None else pd.DataFrame(columns=["unique_id", *self.static])).set_index(
            "unique_id"
        )
        rows = rows.reindex(pd.Index(ids, dtype=object))
        for k, col in enumerate(self.static):
            if col in self.vocab:
                codes = {v: i + 1 for i, v in enumerate(self.vocab[col])}
                out[:, k] = [codes.get(str(v), 0) if pd.notna(v) else 0 for v in rows[col].tolist()]
            else:
                out[:, k] = pd.to_numeric(rows[col], errors="coerce").to_numpy(dtype=np.float64)
        return out

    def generate(self, ds: np.ndarray) -> np.ndarray:
        """(N,) timestamps -> (N, G) generated features (G = len(generated))."""
        idx = pd.DatetimeIndex(ds)
        cols = []
        for name in CYCLES.get(self.calendar or "", ()):
            angle = 2 * np.pi * _phase(idx, name)
            cols += [np.sin(angle), np.cos(angle)]
        if self.holidays:
            day = ds.astype("datetime64[D]").astype(np.int64)  # (N,)
            years = pd.DatetimeIndex(ds).year
            hd = holiday_days(self.holidays, range(int(years.min()) - 1, int(years.max()) + 2)) if ds.size else []
            hd = np.concatenate([[np.iinfo(np.int64).min // 2], hd, [np.iinfo(np.int64).max // 2]])
            at = np.searchsorted(hd, day)  # (N,) first holiday on or after each day
            nxt = np.minimum(hd[at] - day, HOLIDAY_REACH)
            prev = np.minimum(day - hd[at - 1], HOLIDAY_REACH)
            cols += [(nxt == 0).astype(np.float64), nxt / HOLIDAY_REACH, np.where(nxt == 0, 0, prev) / HOLIDAY_REACH]
        return np.stack(cols, axis=1) if cols else np.zeros((ds.shape[0], 0))

    def add_to(self, prep: Prepared, static: pd.DataFrame | None = None) -> Prepared:
        """``prep`` (its covariates: the data columns, past then future) with the static values of
        each series inserted after the past-observed columns and the generated features appended."""
        if not self.generated and not self.static:
            return prep
        p = prep.packed
        data = p.covariates if p.covariates is not None else np.zeros((p.values.shape[0], 0))
        per_point = self.static_values(prep.ids, static)[p.series_of_point()]  # (N, len(static))
        n_past = len(self.past)
        covs = np.concatenate([data[:, :n_past], per_point, data[:, n_past:], self.generate(prep.ds)], axis=1)
        return replace(prep, packed=PackedSeries(p.values, p.offsets, p.lengths, covs))

    def horizon(
        self, ids: list[str], dates: np.ndarray, future: pd.DataFrame | None
    ) -> tuple[np.ndarray, dict[str, str]]:
        """The covariates of the H forecast steps of each series: ids (S,), dates (S, H) ->
        (S, H, C) in feature order (past-observed columns NaN: not read there), and the series whose
        future values are missing or not finite, each with its reason."""
        S, H = dates.shape
        C, first = len(self.columns), len(self.past) + len(self.static)  # the declared future columns start there
        out = np.full((S, H, C), np.nan)
        out[:, :, C - len(self.generated) :] = self.generate(dates.reshape(-1)).reshape(S, H, -1)
        reasons: dict[str, str] = {}
        if not self.future:
            return out, reasons
        if future is None or future.empty:
            return out, {
                i: f"no future values of {', '.join(self.future)} (give them with --future-input)" for i in ids
            }
        keys = pd.MultiIndex.from_arrays([np.repeat(np.asarray(ids, dtype=object), H), dates.reshape(-1)])
        table = future.assign(unique_id=future["unique_id"].astype(str)).set_index(["unique_id", "ds"])
        table = table[~table.index.duplicated(keep="last")]
        for k, col in enumerate(self.future):
            if col not in table.columns:
                return out, {i: f"the future values have no column {col!r}" for i in ids}
            vals = table[col].reindex(keys).to_numpy(dtype=np.float64).reshape(S, H)
            out[:, :, first + k] = vals
            for i in np.flatnonzero(~np.isfinite(vals).all(axis=1)):
                miss = dates[i][~np.isfinite(vals[i])]
                first = pd.Timestamp(miss[0]).isoformat()
                reasons.setdefault(
                    ids[i], f"missing or non-finite future values of {col} at {len(miss)} of {H} steps (first {first})"
                )
        return out, reasons


def spec_for(
    columns: list[str],
    past: list[str],
    future: list[str],
    calendar: bool,
    holidays: str | None,
    freq,
    static: pd.DataFrame | None = None,
) -> FeatureSpec:
    """The spec of a training: the declared columns (checked against the data's ``columns``), the
    calendar family of ``freq`` (the data's most common frequency) when ``calendar``, and the
    columns of ``static`` (unique_id, <columns>): text ones categorical, with their categories."""
    missing = [c for c in [*past, *future] if c not in columns]
    if missing:
        raise ValueError(f"covariate columns {missing} are not in the data (columns: {columns})")
    both = sorted(set(past) & set(future))
    if both:
        raise ValueError(f"columns {both} are declared both past-observed and future-known")
    fam = family(freq) if calendar or holidays else None
    if holidays and fam not in ("daily", "subdaily"):
        raise ValueError(f"--holidays needs daily or finer data; the data is {fam}")
    names = [c for c in static.columns if c != "unique_id"] if static is not None else []
    vocab = {
        c: tuple(sorted(str(v) for v in static[c].dropna().unique()))
        for c in names
        if not pd.api.types.is_numeric_dtype(static[c])
    }
    return FeatureSpec(
        tuple(past),
        tuple(future),
        fam if calendar else None,
        holidays.upper() if holidays else None,
        tuple(names),
        vocab,
    )
