"""The frozen teacher: any trained model, run once over the full graph, its outputs reused
every step (and optionally cached on disk).

A teacher comes in one of four forms, each passed as ``--model.init_args.teacher``
(:func:`load_teacher` tells them apart):

* a **graphdistill checkpoint** (``graphdistill fit``'s ``best.ckpt``): the network is
  rebuilt from the checkpoint's own record (:class:`FrozenTeacher`);
* a **file of precomputed outputs** (``.pt`` or ``.npy``): the logits ``[N, C]``, or in a
  ``.pt`` a dict ``{"logits": [N, C], "hiddens": [[N, d1], ...]}``. This works for a teacher
  from any framework (DGL, JAX, another lab's code, a served model); logit methods run on
  it, feature methods need the hidden layers (:class:`OutputsTeacher`);
* **any** ``torch.nn.Module``, from a YAML or JSON spec (:class:`ModuleTeacher`)::

      class_path: torch_geometric.nn.models.GCN     # torch, torch_geometric, graphdistill,
      init_args: {in_channels: 1433, hidden_channels: 64, num_layers: 2, out_channels: 7}
      state_dict: gcn.pt                           # torch.save(model.state_dict()), beside the spec
      hidden_layers: [convs.0]                     # submodules whose outputs are the hidden layers

  called as ``forward(x, edge_index)`` in eval mode; a submodule's width comes from its
  ``out_channels``/``out_features`` or from ``hidden_layers`` given as ``{name: width}``.
  Classes outside torch, torch_geometric and graphdistill are built only when allowed
  explicitly (``$GRAPHDISTILL_ALLOWED_MODELS``, :func:`graphdistill.models.allow_model_class`);
* an **ensemble** of teachers of the three forms above, from a YAML or JSON file naming them
  (paths relative to the file) (:class:`EnsembleTeacher`)::

      members: [grand/best.ckpt, sage/best.ckpt, other_lab_logits.npy]

  the student learns the members' mean class probabilities (the logits given to it are the
  log of that mean). It has no hidden layers, so logit methods only (KD, GLNN, ...), and
  single-label tasks only; its size is the members' sizes added up.

Every file is read as data (weights-only, no pickled objects). The teacher network is
deliberately *not* a submodule of the distillation module: its weights never enter the
student's checkpoint, optimizer, gradient sync or device moves. The student checkpoint
records every teacher file's path and SHA-256 instead.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from ..data.datamodule import fingerprint_differences
from ..data.datasets import cache_dir, graph_sha256
from ..errors import CheckpointError, ConfigError, GraphDistillWarning, TeacherCheckpointError
from ..models import ModelOutput, NodeClassifier
from ..models.base import import_allowed_class
from .checkpoint import CHECKPOINT_KEY, atomic_save, model_from_checkpoint, read_weights_only

_TEACHER_HINT = ("Train a teacher first (graphdistill fit --config configs/<dataset>/<model>.yaml) and pass the best "
                 "checkpoint that fit prints (also in results.json), a file of its outputs, a module spec (.yaml), "
                 "or an ensemble file (.yaml: members: [a/best.ckpt, b/best.ckpt]).")

#: packages whose classes a teacher module spec may build without being allowed explicitly
TRUSTED_TEACHER_PACKAGES = ("torch", "torch_geometric", "graphdistill")

_SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def load_teacher(path: str | Path) -> Teacher:
    """The teacher at ``path`` in whichever form it is (see the module docstring): a spec
    (``.yaml``/``.yml``/``.json``), an outputs array (``.npy``), or a file ``torch.save``
    wrote: a graphdistill checkpoint, else an outputs tensor or dict.

    Building the teacher's network leaves the random number generators as they were, so
    the student trains the same for the same seed whichever form gives the same outputs."""
    with torch.random.fork_rng(devices=[]):
        return _load_teacher(Path(path).expanduser())


def _load_teacher(path: Path, member_of: Path | None = None) -> Teacher:
    suffix = path.suffix.lower()
    if suffix in _SPEC_SUFFIXES:
        spec = _read_spec(path)
        if "members" not in spec:
            return ModuleTeacher(path, spec)
        if member_of is not None:
            raise TeacherCheckpointError(f"Teacher ensemble {member_of}: its member {path} is an ensemble itself; "
                                         "list that ensemble's members instead.")
        return EnsembleTeacher(path, spec)
    if suffix == ".npy":
        return OutputsTeacher(path)
    role = "teacher checkpoint" if suffix == ".ckpt" else "teacher file"
    try:
        content, sha256 = read_weights_only(path, role=role, hint=_TEACHER_HINT)
    except CheckpointError as err:
        raise TeacherCheckpointError(str(err)) from None
    if isinstance(content, dict) and CHECKPOINT_KEY in content:
        return FrozenTeacher(path, (content, sha256))
    if isinstance(content, Tensor) or (isinstance(content, dict) and "logits" in content):
        return OutputsTeacher(path, (content, sha256))
    if isinstance(content, dict) and "state_dict" in content:  # a checkpoint, not from graphdistill
        return FrozenTeacher(path, (content, sha256))
    raise TeacherCheckpointError(
        f"Teacher {path} is neither a graphdistill checkpoint nor a file of teacher outputs (a logits tensor, or a "
        "dict with 'logits' and optional 'hiddens'). " + _TEACHER_HINT)


class Teacher:
    """A trained teacher, frozen: where it came from (its files and their SHA-256), its
    output widths, and its outputs on the graph (:meth:`outputs`, computed once)."""

    #: checkpoint | outputs | module
    form: str = ""
    #: whether :meth:`outputs` keeps its result in the on-disk cache (not for a file of outputs)
    cacheable: bool = True

    def __init__(self, path: Path, files: list[tuple[Path, str]], num_classes: int, hidden_widths: list[int],
                 data_fingerprint: dict[str, Any], num_parameters: int | None) -> None:
        self.path = path
        self.files = files
        self.num_classes = num_classes
        self.hidden_widths = hidden_widths
        #: what is known of the data the teacher belongs to (all of it for a checkpoint)
        self.data_fingerprint = data_fingerprint
        self.num_parameters = num_parameters

    @property
    def sha256(self) -> str:
        """The file's SHA-256; for several files (a spec and its weights), the SHA-256 of their hashes."""
        if len(self.files) == 1:
            return self.files[0][1]
        return hashlib.sha256("\n".join(sha for _, sha in self.files).encode()).hexdigest()

    def check_data(self, fingerprint: dict[str, Any]) -> None:
        """Fail if the teacher belongs to other data, classes or split than the student's. Where
        both fingerprints carry the graph's content hash, the content decides (the same graph
        from a built-in loader or a file is the same graph); else the recorded keys."""
        mine = self.data_fingerprint
        keys = None if self.form == "checkpoint" else tuple(mine)  # an outputs file or module knows counts only
        diffs = fingerprint_differences(mine, fingerprint, keys)
        if diffs:
            where = (f" (teacher's dataset {mine['dataset']}, this one {fingerprint.get('dataset')})"
                     if mine.get("dataset") else "")
            raise TeacherCheckpointError(
                f"Teacher {self.path} was trained on different data{where}: {'; '.join(diffs)}. Distil on the data "
                "the teacher was trained on, or train a teacher on this dataset and split."
            )

    def record(self) -> dict[str, Any]:
        """What the student checkpoint stores about its teacher (no weights): its form, every
        file with its SHA-256, and the network's spec and size where known."""
        return {"form": self.form, "path": str(self.path.resolve()), "sha256": self.sha256,
                "files": [{"path": str(p.resolve()), "sha256": sha} for p, sha in self.files],
                "model": self.spec(), "parameters": self.num_parameters}

    def spec(self) -> dict[str, Any] | None:
        """The teacher network's ``{class_path, init_args}``, where there is a network."""
        return None

    @property
    def model_name(self) -> str:
        """How reports name the teacher: its network's class, or what it is where there is none."""
        spec = self.spec()
        return spec["class_path"].rsplit(".", 1)[-1] if spec else "outputs file"

    @torch.no_grad()
    def outputs(self, data: Data, device: torch.device, use_cache: bool = True,
                batch_size: int | None = None, graph: str | None = None) -> ModelOutput:
        """Logits and every hidden layer for every node, in eval mode (see :meth:`_compute`).

        With ``use_cache``, the result is stored under ``<cache>/teacher_outputs`` keyed by the
        teacher's hash and the graph's content (``graph``: its hash where the caller has it,
        as the data fingerprint does; else computed), and later runs load it instead of
        running the teacher."""
        path = self._cache_path(data, graph or graph_sha256(data)) if use_cache and self.cacheable else None
        if path is not None and not _writable_folder(path.parent):
            warnings.warn(f"The teacher-output cache folder {path.parent} cannot be written: running without the "
                          "cache (set GRAPHDISTILL_CACHE to a writable folder to keep the teacher's outputs).",
                          GraphDistillWarning, stacklevel=2)
            path = None
        if path is not None and path.is_file():
            cached = self._read_cache(path, data)
            if cached is not None:
                return cached.to(device)
        out = self._compute(data, device, batch_size)
        shapes = [tuple(t.shape) for t in (out.logits, *out.hiddens)]
        if shapes != self._expected_shapes(data):
            raise TeacherCheckpointError(
                f"Teacher {self.path} gives outputs of shapes {shapes} on this graph, expected "
                f"{self._expected_shapes(data)} ({data.num_nodes} nodes): it belongs to another graph.")
        if not all(bool(t.isfinite().all()) for t in (out.logits, *out.hiddens)):
            raise TeacherCheckpointError(f"Teacher {self.path} gives NaN or infinite outputs on this graph: its "
                                         "weights or the node features are broken. Check the features, or retrain it.")
        if path is not None:
            tensors = {"logits": out.logits.cpu(), "hiddens": [h.cpu() for h in out.hiddens]}
            atomic_save({**tensors, "checksum": _checksum(tensors["logits"], tensors["hiddens"])}, path)
        return out.to(device)

    def _compute(self, data: Data, device: torch.device, batch_size: int | None) -> ModelOutput:
        raise NotImplementedError

    def _expected_shapes(self, data: Data) -> list[tuple[int, int]]:
        return [(data.num_nodes, self.num_classes), *((data.num_nodes, w) for w in self.hidden_widths)]

    def _read_cache(self, path: Path, data: Data) -> ModelOutput | None:
        """The cached outputs if they are exactly what this teacher gives on ``data``: the
        expected shapes, finite, and matching their stored checksum; else ``None`` (and the
        file is removed, to be recomputed)."""
        try:
            cached = torch.load(path, map_location="cpu", weights_only=True)
            logits, hiddens = cached["logits"], list(cached["hiddens"])
            shapes = [tuple(t.shape) for t in (logits, *hiddens)]
            valid = (shapes == self._expected_shapes(data) and cached.get("checksum") == _checksum(logits, hiddens)
                     and all(bool(t.isfinite().all()) for t in (logits, *hiddens)))
        except Exception:  # noqa: BLE001 - an unreadable cache file is recomputed
            valid = False
        if not valid:
            warnings.warn(f"Teacher-output cache {path} does not match the teacher: recomputing it.",
                          GraphDistillWarning, stacklevel=3)
            path.unlink(missing_ok=True)
            return None
        return ModelOutput(logits, hiddens)

    def _cache_path(self, data: Data, graph: str) -> Path:
        key = json.dumps({"teacher": self.sha256, "form": self.form, "graph": graph,
                          "x": [int(data.num_nodes), int(data.num_features)]}, sort_keys=True)
        return cache_dir() / "teacher_outputs" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.pt"


