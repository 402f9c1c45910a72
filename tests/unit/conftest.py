"""Unit tests: tiny tensors, so one intra-op thread (several only add overhead and, on a busy
2-core machine, oversubscription that makes a tiny LSTM fit 10x slower). Restored after each test."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
