"""Loading ``.pt`` files without running code from them.

Every file simmtm reads (checkpoints, resume states, TF-C splits) is loaded with
``torch.load(..., weights_only=True)``: only tensors and plain Python values (dicts, lists,
tuples, strings, numbers) are rebuilt, and a pickle that names any other callable is refused
before it runs. What simmtm writes holds nothing else (see :func:`plain_random_states`).
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch


class UnsafeFileError(ValueError):
    """A file that would need code to load (a pickled callable): refused, nothing in it ran."""


def load_pt(path: str | Path, *, what: str, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True`` and one clear error per way a file can be wrong.

    Raises:
        FileNotFoundError / IsADirectoryError: no file at ``path``.
        UnsafeFileError: the file names a callable (e.g. ``os.system``): refused, nothing ran.
        ValueError: truncated, empty or not a PyTorch file: ``corrupt or not a <what>: PATH``.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a {what} file")
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        if found:
            raise UnsafeFileError(f"refused to load {path}: it needs code to load ({found.group(1)}); simmtm loads "
                                  f"tensors and plain values only, and ran nothing from it") from None
        raise ValueError(f"corrupt or not a {what}: {path} (not a tensor file simmtm can read safely)") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError) as err:
        raise ValueError(f"corrupt or not a {what}: {path} ({type(err).__name__})") from None


def plain_random_states(numpy_state: tuple) -> tuple:
    """``np.random.get_state()`` with its key array as a tensor (loadable with ``weights_only``)."""
    name, keys, pos, has_gauss, cached = numpy_state
    return (name, torch.from_numpy(np.asarray(keys, dtype=np.uint32).astype(np.int64)), int(pos), int(has_gauss),
            float(cached))


def numpy_random_state(plain: tuple) -> tuple:
    """Inverse of :func:`plain_random_states`, for ``np.random.set_state``."""
    name, keys, pos, has_gauss, cached = plain
    return name, keys.numpy().astype(np.uint32), pos, has_gauss, cached
