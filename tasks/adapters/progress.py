"""Training progress: a bar per epoch on a terminal, and a log line every tenth of the epochs."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def epoch_progress(
    epochs: int, show_bar: bool, log: logging.Logger | logging.LoggerAdapter | None = None
) -> Iterator[Callable[[dict], None]]:
    """Yields an ``on_epoch(row)`` callback. The bar (rich) shows the epoch, the losses and the
    windows/s, and only when stderr is a terminal; the log lines go to ``log`` (the Prefect UI)."""
    every = max(1, epochs // 10)
    bar = None
    if show_bar and sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(
            TextColumn("train"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            transient=False,
        )
        bar.start()
        job = bar.add_task("epochs", total=epochs, info="")

    def on_epoch(row: dict) -> None:
        val = "" if row.get("val_loss") is None else f" val {row['val_loss']:.4f}"
        info = f"loss {row['train_loss']:.4f}{val}  {row['windows_per_s']:,.0f} windows/s"
        if bar is not None:
            bar.update(job, completed=row["epoch"] + 1, info=info)
        if log is not None and (row["epoch"] + 1) % every == 0:
            log.info("epoch %d/%d: %s", row["epoch"] + 1, epochs, info)

    try:
        yield on_epoch
    finally:
        if bar is not None:
            bar.stop()