class FrozenTeacher(Teacher):
    """A teacher checkpoint written by graphdistill's training module: the network is
    rebuilt from the checkpoint's own record, in eval mode with gradients off."""

    form = "checkpoint"

    def __init__(self, path: str | Path, read: tuple[dict[str, Any], str] | None = None) -> None:
        path = Path(path).expanduser()
        try:
            if read is None:
                content, sha256 = read_weights_only(path, role="teacher checkpoint", hint=_TEACHER_HINT)
                if not isinstance(content, dict):
                    raise CheckpointError(f"Teacher checkpoint {path} is not a checkpoint (it holds a "
                                          f"{type(content).__name__}).")
            else:
                content, sha256 = read
            loaded = model_from_checkpoint(content, sha256, path, role="teacher checkpoint")
        except CheckpointError as err:
            raise TeacherCheckpointError(str(err)) from None
        self.model: NodeClassifier = loaded.model
        self.model.eval().requires_grad_(False)
        super().__init__(path, [(path, sha256)], self.model.out_channels, self.model.hidden_widths,
                         loaded.record.get("data") or {}, sum(p.numel() for p in self.model.parameters()))

    def spec(self) -> dict[str, Any]:
        return self.model.spec()

    def _compute(self, data: Data, device: torch.device, batch_size: int | None) -> ModelOutput:
        """One full-graph pass, or layer-wise inference in chunks of ``batch_size`` target nodes
        (:meth:`NodeClassifier.inference`; same result, bounded memory)."""
        self.model.to(device)
        try:
            return self.model.inference(**self.model.inputs(data, device), batch_size=batch_size).detach()
        finally:
            self.model.cpu()


