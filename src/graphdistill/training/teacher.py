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
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data

from ..data.datasets import cache_dir
from ..errors import TeacherCheckpointError
from ..models import ModelOutput, NodeClassifier, build_model
from .plain import CHECKPOINT_KEY

#: fingerprint keys that must agree between the teacher's data and the student's
_MUST_MATCH = ("dataset", "num_nodes", "num_features", "num_classes", "split", "normalize_features", "synthetic")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class FrozenTeacher:
    """A teacher network in eval mode with gradients off, plus where it came from."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise TeacherCheckpointError(
                f"Teacher checkpoint not found: {self.path}. Train a teacher first (graphdistill fit --config "
                "configs/<dataset>/<model>.yaml) and pass the best checkpoint that fit prints (also in results.json)."
            )
        self.sha256 = file_sha256(self.path)
        try:
            checkpoint = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as err:  # noqa: BLE001 - any unreadable file is the same user error
            raise TeacherCheckpointError(
                f"Teacher checkpoint {self.path} is corrupt or not a PyTorch checkpoint ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}). Re-train the teacher or pass another file."
            ) from None
        meta = checkpoint.get(CHECKPOINT_KEY) if isinstance(checkpoint, dict) else None
        if not meta or "model" not in meta or "state_dict" not in checkpoint:
            raise TeacherCheckpointError(
                f"Teacher checkpoint {self.path} was not written by graphdistill's training module (no "
                f"'{CHECKPOINT_KEY}' record). Train the teacher with graphdistill fit."
            )
        self.spec: dict[str, Any] = meta["model"]
        self.data_fingerprint: dict[str, Any] = meta.get("data") or {}
        self.model: NodeClassifier = build_model(self.spec)
        state = {k[len("model."):]: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
        try:
            self.model.load_state_dict(state)
        except RuntimeError as err:
            raise TeacherCheckpointError(
                f"Teacher checkpoint {self.path} does not match its own model record: {str(err).splitlines()[0]}"
            ) from None
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
        if path is not None and path.is_file():
            try:
                cached = torch.load(path, map_location=device, weights_only=True)
                return ModelOutput(cached["logits"], list(cached["hiddens"]))
            except Exception:  # noqa: BLE001 - a broken cache file is recomputed
                path.unlink(missing_ok=True)
        self.model.to(device)
        out = self.model.inference(**self.model.inputs(data, device), batch_size=batch_size).detach()
        self.model.cpu()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            torch.save({"logits": out.logits.cpu(), "hiddens": [h.cpu() for h in out.hiddens]}, tmp)
            tmp.replace(path)
        return out

    def _cache_path(self, data: Data) -> Path:
        key = json.dumps({"teacher": self.sha256, "data": self.data_fingerprint,
                          "x": [int(data.num_nodes), int(data.num_features)]}, sort_keys=True)
        return cache_dir() / "teacher_outputs" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.pt"
