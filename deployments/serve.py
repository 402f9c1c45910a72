"""Serve every scheduled deployment from one process: ``python deployments/serve.py`` is
``lstm-forecast serve`` (the schedules are in :mod:`flows.serve`)."""

from __future__ import annotations

if __name__ == "__main__":
    from flows.serve import serve_all

    serve_all()
