"""What every stage shares about series: frequencies and seasons, packing, per-series scalers."""
