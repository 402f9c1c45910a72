"""Pipeline stages as plain functions with thin Prefect @task wrappers, and the adapters
(settings, storage, tracking)."""
