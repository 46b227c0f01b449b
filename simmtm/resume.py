"""Exact resume of a training run (pre-training or fine-tuning) after a kill.

A run writing ``checkpoint`` keeps ``<checkpoint>.resume.pt`` (the previous one as
``.resume.prev.pt``), written atomically after every epoch: model, optimizer, grad scaler, the
loop state of :func:`simmtm.engine.fit` (epoch, history, best weights, patience counter) and
every random state the run draws from (torch, CUDA, numpy, Python and the run's own
generators), for every process under torchrun. Continuing from it ends with the same weights
as an unbroken run (bit for bit on the CPU). The file holds tensors and plain values only and
is read with ``weights_only=True``.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simmtm.distributed import gather_objects, rank, world_size
from simmtm.serialization import UnsafeFileError, load_pt, numpy_random_state, plain_random_states


def resume_path(checkpoint: str | Path) -> Path:
    """Where the resumable state of a run writing ``checkpoint`` lives."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".resume.pt")


def previous_path(path: Path) -> Path:
    return path.with_name(path.stem + ".prev.pt")


def atomic_save(payload: dict, path: Path) -> None:
    """Write ``path`` via a temp file and a rename, keeping the last good file as ``.prev.pt``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    if path.exists():
        os.replace(path, previous_path(path))
    os.replace(tmp, path)


def load_resume_state(path: str | Path) -> dict[str, Any]:
    """Read a resume file, with a clear error (naming the previous good file) if it is damaged."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no resume state at {path}")
    try:
        state = load_pt(path, what="simmtm resume state")
    except UnsafeFileError:
        raise
    except ValueError as err:  # truncated or corrupt
        prev = previous_path(path)
        hint = f"; the previous state {prev} is intact: rename it to {path.name} to resume from it" if prev.is_file() else ""
        raise ValueError(f"{path} is truncated or corrupt ({err}){hint}") from None
    if not isinstance(state, dict) or "loop" not in state:
        raise ValueError(f"{path} is not a simmtm resume state")
    return state


def random_states(generators: dict[str, torch.Generator]) -> dict[str, Any]:
    """Every random state a run draws from, as tensors and plain values."""
    return {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy": plain_random_states(np.random.get_state()), "python": random.getstate(),
            **{name: g.get_state() for name, g in generators.items()}}


def restore_random_states(states: dict[str, Any], generators: dict[str, torch.Generator]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    np.random.set_state(numpy_random_state(states["numpy"]))
    random.setstate(states["python"])
    for name, g in generators.items():
        g.set_state(states[name])


class ResumeState:
    """The resume file of one run: :meth:`restore` before the loop, :meth:`save` as ``fit``'s
    ``on_state``. Modules with state (model, optimizer, grad scaler) are given by name."""

    def __init__(self, checkpoint: str | Path, modules: dict[str, Any], generators: dict[str, torch.Generator],
                 extra: dict[str, Any] | None = None):
        self.path = resume_path(checkpoint)
        self.modules, self.generators, self.extra = modules, generators, extra or {}

    def restore(self, log=print, tag: str = "run") -> dict | None:
        """Load the saved state into the modules and generators; returns the loop state to pass
        to ``fit(start=...)``, or None when there is nothing to resume."""
        if not self.path.is_file():
            return None
        state = load_resume_state(self.path)
        W = world_size()
        if state.get("world_size", 1) != W:
            raise ValueError(f"{self.path} was written by {state.get('world_size', 1)} process(es); resume it with "
                             f"as many (this run has {W})")
        for name, module in self.modules.items():
            module.load_state_dict(state[name])
        restore_random_states(state["random"][rank()], self.generators)
        log(f"[{tag}] resuming after epoch {state['loop']['epoch']} from {self.path}")
        return state["loop"]

    def save(self, loop: dict) -> None:
        states = gather_objects(random_states(self.generators))  # every process's
        if rank() == 0:
            atomic_save({**self.extra, **{name: m.state_dict() for name, m in self.modules.items()}, "loop": loop,
                         "random": states, "world_size": world_size()}, self.path)
