"""The frozen teacher: loaded from a checkpoint written by the plain-training module, run
once over the full graph, its outputs reused every step (and optionally cached on disk).

The teacher network is deliberately *not* a submodule of the distillation module: its
weights never enter the student's checkpoint, optimizer, gradient sync or device moves.
The student checkpoint records the teacher's path and SHA-256 instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data

from ..data.datasets import cache_dir
from ..errors import CheckpointError, TeacherCheckpointError
from ..models import ModelOutput, NodeClassifier
from .checkpoint import atomic_save, load_model

#: fingerprint keys that must agree between the teacher's data and the student's
_MUST_MATCH = ("dataset", "num_nodes", "num_features", "num_classes", "split", "normalize_features", "synthetic")

_TEACHER_HINT = ("Train a teacher first (graphdistill fit --config configs/<dataset>/<model>.yaml) and pass the best "
                 "checkpoint that fit prints (also in results.json).")


class FrozenTeacher:
    """A teacher network in eval mode with gradients off, plus where it came from."""

    def __init__(self, path: str | Path) -> None:
        try:
            loaded = load_model(path, role="teacher checkpoint", hint=_TEACHER_HINT)
        except CheckpointError as err:
            raise TeacherCheckpointError(str(err)) from None
        self.path = loaded.path
        self.sha256 = loaded.sha256
        self.spec: dict[str, Any] = loaded.record["model"]
        self.data_fingerprint: dict[str, Any] = loaded.record.get("data") or {}
        self.model: NodeClassifier = loaded.model
        self.model.eval().requires_grad_(False)

    @property
    def num_parameters(self) -> int:
        """Size of the teacher network (its parameters are frozen, so all of them count)."""
        return sum(p.numel() for p in self.model.parameters())

    def check_data(self, fingerprint: dict[str, Any]) -> None:
        """Fail if the teacher was trained on other data, classes or split than the student's."""
        mine = self.data_fingerprint
        diffs = [f"{k}: teacher {mine.get(k)!r} vs data {fingerprint.get(k)!r}"
                 for k in _MUST_MATCH if mine.get(k) != fingerprint.get(k)]
        if diffs:
            raise TeacherCheckpointError(
                f"Teacher {self.path} was trained on different data ({'; '.join(diffs)}). Distil on the data the "
                "teacher was trained on, or train a teacher on this dataset and split."
            )

    def record(self) -> dict[str, Any]:
        """What the student checkpoint stores about its teacher (no weights)."""
        return {"path": str(self.path.resolve()), "sha256": self.sha256, "model": self.spec,
                "parameters": self.num_parameters}

    @torch.no_grad()
    def outputs(self, data: Data, device: torch.device, use_cache: bool = True,
                batch_size: int | None = None) -> ModelOutput:
        """Logits and every hidden layer for every node, in eval mode: one full-graph pass, or
        layer-wise inference in chunks of ``batch_size`` target nodes
        (:meth:`NodeClassifier.inference`; same result, bounded memory).

        With ``use_cache``, the result is stored under ``<cache>/teacher_outputs`` keyed by the
        teacher checkpoint's hash and the data fingerprint, and later runs load it instead of
        running the teacher.
        """
        path = self._cache_path(data) if use_cache else None
        if path is not None and not _writable_folder(path.parent):
            warnings.warn(f"The teacher-output cache folder {path.parent} cannot be written: running without the "
                          "cache (set GRAPHDISTILL_CACHE to a writable folder to keep the teacher's outputs).",
                          stacklevel=2)
            path = None
        if path is not None and path.is_file():
            cached = self._read_cache(path, data)
            if cached is not None:
                return cached.to(device)
        self.model.to(device)
        out = self.model.inference(**self.model.inputs(data, device), batch_size=batch_size).detach()
        self.model.cpu()
        if not all(bool(t.isfinite().all()) for t in (out.logits, *out.hiddens)):
            raise TeacherCheckpointError(f"Teacher {self.path} gives NaN or infinite outputs on this graph: its "
                                         "weights or the node features are broken. Check the features, or retrain it.")
        if path is not None:
            tensors = {"logits": out.logits.cpu(), "hiddens": [h.cpu() for h in out.hiddens]}
            atomic_save({**tensors, "checksum": _checksum(tensors["logits"], tensors["hiddens"])}, path)
        return out

    def _read_cache(self, path: Path, data: Data) -> ModelOutput | None:
        """The cached outputs if they are exactly what this teacher gives on ``data``: the
        expected shapes, finite, and matching their stored checksum; else ``None`` (and the
        file is removed, to be recomputed)."""
        try:
            cached = torch.load(path, map_location="cpu", weights_only=True)
            logits, hiddens = cached["logits"], list(cached["hiddens"])
            expected = [(data.num_nodes, self.model.out_channels),
                        *((data.num_nodes, w) for w in self.model.hidden_widths)]
            shapes = [tuple(t.shape) for t in (logits, *hiddens)]
            valid = (shapes == expected and cached.get("checksum") == _checksum(logits, hiddens)
                     and all(bool(t.isfinite().all()) for t in (logits, *hiddens)))
        except Exception:  # noqa: BLE001 - an unreadable cache file is recomputed
            valid = False
        if not valid:
            warnings.warn(f"Teacher-output cache {path} does not match the teacher: recomputing it.", stacklevel=3)
            path.unlink(missing_ok=True)
            return None
        return ModelOutput(logits, hiddens)

    def _cache_path(self, data: Data) -> Path:
        key = json.dumps({"teacher": self.sha256, "data": self.data_fingerprint,
                          "x": [int(data.num_nodes), int(data.num_features)]}, sort_keys=True)
        return cache_dir() / "teacher_outputs" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.pt"


def _checksum(logits: torch.Tensor, hiddens: list[torch.Tensor]) -> str:
    """SHA-256 of the tensors' bytes (shapes and dtypes included)."""
    digest = hashlib.sha256()
    for t in (logits, *hiddens):
        t = t.detach().cpu().contiguous()
        digest.update(f"{tuple(t.shape)}{t.dtype}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def _writable_folder(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (made if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)
