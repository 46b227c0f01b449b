"""torch.distributed plumbing for runs launched by ``torchrun`` (one process per device).

Everything here is the standard engine: ``init_process_group`` from torchrun's environment
(NCCL on CUDA, gloo on CPU), ``all_reduce`` of sums, a differentiable all-gather from
``torch.distributed.nn``. Without torchrun (no ``WORLD_SIZE`` > 1) every function is a no-op
and the code runs as a single process.
"""
from __future__ import annotations

import os
import warnings

import torch
import torch.distributed as dist

from simmtm.utils.device import resolve_device



def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str | torch.device = "auto") -> torch.device:
    """Join torchrun's process group if launched by it (and not joined yet) and return this
    process's device (``cuda:LOCAL_RANK`` on GPUs). A no-op returning ``resolve_device(device)``
    for a single process."""
    dev = resolve_device(device)
    if not launched_by_torchrun() or not dist.is_available():
        return dev
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dev


def rank_seed(seed: int, rank_: int | None = None) -> int:
    """The seed of one process's random streams (masks, dropout), derived from the run's seed."""
    return seed + 100_003 * (rank() if rank_ is None else rank_)


def data_parallel(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` wrapped in DistributedDataParallel inside a process group (itself otherwise);
    the wrapper shares the parameters, so optimise, evaluate and save ``model``."""
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def train_sampler(dataset, seed: int, drop_last: bool = False):
    """A DistributedSampler (shuffled, seeded; call ``set_epoch`` every epoch) inside a process
    group, None otherwise (the loader then shuffles)."""
    if not is_distributed():
        return None
    from torch.utils.data import DistributedSampler

    return DistributedSampler(dataset, num_replicas=world_size(), rank=rank(), shuffle=True, seed=seed,
                              drop_last=drop_last)


def shard(dataset):
    """This process's share of an evaluation set (every W-th item, no padding: sums are reduced
    across processes afterwards); the whole set for a single process."""
    if not is_distributed():
        return dataset
    from torch.utils.data import Subset

    return Subset(dataset, range(rank(), len(dataset), world_size()))


def sum_across_ranks(values: torch.Tensor) -> torch.Tensor:
    """``values`` summed over all processes (a copy; the input itself when single-process)."""
    if not is_distributed():
        return values
    out = values.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def gather_rows(t: torch.Tensor, n_blocks: int) -> torch.Tensor:
    """All processes' ``t`` ``[n_blocks * b, ...]`` gathered, differentiably, into
    ``[n_blocks * W * b, ...]`` ordered block-major: block k holds block k of process 0, then of
    process 1, ... (for SimMTM's view-major rows, the global batch's rows in the same layout).
    Gradients flow back to each process's own rows (summed over the processes using them)."""
    if not is_distributed():
        return t
    import torch.distributed.nn.functional as dist_nn

    with warnings.catch_warnings():  # deprecated in favour of a private API; still the public one
        warnings.simplefilter("ignore", FutureWarning)
        parts = dist_nn.all_gather(t.contiguous())  # W x [n_blocks * b, ...]
    b = t.shape[0] // n_blocks
    blocks = [p.view(n_blocks, b, *t.shape[1:]) for p in parts]  # W x [n_blocks, b, ...]
    return torch.stack(blocks, dim=1).reshape(n_blocks * len(parts) * b, *t.shape[1:])


def local_rows(n_local: int, n_blocks: int) -> torch.Tensor:
    """Indices of this process's rows within :func:`gather_rows`' output, block by block."""
    W, r = world_size(), rank()
    block = torch.arange(n_blocks)[:, None] * (W * n_local)  # [n_blocks, 1]
    return (block + r * n_local + torch.arange(n_local)[None, :]).reshape(-1)  # [n_blocks * n_local]


def gather_objects(obj) -> list:
    """``obj`` from every process (rank order); ``[obj]`` when single-process."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out
