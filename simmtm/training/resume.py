"""Exact resume of a training run (pre-training or fine-tuning) after a kill.

A run writing ``checkpoint`` keeps ``<checkpoint>.resume.pt`` (the previous one as
``.resume.prev.pt``), written atomically after every epoch: model, optimizer, grad scaler, the
loop state of :func:`simmtm.training.engine.fit` (epoch, history, best weights, patience counter) and
every random state the run draws from (torch, CUDA, numpy, Python and the run's own
generators), for every process under torchrun. Continuing from it ends with the same weights
as an unbroken run (bit for bit on the CPU). The file holds tensors and plain values only and
is read with ``weights_only=True``.

The state also stores the settings that define the run (config, data, seed, budget): resuming
with other settings is refused, naming each difference, instead of continuing one run under
another's name. A run that finishes removes its resume state (:meth:`ResumeState.finish`), so
nothing can "resume" a finished run; asked to, it keeps it as ``<checkpoint>.final.pt`` instead,
which a LONGER run of otherwise the same settings may start from (:meth:`ResumeState.extend`):
with no learning-rate schedule, as in pre-training, an E-epoch run is the first E epochs of a
longer one, so a budget curve trains its longest point once instead of every point from scratch.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simmtm.utils.atomic import atomic_write
from simmtm.utils.distributed import gather_objects, rank, world_size
from simmtm.utils.serialization import UnsafeFileError, load_pt, numpy_random_state, plain_random_states


def resume_path(checkpoint: str | Path) -> Path:
    """Where the resumable state of a run writing ``checkpoint`` lives."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".resume.pt")


