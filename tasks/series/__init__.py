"""What every stage shares about series: frequencies and seasons, packing, covariates by kind (the
calendar, holidays and the static table included), per-series scalers."""
