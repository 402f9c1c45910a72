"""Pure numerics of the forecaster: torch and numpy only (no prefect, mlflow, fsspec, file I/O)."""
