"""Windows as views: series are packed once into one flat array; windows are gathered by index.

A packed dataset has N points of S series: ``offsets`` (S,) and ``lengths`` (S,) locate each
series in the flat arrays. A window is identified by the absolute index of its first point, so
an epoch's index costs one int64 per window and the data itself is never copied per window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class PackedSeries:
    """S series of different lengths, kept once, back to back."""

    values: np.ndarray  # (N,) float64
    offsets: np.ndarray  # (S,) int64, start of each series in ``values``
    lengths: np.ndarray  # (S,) int64
    covariates: np.ndarray | None = None  # (N, C) float64 past-observed covariates, aligned with values

    @property
    def n_covariates(self) -> int:
        return 0 if self.covariates is None else int(self.covariates.shape[1])

    def observed(self) -> np.ndarray:
        """(N,) the target where the target and every covariate are finite, NaN elsewhere: a window
        is usable only when all its points are observed (see :func:`complete`)."""
        if not self.n_covariates:
            return self.values
        return np.where(np.isfinite(self.covariates).all(axis=1), self.values, np.nan)

    @property
    def n_series(self) -> int:
        return int(self.offsets.shape[0])

    def series_of_point(self) -> np.ndarray:
        """(N,) index of the series each point belongs to."""
        return np.repeat(np.arange(self.n_series), self.lengths)

    def position(self) -> np.ndarray:
        """(N,) position of each point inside its own series (0 = first point)."""
        return np.arange(self.values.shape[0]) - np.repeat(self.offsets, self.lengths)

    def select(self, keep: np.ndarray) -> tuple[PackedSeries, np.ndarray]:
        """The series where ``keep`` (S,) is true, and the (N',) indices of their points here."""
        rows = np.nonzero(keep[self.series_of_point()])[0]  # (N',)
        lengths = self.lengths[keep]
        covs = None if self.covariates is None else self.covariates[rows]
        return PackedSeries(self.values[rows], offsets_of(lengths), lengths, covs), rows

    def extended(self, future: np.ndarray) -> PackedSeries:
        """Each series followed by the H rows of ``future`` (S, H, C), the covariates known for the
        steps after its last point; their target is unknown (NaN)."""
        S, H, C = future.shape
        if self.n_series != S or self.n_covariates != C:
            raise ValueError(
                f"future covariates {future.shape} do not fit {self.n_series} series x {self.n_covariates}"
            )
        lengths = self.lengths + H
        offsets = offsets_of(lengths)
        keep = np.arange(self.values.shape[0]) + np.repeat(offsets - self.offsets, self.lengths)  # (N,) new rows
        new = np.setdiff1d(np.arange(int(lengths.sum())), keep)  # (S * H,) series by series, in time order
        values = np.full(int(lengths.sum()), np.nan)
        values[keep] = self.values
        covs = np.empty((values.shape[0], C))
        covs[keep], covs[new] = self.covariates, future.reshape(S * H, C)
        return PackedSeries(values, offsets, lengths, covs)

    @classmethod
    def from_arrays(cls, arrays: list[np.ndarray]) -> PackedSeries:
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)
        values = np.concatenate(arrays).astype(np.float64) if arrays else np.zeros(0)
        return cls(values, offsets_of(lengths), lengths)


def offsets_of(lengths: np.ndarray) -> np.ndarray:
    """(S,) lengths -> (S,) start of each series in the flat array (empty for no series)."""
    return np.concatenate([[0], np.cumsum(lengths)])[:-1].astype(np.int64)


def window_starts(offsets: np.ndarray, first_end: np.ndarray, stop_end: np.ndarray, window: int) -> np.ndarray:
    """Absolute start index of every window of ``window`` points whose last point lies at a
    position in ``[first_end, stop_end)`` of its series (positions relative to each series).

    offsets, first_end, stop_end: (S,) -> starts: (W,), grouped by series, in time order.
    """
    lo = np.maximum(np.asarray(first_end, dtype=np.int64), window - 1)  # (S,)
    counts = np.maximum(np.asarray(stop_end, dtype=np.int64) - lo, 0)  # (S,)
    total = int(counts.sum())
    sid = np.repeat(np.arange(offsets.shape[0]), counts)  # (W,)
    k = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)  # (W,) rank within series
    return (offsets[sid] + lo[sid] + k - (window - 1)).astype(np.int64)


def complete(values: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """The starts whose ``window`` points are all present (no NaN): one cumulative count, no loop."""
    missing = np.concatenate([[0], np.cumsum(~np.isfinite(values))])  # (N+1,)
    return starts[missing[starts + window] == missing[starts]]


def gather(data: torch.Tensor, starts: torch.Tensor, window: int) -> torch.Tensor:
    """data (N, F), starts (B,) -> windows (B, window, F), gathered on data's device."""
    idx = starts[:, None] + torch.arange(window, device=data.device)[None, :]  # (B, window)
    return data[idx]  # (B, window, F)
