"""Training checkpoints written atomically: a reader, or a run killed mid-write, sees the previous
checkpoint or the new one, never a torn file."""

from __future__ import annotations

import os

import torch

from rlte.fileio import atomic_write


def atomic_torch_save(obj, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file in the target folder, flushed to disk, then renamed over
    ``path``.

    Args:
        obj: what to save (tensors and plain values, so it loads with ``weights_only=True``).
        path: the checkpoint file (its folder is created).
    """
    atomic_write(path, lambda handle: torch.save(obj, handle), binary=True)