class OutputsTeacher(Teacher):
    """A teacher given only by its outputs on every node: logits ``[N, C]`` and, optionally,
    hidden layers. It belongs to any graph with ``N`` nodes and ``C`` classes."""

    form = "outputs"
    cacheable = False

    def __init__(self, path: str | Path, read: tuple[Any, str] | None = None) -> None:
        path = Path(path).expanduser()
        if read is None and path.suffix.lower() == ".npy":
            if not path.is_file():
                raise TeacherCheckpointError(f"Teacher outputs file not found: {path}. {_TEACHER_HINT}")
            try:
                content = torch.as_tensor(np.load(path, allow_pickle=False))
            except Exception as err:  # noqa: BLE001
                raise TeacherCheckpointError(f"Teacher outputs {path} cannot be read as a plain .npy array "
                                             f"({type(err).__name__}: {str(err)[:120]}).") from None
            sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        elif read is None:
            try:
                content, sha256 = read_weights_only(path, role="teacher outputs", hint=_TEACHER_HINT)
            except CheckpointError as err:
                raise TeacherCheckpointError(str(err)) from None
        else:
            content, sha256 = read
        logits, hiddens = (content, []) if isinstance(content, Tensor) else (content.get("logits"),
                                                                             content.get("hiddens") or [])
        tensors = [logits, *hiddens] if isinstance(hiddens, (list, tuple)) else [logits, hiddens]
        if not all(isinstance(t, Tensor) and t.dim() == 2 and t.is_floating_point() for t in tensors) or len(
                {t.size(0) for t in tensors}) != 1:
            raise TeacherCheckpointError(
                f"Teacher outputs {path} must hold float logits [N, C] and optionally a list of hidden layers "
                f"[N, d], all with one row per node; got shapes {[tuple(getattr(t, 'shape', ())) for t in tensors]}.")
        self._outputs = ModelOutput(tensors[0].float(), [h.float() for h in tensors[1:]])
        num_nodes, num_classes = tensors[0].shape
        super().__init__(path, [(path, sha256)], int(num_classes), [int(h.size(1)) for h in tensors[1:]],
                         {"num_nodes": int(num_nodes), "num_classes": int(num_classes)}, None)

    def _compute(self, data: Data, device: torch.device, batch_size: int | None) -> ModelOutput:
        return self._outputs


