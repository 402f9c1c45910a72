"""Schedules of the flows: ``prefect.yaml`` for work pools, :func:`serve_all` for ``lstm-forecast serve``."""
