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
so every rank restores the same state even without a shared checkpoint volume.
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
from torch.utils.data.distributed import DistributedSampler


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


def epoch_indices(size: int, epoch: int, seed: int, context: Context) -> list[int]:
    """This rank's share of a seeded shuffle of ``range(size)`` for ``epoch``."""
    sampler = DistributedSampler(
        range(size), num_replicas=context.world_size, rank=context.rank, shuffle=True, seed=seed
    )
    sampler.set_epoch(epoch)
    return list(sampler)


def any_rank(flag: bool, context: Context) -> bool:
    """True on every rank when ``flag`` is true on at least one (e.g. a SIGTERM)."""
    value = torch.tensor([int(flag)], device=context.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def sum_all(values: list[float], context: Context) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def broadcast(obj: Any, context: Context) -> Any:
    """Rank 0's ``obj`` on every rank."""
    holder = [obj if context.is_main else None]
    dist.broadcast_object_list(holder, src=0, device=context.device)
    return holder[0]


def barrier() -> None:
    dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
