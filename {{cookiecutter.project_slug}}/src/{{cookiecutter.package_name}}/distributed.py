"""Data-parallel training across processes and machines with torchrun.

One machine, two processes::

    torchrun --standalone --nproc_per_node=2 -m <package>.train

Several machines (run on each, NODE_RANK = 0..NNODES-1; on Kubernetes an Indexed Job
sets it from JOB_COMPLETION_INDEX)::

    torchrun --nnodes "$NNODES" --node_rank "$NODE_RANK" --nproc_per_node 1 \
        --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT" -m <package>.train

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE for every process. The gradients are
averaged by DistributedDataParallel over {% if cookiecutter.accelerator == "cuda" %}NCCL on GPUs and gloo on CPUs{% else %}gloo{% endif %}. Rank 0 alone
writes checkpoints and the model; on resume it reads the checkpoint and broadcasts it,
so every rank restores the same state even without a shared checkpoint volume. Each rank
trains on its share of the same seeded shuffle a single process uses
(``training.epoch_order``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .training import Parallel


def launched() -> bool:
    """True in a process started by torchrun with more than one process in total."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@dataclass(frozen=True)
class Context:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0
{%- if cookiecutter.accelerator == "cuda" %}


def init(device: str = "auto") -> Context:
    """Join the process group; ``device`` is the DEVICE setting (auto, cpu or cuda)."""
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    world_size = int(os.environ["WORLD_SIZE"])
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise RuntimeError("DEVICE=cuda but no CUDA device is available")
        torch.cuda.set_device(local_rank)
        torch_device = torch.device("cuda", local_rank)
    else:
        torch_device = torch.device("cpu")
    dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=timedelta(minutes=10))
    return Context(rank, local_rank, world_size, torch_device)
{%- else %}


def init() -> Context:
    """Join the process group (gloo, on the CPU)."""
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    world_size = int(os.environ["WORLD_SIZE"])
    dist.init_process_group(backend="gloo", timeout=timedelta(minutes=10))
    return Context(rank, local_rank, world_size, torch.device("cpu"))
{%- endif %}


def wrap(model: nn.Module, context: Context) -> nn.Module:
{%- if cookiecutter.accelerator == "cuda" %}
    device_ids = [context.local_rank] if context.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)
{%- else %}
    return DistributedDataParallel(model)
{%- endif %}


class Torchrun(Parallel):
    """The processes of a torchrun job, for ``training.fit``: rank and world size from the
    process group, SIGTERM and sums agreed over it, rank 0's objects broadcast."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.rank = context.rank
        self.world_size = context.world_size

    def any(self, flag: bool) -> bool:
        value = torch.tensor([int(flag)], device=self.context.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def sum(self, values: list[float]) -> list[float]:
        tensor = torch.tensor(values, dtype=torch.float64, device=self.context.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def broadcast(self, obj: Any) -> Any:
        holder = [obj if self.context.is_main else None]
        dist.broadcast_object_list(holder, src=0, device=self.context.device)
        return holder[0]


def barrier() -> None:
    dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