class ModuleTeacher(Teacher):
    """Any ``torch.nn.Module`` from a spec file (see the module docstring), called as
    ``forward(x, edge_index)`` on the whole graph in eval mode; the hidden layers are the
    outputs of the submodules the spec names, captured with forward hooks."""

    form = "module"

    def __init__(self, path: str | Path, spec: dict[str, Any] | None = None) -> None:
        path = Path(path).expanduser()
        spec = _module_spec(path, _read_spec(path) if spec is None else spec)
        weights = (path.parent / spec["state_dict"]).expanduser()
        try:
            state, weights_sha = read_weights_only(weights, role="teacher state dict",
                                                   hint=f"(named by state_dict in {path})")
        except CheckpointError as err:
            raise TeacherCheckpointError(str(err)) from None
        try:
            cls = import_allowed_class(spec["class_path"], TRUSTED_TEACHER_PACKAGES, what="teacher")
            if not issubclass(cls, nn.Module):
                raise ConfigError(f"Refused to build {spec['class_path']!r}: it is not a torch.nn.Module.")
            self.model: nn.Module = cls(**spec["init_args"])
        except ConfigError as err:
            raise TeacherCheckpointError(f"Teacher spec {path}: {err}") from None
        except Exception as err:  # noqa: BLE001 - init arguments the class rejects
            raise TeacherCheckpointError(f"Teacher spec {path}: {spec['class_path']}(**init_args) failed "
                                         f"({type(err).__name__}: {str(err)[:160]}).") from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise TeacherCheckpointError(f"Teacher weights {weights} hold a {type(state).__name__}: save "
                                         "model.state_dict() with torch.save.")
        try:
            self.model.load_state_dict(state)
        except RuntimeError as err:
            raise TeacherCheckpointError(f"Teacher weights {weights} do not fit {spec['class_path']} with these "
                                         f"init_args: {' '.join(str(err).split())[:300]}") from None
        self.model.eval().requires_grad_(False)
        self.class_path, self.init_args = spec["class_path"], spec["init_args"]
        self.hidden_layers = self._hidden_layers(path, spec["hidden_layers"])
        num_classes = spec.get("num_classes") or _width(self.model) or spec["init_args"].get("out_channels")
        if not isinstance(num_classes, int):
            raise TeacherCheckpointError(f"Teacher spec {path}: cannot tell the number of classes from the module; "
                                         "add num_classes: C to the spec.")
        fingerprint = {"num_classes": num_classes}
        if isinstance(spec["init_args"].get("in_channels"), int) and spec["init_args"]["in_channels"] > 0:
            fingerprint["num_features"] = spec["init_args"]["in_channels"]
        files = [(path, hashlib.sha256(path.read_bytes()).hexdigest()), (weights, weights_sha)]
        super().__init__(path, files, num_classes, list(self.hidden_layers.values()), fingerprint,
                         sum(p.numel() for p in self.model.parameters()))

    def _hidden_layers(self, path: Path, named: list[str] | dict[str, int]) -> dict[str, int]:
        modules = dict(self.model.named_modules())
        widths: dict[str, int] = {}
        for name in named:
            if name not in modules:
                raise TeacherCheckpointError(
                    f"Teacher spec {path}: hidden layer {name!r} is not a submodule of {self.class_path} (it has "
                    f"{', '.join(n for n in modules if n)[:300]}).")
            width = named[name] if isinstance(named, dict) else _width(modules[name])
            if not isinstance(width, int):
                raise TeacherCheckpointError(f"Teacher spec {path}: the width of {name!r} is unknown; give "
                                             f"hidden_layers as a mapping, {{{name}: WIDTH}}.")
            widths[name] = width
        return widths

    def spec(self) -> dict[str, Any]:
        return {"class_path": self.class_path, "init_args": self.init_args}

    def _compute(self, data: Data, device: torch.device, batch_size: int | None) -> ModelOutput:
        captured: dict[str, Tensor] = {}
        modules = dict(self.model.named_modules())
        hooks = [modules[name].register_forward_hook(_capture(captured, name)) for name in self.hidden_layers]
        self.model.to(device)
        try:
            out = self.model(data.x.to(device), data.edge_index.to(device))
        except Exception as err:  # noqa: BLE001 - a module that does not fit the graph: one line
            raise TeacherCheckpointError(f"Teacher {self.class_path} from {self.path} failed on this graph "
                                         f"({type(err).__name__}: {str(err).splitlines()[0][:160]}): check its "
                                         f"in_channels against the graph's {data.num_features} features.") from None
        finally:
            for hook in hooks:
                hook.remove()
            self.model.cpu()
        if isinstance(out, ModelOutput):
            out = out.logits
        elif isinstance(out, (tuple, list)):
            out = out[0]
        missing = [name for name in self.hidden_layers if name not in captured]
        if missing:
            raise TeacherCheckpointError(f"Teacher {self.path}: hidden layers {missing} were not called by forward.")
        return ModelOutput(out.detach(), [captured[name] for name in self.hidden_layers])