def final_state_path(checkpoint: str | Path) -> Path:
    """Where a finished run writing ``checkpoint`` keeps its last state when asked to
    (:meth:`ResumeState.finish`), for a longer run to :meth:`~ResumeState.extend`."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".final.pt")


def previous_path(path: Path) -> Path:
    return path.with_name(path.stem + ".prev.pt")


def atomic_save(payload: dict, path: Path) -> None:
    """Write ``path`` atomically (:mod:`simmtm.utils.atomic`), keeping the last good file as ``.prev.pt``."""
    def keep_previous():  # once the new state is complete on disk
        if path.exists():
            path.replace(previous_path(path))

    atomic_write(path, lambda f: torch.save(payload, f), before_replace=keep_previous)


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return out


def settings_differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """``["lr: 0.001 saved, 0.1 now", ...]`` for every (nested) setting that differs; nested
    names are shortened to their last part where that stays unambiguous (``encoder.patch_len``
    -> ``patch_len``)."""
    a, b = _flat(saved), _flat(now)
    names = sorted(k for k in set(a) | set(b) if a.get(k, "<unset>") != b.get(k, "<unset>"))
    short = [k.rsplit(".", 1)[-1] for k in set(a) | set(b)]
    return [f"{k.rsplit('.', 1)[-1] if short.count(k.rsplit('.', 1)[-1]) == 1 else k}: "
            f"{a.get(k, '<unset>')!r} saved, {b.get(k, '<unset>')!r} now" for k in names]


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
                 extra: dict[str, Any] | None = None, settings: dict[str, Any] | None = None):
        self.path, self.final_path = resume_path(checkpoint), final_state_path(checkpoint)
        self.modules, self.generators, self.extra = modules, generators, extra or {}
        self.settings = settings  # what defines the run; a resume with others is refused

    def check_settings(self, state: dict[str, Any]) -> None:
        """Refuse a saved state made with other settings (ValueError naming each difference).
        States written before settings were stored are checked on their config."""
        if self.settings is None:
            return
        saved = state.get("settings")
        now = self.settings
        if saved is None:  # an older state: compare what it holds
            saved = {k: state[k] for k in self.settings if k in state}
            now = {k: self.settings[k] for k in saved}
        diff = settings_differences(saved, now)
        if diff:
            raise ValueError(f"{self.path} belongs to a run with other settings ({'; '.join(diff)}): resume with the "
                             f"same settings, or start over without resuming (its state is then replaced)")

    def restore(self, log=print, tag: str = "run") -> dict | None:
        """Load the saved state into the modules and generators; returns the loop state to pass
        to ``fit(start=...)``, or None when there is nothing to resume."""
        if not self.path.is_file():
            return None
        state = load_resume_state(self.path)
        self.check_settings(state)
        self._load(state, self.path)
        log(f"[{tag}] resuming after epoch {state['loop']['epoch']} from {self.path}")
        return state["loop"]

    def extend(self, final_state: str | Path, log=print, tag: str = "run") -> dict:
        """Start from the kept final state of a finished SHORTER run (:meth:`finish` with
        ``keep=True``) whose settings are this run's but for ``epochs``: returns its loop state for
        ``fit(start=...)``, which then goes on from its next epoch as if that run had been given this
        run's epochs. Refused (ValueError) for other settings, or a run not shorter than this one."""
        path = Path(final_state)
        state = load_resume_state(path)
        saved, now = state.get("settings"), self.settings
        if saved is None or now is None or "epochs" not in saved or "epochs" not in now:
            raise ValueError(f"{path} holds no epoch budget to extend")
        diff = settings_differences({k: v for k, v in saved.items() if k != "epochs"},
                                    {k: v for k, v in now.items() if k != "epochs"})
        if diff:
            raise ValueError(f"{path} belongs to a run with other settings ({'; '.join(diff)}): it cannot be extended")
        if not saved["epochs"] < now["epochs"] or state["loop"]["epoch"] + 1 != saved["epochs"]:
            raise ValueError(f"{path} is a finished {saved['epochs']}-epoch run (last epoch {state['loop']['epoch']}): "
                             f"only a longer run than it can extend it, this one has {now['epochs']}")
        self._load(state, path)
        log(f"[{tag}] extending the finished {saved['epochs']}-epoch run {path} to {now['epochs']} epochs")
        return state["loop"]

    def _load(self, state: dict[str, Any], path: Path) -> None:
        """Load a saved state (weights, optimizer, random states) into this run's modules and generators."""
        W = world_size()
        if state.get("world_size", 1) != W:
            raise ValueError(f"{path} was written by {state.get('world_size', 1)} process(es); resume it with "
                             f"as many (this run has {W})")
        from simmtm.training.checkpoint import load_weights

        for name, module in self.modules.items():
            if isinstance(module, torch.nn.Module):
                load_weights(module, state[name], path)
            else:
                module.load_state_dict(state[name])
        restore_random_states(state["random"][rank()], self.generators)

    def save(self, loop: dict) -> None:
        states = gather_objects(random_states(self.generators))  # every process's
        if rank() == 0:
            atomic_save({**self.extra, **{name: m.state_dict() for name, m in self.modules.items()}, "loop": loop,
                         "random": states, "world_size": world_size(),
                         **({"settings": self.settings} if self.settings is not None else {})}, self.path)

    def finish(self, keep: bool = False) -> None:
        """The run finished (its checkpoint written): remove its resume state and the previous one;
        with ``keep``, keep the last state as :func:`final_state_path` for a longer run to extend."""
        if rank() == 0:
            if keep and self.path.is_file():
                self.path.replace(self.final_path)
            else:
                self.final_path.unlink(missing_ok=True)  # no stale final state of an earlier run stays beside it
            self.path.unlink(missing_ok=True)
            previous_path(self.path).unlink(missing_ok=True)


def finished(checkpoint: str | Path) -> bool:
    """A run writing ``checkpoint`` finished: the checkpoint exists and no resume state is left."""
    checkpoint = Path(checkpoint)
    return checkpoint.is_file() and not resume_path(checkpoint).is_file()


def check_resumable(checkpoint: str | Path) -> None:
    """Refuse to resume a finished run (there is nothing to continue)."""
    if finished(checkpoint):
        raise ValueError(f"{checkpoint} is a finished run (no resume state is left): nothing to resume; run without "
                         "--resume to train again (it replaces that checkpoint)")
