"""graphdistill's checkpoint files: the record every checkpoint carries, the one reader,
and atomic writing.

A file given by a user is data, never code:

* it is read with ``torch.load(weights_only=True)``: plain containers, numbers, strings
  and tensors only, so a pickle that would run code (``__reduce__``) is refused;
* its model is rebuilt only from allowed classes (:func:`graphdistill.models.build_model`:
  ``graphdistill.models`` plus what the user allows explicitly);
* checkpoints are written to a temporary file in the same folder, then renamed, so a full
  disk or a kill never leaves a truncated checkpoint; a checkpoint whose weights are not
  finite is never written.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import pickletools
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import lightning as L
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint

from ..errors import CheckpointError, ConfigError, NonFiniteLossError
from ..models import NodeClassifier, build_model

#: where a checkpoint keeps graphdistill's record (model spec, data fingerprint, config, ...)
CHECKPOINT_KEY = "graphdistill"
CHECKPOINT_FORMAT = 1


def model_record(model: NodeClassifier, data_fingerprint: dict[str, Any] | None, metric: str) -> dict[str, Any]:
    """graphdistill's record of one trained model (stored under :data:`CHECKPOINT_KEY`): its
    spec, size, the data's fingerprint and the metric; enough for :func:`load_model`."""
    return {"format": CHECKPOINT_FORMAT, "model": model.spec(), "model_parameters": model.num_parameters,
            "data": data_fingerprint, "metric": metric}


def single_model_checkpoint(model: NodeClassifier, record: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of ``model`` alone, in the layout the training module writes (weights
    under ``model.``), so :func:`load_model`, ``graphdistill test`` and distillation read it."""
    return {"state_dict": {f"model.{name}": v.detach().cpu().clone() for name, v in model.state_dict().items()},
            "pytorch-lightning_version": L.__version__, CHECKPOINT_KEY: record}


@dataclass
class LoadedCheckpoint:
    """A checkpoint read from disk: its network (rebuilt, weights loaded, eval mode), the
    graphdistill record and the file's SHA-256."""

    path: Path
    model: NodeClassifier
    record: dict[str, Any]
    sha256: str


def read_checkpoint(path: str | Path, role: str = "checkpoint", hint: str = "") -> tuple[dict[str, Any], str]:
    """The checkpoint dict at ``path``, loaded weights-only, and the file's SHA-256.

    Raises :class:`CheckpointError` (one line, naming ``role`` and the file) if the file is
    missing, truncated or corrupt, or holds Python objects that loading would construct
    (the file is refused, nothing in it runs)."""
    checkpoint, sha256 = read_weights_only(path, role, hint)
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{role.capitalize()} {Path(path).expanduser()} is not a checkpoint (it holds a "
                              f"{type(checkpoint).__name__}, not a dict of weights).")
    return checkpoint, sha256


def read_weights_only(path: str | Path, role: str = "checkpoint", hint: str = "") -> tuple[Any, str]:
    """Whatever ``torch.save`` wrote at ``path`` (tensors, numbers, strings and plain
    containers only), and the file's SHA-256; errors as :func:`read_checkpoint`."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"{role.capitalize()} not found: {path}.{' ' + hint if hint else ''}")
    raw = path.read_bytes()
    try:
        with warnings.catch_warnings():  # torch warns before it fails on a plain pickle; the error says it
            warnings.simplefilter("ignore", UserWarning)
            checkpoint = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        what = found.group(1) if found else _pickled_global(raw)
        if what:
            raise CheckpointError(
                f"Refused {role} {path}: it asks to build {what} when loaded, which could run code. graphdistill "
                "reads checkpoints weights-only; use a checkpoint written by graphdistill.") from None
        raise CheckpointError(_corrupt(role, path, err)) from None
    except Exception as err:  # noqa: BLE001 - a truncated or foreign file is the same user error
        raise CheckpointError(_corrupt(role, path, err)) from None
    return checkpoint, hashlib.sha256(raw).hexdigest()


def _pickled_global(raw: bytes) -> str | None:
    """The first ``module.name`` a plain pickle would import (what ``torch.load``'s
    weights-only unpickler reports as an unsupported operand for newer pickle protocols),
    or ``None`` if ``raw`` is no such pickle."""
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(raw):
            if op.name in ("GLOBAL", "INST"):
                return str(arg).replace(" ", ".")
            if op.name == "STACK_GLOBAL" and len(strings) >= 2:
                return f"{strings[-2]}.{strings[-1]}"
            if isinstance(arg, str):
                strings.append(arg)
    except Exception:  # noqa: BLE001 - not a plain pickle
        return None
    return None


def _corrupt(role: str, path: Path, err: Exception) -> str:
    """One line for a file ``torch.load`` could not read: torch's own message is many lines,
    and for a file its weights-only unpickler cannot read it asks to file an issue with torch,
    which is not what the user should do; only its short reason is kept."""
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    if "WeightsUnpickler error:" in text:
        reason = text.split("WeightsUnpickler error:", 1)[1]
    elif "Weights only load failed" in text or "Please file an issue" in text:
        reason = ""
    else:
        reason = text
    reason = re.split(r"\. | Check the documentation", reason)[0].strip().rstrip(".")
    reason = f": {reason[:120]}" if reason else ""
    return (f"{role.capitalize()} {path} is corrupt or not a PyTorch checkpoint (truncated, or not written by "
            f"torch.save? {type(err).__name__}{reason}). Pass another file or train it again.")


def checkpoint_record(checkpoint: dict[str, Any], path: str | Path, role: str = "checkpoint") -> dict[str, Any]:
    """graphdistill's record of a checkpoint dict (model spec, data fingerprint, ...)."""
    record = checkpoint.get(CHECKPOINT_KEY)
    if not isinstance(record, dict) or "model" not in record or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{role.capitalize()} {path} was not written by graphdistill's training module (no '{CHECKPOINT_KEY}' "
            "record). Train it with graphdistill fit.")
    return record


