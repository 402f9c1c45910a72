"""Data-parallel training: ``lstm-forecast train --nproc N`` starts N processes with ``torchrun``.

Every rank reads the same curated data and calls the same training code; inside it, each rank
gathers its own slice of every global batch and DDP all-reduces the gradients (NCCL on GPUs,
gloo on CPUs). Rank 0 runs the real ``train`` flow, so it alone logs to MLflow, registers the
model and shows in Prefect; the other ranks only train.

    torchrun --standalone --nproc-per-node 4 -m flows.ddp '{"storage.root": "storage"}'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


def launch(nproc: int, overrides: dict[str, Any]) -> int:
    """Run the data-parallel training in ``nproc`` local processes; returns torchrun's exit code."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "flows.ddp",
        json.dumps({**overrides, "training.nproc": 1}),
    ]
    return subprocess.call(cmd)


def main(argv: list[str] | None = None) -> int:
    import torch
    import torch.distributed as dist

    from flows.common import settings_from
    from flows.render import train_text
    from tasks.adapters.settings import quiet_environment

    quiet_environment()
    overrides = json.loads((argv or sys.argv[1:])[0])
    s = settings_from(overrides)
    cuda = torch.cuda.is_available() and s.training.device in ("auto", "cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    try:
        if dist.get_rank() == 0:
            from flows.train import train_flow

            print(train_text(train_flow(overrides=overrides)), flush=True)
        else:
            from tasks.train.stage import load_curated, train_networks

            train_networks(load_curated(s), s)  # the same collective calls as rank 0, nothing logged
        dist.barrier()  # a rank done early waits for rank 0's registration: no rank tears gloo down alone
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
