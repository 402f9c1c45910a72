"""Prefect flows (orchestration only) and the ``lstm-forecast`` command line."""