def load_model(path: str | Path, role: str = "checkpoint", hint: str = "") -> LoadedCheckpoint:
    """Read a graphdistill checkpoint (see :func:`read_checkpoint`) and rebuild its network
    from its own record, weights loaded, in eval mode: the one reader of checkpoints for
    teachers, latency, analysis and OAD's student files."""
    path = Path(path).expanduser()
    checkpoint, sha256 = read_checkpoint(path, role, hint)
    return model_from_checkpoint(checkpoint, sha256, path, role)


def model_from_checkpoint(checkpoint: dict[str, Any], sha256: str, path: Path,
                          role: str = "checkpoint") -> LoadedCheckpoint:
    """:func:`load_model` for a checkpoint dict already read by :func:`read_checkpoint`."""
    record = checkpoint_record(checkpoint, path, role)
    try:
        model = build_model(record["model"])
    except ConfigError as err:
        raise CheckpointError(f"{role.capitalize()} {path}: {err}") from None
    except Exception as err:  # noqa: BLE001 - a record with arguments the class rejects
        raise CheckpointError(f"{role.capitalize()} {path} has an unusable model record ({type(err).__name__}: "
                              f"{str(err)[:160]}).") from None
    state = {k[len("model."):]: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(
            f"{role.capitalize()} {path} does not match its own model record: {str(err).splitlines()[0]}") from None
    return LoadedCheckpoint(path, model.eval(), record, sha256)


#: config keys that change where a run's files go or what it prints, not its numbers: left
#: out of the config hash that ``results.json`` records (see :func:`run_identity`)
PRESENTATION = (
    "config", "ckpt_path", "weights_only", "test_after_fit", "trainer.logger", "trainer.enable_progress_bar",
    "trainer.enable_model_summary", "trainer.default_root_dir", "data.root", "data.download", "data.num_workers",
)

#: config keys a resumed run may change; every other key must equal the checkpoint's run.
#: Besides :data:`PRESENTATION`: ``max_epochs`` (to go on longer), callbacks, ``lr`` (lowered
#: to go on after a divergence) and the teacher's path (its content is checked by hash).
RESUME_MAY_CHANGE = (*PRESENTATION, "trainer.max_epochs", "trainer.callbacks", "model.init_args.lr",
                     "model.init_args.teacher")


def flatten_config(config: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config (dicts and lists) as ``{"a.b.0.c": value}``, values as JSON types."""
    flat: dict[str, Any] = {}
    if isinstance(config, dict):
        for key, value in config.items():
            flat.update(flatten_config(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(config, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in config):
        for i, value in enumerate(config):
            flat.update(flatten_config(value, f"{prefix}.{i}"))
    else:
        flat[prefix] = config if isinstance(config, (str, int, float, bool, type(None))) else (
            [v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for v in config]
            if isinstance(config, (list, tuple)) else str(config))
    return flat




#: settings added after runs were stored, left out of a run's identity while ``None`` (their
#: default, which trains as before): runs without them keep their config hash and resume
ADDED_AT_NONE = ("model.init_args.consistency", "data.position_kind")


def run_identity(config: dict[str, Any], ignore: tuple[str, ...] = RESUME_MAY_CHANGE) -> dict[str, Any]:
    """``{"hash", "values"}``: the keys of a resolved config but those under ``ignore`` (and
    those of :data:`ADDED_AT_NONE` while ``None``), flat, and their SHA-256. With
    :data:`RESUME_MAY_CHANGE` (the default), what a resume must keep, stored in checkpoints; with
    :data:`PRESENTATION`, everything that defines the run's numbers: the config hash of
    ``results.json``, which a stored run must match to be reused."""
    values = {k: v for k, v in sorted(flatten_config(config).items())
              if not any(k == m or k.startswith(m + ".") for m in ignore)
              and not (v is None and k in ADDED_AT_NONE)}
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()
    return {"hash": digest, "values": values}


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: saved -> current`` for every key whose value differs between two flat configs."""
    missing = object()
    return [f"{key} ({saved.get(key, '<unset>')!r} -> {current.get(key, '<unset>')!r})"
            for key in sorted(set(saved) | set(current)) if saved.get(key, missing) != current.get(key, missing)]


def nonfinite_weights(state_dict: dict[str, Any]) -> list[str]:
    """Names of the floating-point tensors of ``state_dict`` holding a NaN or infinity."""
    return [name for name, value in state_dict.items()
            if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(value.isfinite().all())]


def atomic_write(path: str | Path, write: Callable[[BinaryIO], Any]) -> None:
    """``write`` into a temporary file beside ``path``, flush it to disk, then rename it over
    ``path``: the file is either the old one or the complete new one. A failed write (a full
    disk) leaves ``path`` as it was and raises :class:`CheckpointError`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(
            f"Could not write {path}: {err.strerror or err}. Free disk space or choose another folder "
            f"(--trainer.default_root_dir); {path.name} was left as it was.") from None


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` through :func:`atomic_write`."""
    atomic_write(path, lambda f: torch.save(obj, f))


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O with two guarantees: a checkpoint is written atomically
    (:func:`atomic_save`), and never with a non-finite weight (:class:`NonFiniteLossError`
    instead, naming the tensors; the previous files stay as they were)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike,
                        storage_options: Any | None = None) -> None:
        bad = nonfinite_weights(checkpoint.get("state_dict", {}))
        if bad:
            raise NonFiniteLossError(
                f"Refused to write {path}: weights {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''} are NaN or "
                "infinite (training diverged). Lower the learning rate or the loss weights.")
        atomic_save(checkpoint, path)

    def load_checkpoint(self, path: str | os.PathLike, map_location: Any | None = None,
                        weights_only: bool | None = None) -> dict[str, Any]:
        return read_checkpoint(path)[0]


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` whose ``last.ckpt`` is written after *every*
    validation, so that it is the last epoch. (Lightning 2.6 writes ``last.ckpt`` only when
    a top-k checkpoint was written in the same step: after a plateau, a kill lost every
    epoch since the best.)"""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._and_last(super().on_train_epoch_end, trainer, pl_module, at_train_epoch_end=True)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._and_last(super().on_validation_end, trainer, pl_module, at_train_epoch_end=False)

    def _and_last(self, hook, trainer: L.Trainer, pl_module: L.LightningModule, at_train_epoch_end: bool) -> None:
        """Run Lightning's saving ``hook``; then, where it saved no top-k checkpoint at a point
        where it saves, write ``last.ckpt`` anyway."""
        due = (not self._should_skip_saving_checkpoint(trainer)
               and self._should_save_on_train_epoch_end(trainer) == at_train_epoch_end)
        hook(trainer, pl_module)
        if due and self.save_last and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
