"""The two UI servers (Prefect and MLflow) as child processes bound to loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tasks.adapters.settings import Settings, quiet_environment
from tasks.adapters.storage import Storage


@dataclass
class Server:
    name: str
    url: str
    health: str
    proc: subprocess.Popen


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at the moment (for servers started by tests and benchmarks)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _bin(name: str) -> str:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def start_servers(
    s: Settings, log_dir: Path | None = None, names: tuple[str, ...] = ("prefect", "mlflow")
) -> list[Server]:
    """Start ``prefect server`` and ``mlflow server`` (sqlite store and artifacts under the storage),
    or only those in ``names``."""
    root = Storage(s.storage.root).local_root()
    root.mkdir(parents=True, exist_ok=True)
    log_dir = log_dir or root / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    host = s.server.host
    env = quiet_environment({**os.environ, "PREFECT_UI_API_URL": f"http://{host}:{s.server.prefect_port}/api"})
    env.pop("PREFECT_API_URL", None)  # the server must not try to talk to itself as a client
    specs = [
        (
            "prefect",
            [_bin("prefect"), "server", "start", "--host", host, "--port", str(s.server.prefect_port)],
            f"http://{host}:{s.server.prefect_port}",
            "/api/health",
        ),
        (
            "mlflow",
            [
                _bin("mlflow"),
                "server",
                "--host",
                host,
                "--port",
                str(s.server.mlflow_port),
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--artifacts-destination",
                str(root / "mlartifacts"),
                "--workers",
                "1",
            ],
            f"http://{host}:{s.server.mlflow_port}",
            "/health",
        ),
    ]
    servers = []
    for name, cmd, url, health in (spec for spec in specs if spec[0] in names):
        log = open(log_dir / f"{name}-server.log", "ab")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        servers.append(Server(name, url, health, proc))
    return servers


def wait_healthy(servers: list[Server], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    for srv in servers:
        while True:
            if srv.proc.poll() is not None:
                raise RuntimeError(f"{srv.name} server exited with code {srv.proc.returncode} (see its log)")
            try:
                with urllib.request.urlopen(srv.url + srv.health, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{srv.name} server not healthy at {srv.url}{srv.health} after {timeout:.0f}s")
            time.sleep(0.5)


def stop_servers(servers: list[Server], grace: float = 15.0) -> None:
    """SIGTERM each server's process group; SIGKILL what is still there after ``grace`` seconds."""
    for srv in servers:
        _signal_group(srv.proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for srv in servers:
        try:
            srv.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        _signal_group(srv.proc, signal.SIGKILL)  # children of a server that exited, or the server itself
        srv.proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run_ui(s: Settings) -> int:
    # Ctrl-C and `kill` both stop the servers, even where SIGINT was ignored by a parent shell
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    servers = start_servers(s)
    try:
        wait_healthy(servers)
        print(f"Prefect UI: {servers[0].url}\nMLflow UI:  {servers[1].url}")
        print(
            f"Point the pipeline at them:\n  export PREFECT_API_URL={servers[0].url}/api"
            f"\n  export MLFLOW_TRACKING_URI={servers[1].url}\nCtrl-C stops both servers.",
            flush=True,
        )
        while all(srv.proc.poll() is None for srv in servers):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        t0 = time.monotonic()
        stop_servers(servers)
        print(f"servers stopped ({time.monotonic() - t0:.1f}s)", flush=True)