class EnsembleTeacher(Teacher):
    """Several teachers as one (see the module docstring): each member is loaded as a teacher of
    its own form and checked against the data; the outputs are the log of the members' mean class
    probabilities, ``log(mean_i softmax(z_i))``, computed stably as a log-sum-exp. Each member keeps
    its own output cache; the ensemble's is not stored (averaging is cheap)."""

    form = "ensemble"
    cacheable = False

    def __init__(self, path: str | Path, spec: dict[str, Any] | None = None) -> None:
        path = Path(path).expanduser()
        spec = _read_spec(path) if spec is None else spec
        members = spec.get("members")
        if set(spec) != {"members"} or not isinstance(members, list) or len(members) < 2 or not all(
                isinstance(m, str) and m for m in members):
            raise TeacherCheckpointError(
                f"Teacher ensemble {path} must hold only members: a list of two or more teacher files (checkpoints, "
                f"outputs files or module specs, relative to it); found {spec!r:.200}.")
        self.members = [_load_teacher((path.parent / m).expanduser(), member_of=path) for m in members]
        classes = [m.num_classes for m in self.members]
        if len(set(classes)) != 1:
            raise TeacherCheckpointError(f"Teacher ensemble {path}: its members predict different numbers of classes "
                                         f"({', '.join(f'{m.path}: {c}' for m, c in zip(self.members, classes))}).")
        sizes = [m.num_parameters for m in self.members]
        files = [(path, hashlib.sha256(path.read_bytes()).hexdigest())] + [f for m in self.members for f in m.files]
        super().__init__(path, files, classes[0], [], {"num_classes": classes[0]},
                         None if None in sizes else sum(sizes))

    def check_data(self, fingerprint: dict[str, Any]) -> None:
        for member in self.members:
            member.check_data(fingerprint)

    def spec(self) -> dict[str, Any]:
        return {"members": [{"path": str(m.path), "form": m.form, "model": m.spec()} for m in self.members]}

    @property
    def model_name(self) -> str:
        return f"ensemble of {', '.join(m.model_name for m in self.members)}"

    def outputs(self, data: Data, device: torch.device, use_cache: bool = True,
                batch_size: int | None = None, graph: str | None = None) -> ModelOutput:
        graph = graph or (graph_sha256(data) if use_cache else None)
        log_probs = torch.stack([m.outputs(data, device, use_cache, batch_size, graph).logits.log_softmax(-1)
                                 for m in self.members])
        return ModelOutput(torch.logsumexp(log_probs, 0) - math.log(len(self.members)), [])


def _read_spec(path: Path) -> dict[str, Any]:
    """A spec file (YAML or JSON) as a mapping: a module spec or an ensemble's list of members."""
    if not path.is_file():
        raise TeacherCheckpointError(f"Teacher spec not found: {path}. {_TEACHER_HINT}")
    try:
        text = path.read_text()
        if path.suffix.lower() == ".json":
            spec = json.loads(text)
        else:
            import yaml

            spec = yaml.safe_load(text)
    except Exception as err:  # noqa: BLE001 - malformed YAML/JSON: one line
        raise TeacherCheckpointError(f"Teacher spec {path} cannot be parsed ({type(err).__name__}: "
                                     f"{str(err).splitlines()[0][:160]}).") from None
    if not isinstance(spec, dict):
        raise TeacherCheckpointError(f"Teacher spec {path} must be a mapping (class_path, state_dict, ... for a "
                                     f"module; members for an ensemble); found a {type(spec).__name__}.")
    return spec


def _module_spec(path: Path, spec: dict[str, Any]) -> dict[str, Any]:
    allowed = {"class_path", "init_args", "state_dict", "hidden_layers", "num_classes"}
    if not {"class_path", "state_dict"} <= set(spec) or set(spec) - allowed:
        raise TeacherCheckpointError(
            f"Teacher spec {path} must be a mapping with class_path, state_dict and optional init_args, "
            f"hidden_layers, num_classes (or, for an ensemble, members only); found {sorted(spec)}.")
    spec.setdefault("init_args", {})
    spec.setdefault("hidden_layers", [])
    if not isinstance(spec["init_args"], dict) or not isinstance(spec["hidden_layers"], (list, dict)):
        raise TeacherCheckpointError(f"Teacher spec {path}: init_args must be a mapping and hidden_layers a list of "
                                     "submodule names (or a mapping name: width).")
    return spec


def _width(module: nn.Module) -> int | None:
    """A module's output width: its ``out_channels`` or ``out_features`` attribute."""
    for attr in ("out_channels", "out_features"):
        value = getattr(module, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _capture(store: dict[str, Tensor], name: str):
    def hook(module: nn.Module, args: Any, output: Any) -> None:
        store[name] = (output[0] if isinstance(output, (tuple, list)) else output).detach()

    return hook


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
