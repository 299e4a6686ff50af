"""The ``fit``/``validate``/``test``/``predict`` commands: LightningCLI with graphdistill's data links and
defaults (:mod:`graphdistill.cli` dispatches to it).

``graphdistill fit --config CONFIG`` trains, keeps the checkpoint of the best validation
epoch, then (unless ``--test_after_fit false``) tests that checkpoint and prints the test
score at the best validation epoch; the numbers also go to ``results.json`` in the run's
log folder.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

from jsonargparse import ActionConfigFile, DefaultHelpFormatter
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

from . import __version__
from .callbacks.predictions import PredictionWriter
from .callbacks.timing import EpochTimer
from .config_files import read_yaml, resolve_config_args
from .data import NodeDataModule
from .errors import ConfigError, ResumeError
from .models import count_parameters
from .provenance import code_provenance
from .training.checkpoint import (
    PRESENTATION,
    RunCheckpoint,
    SafeCheckpointIO,
    atomic_write,
    checkpoint_record,
    config_differences,
    flatten_config,
    read_checkpoint,
    run_identity,
)
from .training.plain import NodeClassificationModule


class _OneLineErrorParser(LightningArgumentParser):
    """Reports a bad command line or config in one line instead of the full usage text."""

    def error(self, message: str, ex: Exception | None = None):  # type: ignore[override]
        if not self.exit_on_error:  # jsonargparse is trying alternatives: let it handle the error
            super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        sys.stderr.write(f"graphdistill: error: {_one_line(message)} (see: "
                         f"{parser.prog.replace(' [options]', '')} --help)\n")
        raise SystemExit(2)


def _one_line(message: str) -> str:
    """jsonargparse's multi-line message as its first line plus the line that says what is
    wrong (for a class_path, the innermost problem, not the alternatives it also tried)."""
    noise = ("Expected a <class 'NoneType'>", "Given value", "Subtypes:", "Errors:", "Does not validate against any")
    lines = [line.strip().lstrip("- ").strip() for line in str(message).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(noise)]
    if not lines:
        return "invalid arguments"
    text, rest = lines[0], lines[1:]
    if any("class_path" in line for line in rest):
        inner = rest[-1]
        if len(rest) > 1 and rest[-2].startswith("Problem with given class_path"):
            inner = f"{rest[-2].rstrip(':')}: {inner}"
        return f"{text.rstrip(':')}: {inner}"
    markers = ("not accepted", "does not accept", "unrecognized", "required", "invalid", "expected")
    detail = next((line for line in rest if any(m in line.lower() for m in markers)), None)
    if detail and detail not in text:
        text = f"{text.rstrip(':')}: {detail}"
    return text


DESCRIPTION = """graphdistill: compress a graph neural network by knowledge distillation.

Train a large GNN (the teacher), distil it into a small GNN or graph-free MLP (the student),
and get test accuracy at the best validation epoch, checkpoints and results.json per run."""

EXAMPLES = """commands (each takes --help; see the README):
  compress  from a teacher to the best deployable student: search methods, select on validation, export
              graphdistill compress --out runs/compress --trials 12
  export    a checkpoint's network as ONNX or TorchScript
              graphdistill export runs/compress/student.ckpt --format onnx
  fit       train a model, test it at its best validation epoch
              graphdistill fit --config configs/synthetic/gcn.yaml --trainer.logger false
            or distil a teacher into a student with a method config
              graphdistill fit --config configs/synthetic/student_mlp.yaml --config configs/methods/kd.yaml \\
                  --model.init_args.teacher runs/synthetic/gcn/checkpoints/best.ckpt --trainer.logger false
  validate  score a checkpoint on the validation nodes
              graphdistill validate --config configs/synthetic/gcn.yaml --ckpt_path CKPT
  test      score a checkpoint on the test nodes
              graphdistill test --config configs/synthetic/gcn.yaml --ckpt_path CKPT
  predict   predict every node with a checkpoint, written to DIR/predictions.csv
              graphdistill predict --config configs/synthetic/gcn.yaml --ckpt_path CKPT --trainer.default_root_dir DIR
  grid      run a grid of datasets x students x methods x seeds, one table (graphdistill grid --help)
              graphdistill grid configs/experiments/synthetic_smoke.yaml
  paired    two grids' results paired by seed: a change judged against a committed grid
              graphdistill paired NEW.csv BASE.csv --out OUT
  latency   inference latency of a teacher and its students, with the speedup
              graphdistill latency --teacher T.ckpt --students S.ckpt --batch-size 10
  analyze   what each student kept of its teacher (CKA, structure) and its robustness
              graphdistill analyze --teacher T.ckpt --students S1.ckpt S2.ckpt

--config takes a path, or a config packaged with graphdistill by its place under configs/
(configs/cora/gcn.yaml works from any folder)."""


class _HelpFormatter(DefaultHelpFormatter):
    """jsonargparse's help, with the description and examples kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


class LoggedConfig(SaveConfigCallback):
    """Saves ``config.yaml`` in the run folder (Lightning's default) and also logs the whole
    config to a Weights & Biases logger, where one is configured."""

    def save_config(self, trainer, pl_module, stage: str) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_hyperparams(self.config.clone().as_dict())


#: warnings from Lightning's own code that say nothing about the user's run: a deprecation inside
#: Lightning (with torch >= 2.10), and the advice to pass the checkpoint callback that validate,
#: test and predict drop on purpose (:meth:`GraphDistillCLI._drop_checkpoint_callback`)
_LIGHTNING_NOISE = ("`isinstance(treespec, LeafSpec)` is deprecated",
                    "Be aware that when using `ckpt_path`, callbacks used to create the checkpoint")


class _NoAdvertisement(logging.Filter):
    """Drops Lightning's "💡 Tip" line, which advertises a cloud logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


def _quiet_lightning_noise() -> None:
    for message in _LIGHTNING_NOISE:
        warnings.filterwarnings("ignore", message=re.escape(message))
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _NoAdvertisement) for f in log.filters):
            log.addFilter(_NoAdvertisement())


class GraphDistillCLI(LightningCLI):
    """LightningCLI whose model input width and class count come from the data module."""

    def __init__(self, *args: Any, callbacks: list | None = None, **kwargs: Any) -> None:
        _quiet_lightning_noise()
        words = kwargs.get("args", sys.argv[1:])
        if isinstance(words, (list, tuple)):  # --config names a packaged config from any folder
            kwargs["args"] = resolve_config_args(list(words))
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("seed_everything_default", 0)
        kwargs.setdefault("trainer_defaults", {"max_epochs": 200, "log_every_n_steps": 1,
                                               "default_root_dir": "runs"})
        if callbacks:  # added to the config's callbacks (Python objects: a search's pruning callback)
            kwargs["trainer_defaults"] = {**kwargs["trainer_defaults"], "callbacks": list(callbacks)}
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("save_config_callback", LoggedConfig)
        kwargs.setdefault("parser_kwargs", {"description": DESCRIPTION, "epilog": EXAMPLES,
                                            "formatter_class": _HelpFormatter})
        with warnings.catch_warnings():
            # the words are the command line's with packaged config paths resolved, passed as `args`
            # on purpose; Lightning warns whenever `args` and sys.argv are both given
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
            super().__init__(NodeClassificationModule, NodeDataModule, *args, **kwargs)

    def setup_parser(self, add_subcommands: bool, main_kwargs: dict[str, Any],
                     subparser_kwargs: dict[str, Any]) -> None:
        super().setup_parser(add_subcommands, main_kwargs, subparser_kwargs)
        self.parser.add_argument("--version", action="version", version=f"graphdistill {__version__}")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        words = list(sys.argv[1:] if args is None else args) if not isinstance(args, dict) else []
        configs = _option_values(words, "--config", "-c")
        for path in configs:
            _check_yaml(path)
        if not configs:
            _require_config(words)
        super().parse_arguments(parser, args)

    def init_parser(self, **kwargs: Any) -> LightningArgumentParser:
        kwargs.setdefault("dump_header", [f"graphdistill=={__version__}"])
        parser = _OneLineErrorParser(**kwargs)
        parser.add_argument("-c", "--config", action=ActionConfigFile,
                            help="Path to a configuration file in json or yaml format.")
        return parser

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.num_features", "model.init_args.model.init_args.in_channels",
                              apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.model.init_args.out_channels",
                              apply_on="instantiate")
        parser.add_lightning_class_args(RunCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.monitor": "val/acc", "checkpoint.mode": "max",
                             "checkpoint.save_last": True, "checkpoint.filename": "best-{epoch}"})
        parser.link_arguments("data.metric_name", "checkpoint.monitor", compute_fn=lambda m: f"val/{m}",
                              apply_on="instantiate")
        parser.add_argument("--test_after_fit", type=bool, default=True,
                            help="After fit, test the best-validation checkpoint and print its score.")

    def instantiate_trainer(self, **kwargs: Any):
        trainer = super().instantiate_trainer(**kwargs)
        # every checkpoint is written atomically and never with a non-finite weight, and
        # every checkpoint given to the trainer (--ckpt_path) is read weights-only
        trainer.strategy.checkpoint_io = SafeCheckpointIO()
        return trainer

    # ------------------------------------------------------------------ before a run
    def before_fit(self) -> None:
        config = self.config[self.subcommand]
        if (self.trainer.max_epochs or 0) < 1 and (self.trainer.max_steps or -1) < 1:
            raise ConfigError(f"max_epochs must be >= 1, got {self.trainer.max_epochs}: a run must train at least one "
                              "epoch before it is tested.")
        _check_writable_folder(self.trainer.default_root_dir)
        identity = run_identity(config.as_dict())
        self.model.run_config = identity
        self.config_hash = run_identity(config.as_dict(), PRESENTATION)["hash"]
        ckpt_path = config.get("ckpt_path")
        if ckpt_path:
            self._check_resume(ckpt_path, identity)
        else:
            _refuse_existing_run(_checkpoint_folder(self.trainer))

    def _drop_checkpoint_callback(self) -> None:
        """Nothing is saved by ``validate``, ``test`` or ``predict``: restoring the run's checkpoint
        callback from the file would only warn that its folder changed."""
        self.trainer.callbacks = [c for c in self.trainer.callbacks if not isinstance(c, ModelCheckpoint)]

    def before_validate(self) -> None:
        self._drop_checkpoint_callback()

    def before_test(self) -> None:
        self._drop_checkpoint_callback()

    def before_predict(self) -> None:
        """``predict`` writes what it predicts, one row per node, to
        ``<trainer.default_root_dir>/predictions.csv`` (:class:`PredictionWriter`)."""
        self._drop_checkpoint_callback()
        self.predictions_path = Path(self.trainer.default_root_dir) / "predictions.csv"
        self.trainer.callbacks.append(PredictionWriter(self.predictions_path))

    def after_predict(self) -> None:
        if self.trainer.is_global_zero:
            print(f"Wrote {self.predictions_path}: one row per node, its prediction and probabilities.")

    def _parse_ckpt_path(self) -> None:
        """Read ``--ckpt_path`` once, weights-only, before anything runs: a missing, truncated
        or refused file is a one-line error (Lightning's own read would be a traceback)."""
        self.ckpt_record: dict[str, Any] | None = None
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if subcommand in ("validate", "test", "predict"):  # before the data and model are built
            _require_checkpoint_file(subcommand, ckpt_path)
        if ckpt_path and ckpt_path not in _LIGHTNING_CKPT_NAMES:
            role = "checkpoint (--ckpt_path)"
            checkpoint, _ = read_checkpoint(ckpt_path, role=role)
            self.ckpt_record = checkpoint_record(checkpoint, ckpt_path, role=role)
            if not checkpoint.get("hyper_parameters"):
                return  # all Lightning's own parse would read again (graphdistill modules save none)
        super()._parse_ckpt_path()

    def _check_resume(self, ckpt_path: str, identity: dict[str, Any]) -> None:
        """Refuse a resume whose config or data differ from the checkpoint's run, naming the
        keys, before anything is written (config.yaml included)."""
        record = self.ckpt_record
        if record is None:
            return  # one of Lightning's names ("last", ...): it finds the file in this run's folder
        saved = (record.get("config") or {}).get("values")
        if saved is None:
            raise ResumeError(f"Cannot resume from {ckpt_path}: it has no record of its run's config (written by an "
                              "older graphdistill), so a changed run could not be refused. Start a new run.")
        diffs = config_differences(saved, identity["values"])
        saved_data = flatten_config(record.get("data") or {})
        current_data = flatten_config(self.datamodule.fingerprint())
        if "graph" not in saved_data:  # written before the content hash was recorded
            current_data = {k: v for k, v in current_data.items() if k in saved_data}
        diffs += [f"data.{d}" for d in config_differences(saved_data, current_data)]
        if diffs:
            raise ResumeError(
                f"Refused to resume from {ckpt_path}: this run differs from the checkpoint's in "
                f"{'; '.join(diffs[:4])}{f' and {len(diffs) - 4} more' if len(diffs) > 4 else ''}. Resume with the "
                "same config (only max_epochs, logger, progress bar, callbacks, folders and lr may change), or start "
                "a new run in another folder.")

    # ------------------------------------------------------------------ after fit
    def after_fit(self) -> None:
        if not self.config_init[self.subcommand].get("test_after_fit", True):
            return
        trainer, model = self.trainer, self.model
        ckpt = trainer.checkpoint_callback
        best_path = getattr(ckpt, "best_model_path", "") or None
        results = trainer.test(model, datamodule=self.datamodule, ckpt_path=best_path, verbose=False)
        summary = summarize_run(trainer, model, results[0] if results else {})
        summary["config_hash"] = self.config_hash
        self.results = summary
        _log_results(trainer, summary)
        log_dir = trainer.log_dir  # a collective call under DDP: every rank must make it
        if trainer.is_global_zero:
            if best_path:  # a stable name for the best checkpoint (sweeps and scripts point at it)
                with open(best_path, "rb") as source:
                    atomic_write(Path(best_path).with_name("best.ckpt"), lambda f: shutil.copyfileobj(source, f))
            print(format_summary(summary), flush=True)
            if log_dir:
                path = Path(log_dir) / "results.json"
                atomic_write(path, lambda f: f.write(json.dumps(summary, indent=2).encode()))
                print(f"Results written to {path}", flush=True)


#: ``--ckpt_path`` values that Lightning resolves itself within the run's folder
_LIGHTNING_CKPT_NAMES = ("last", "best", "hpc", "registry")


def _require_checkpoint_file(subcommand: str, ckpt_path: str | None) -> None:
    """``validate``, ``test`` and ``predict`` read a trained model from a file: without
    ``--ckpt_path`` Lightning would score the freshly initialised model, and with one of its
    names (``last``, ...) it would search this process's new version folder, find nothing and
    do the same with only a warning."""
    if not ckpt_path:
        raise ConfigError(f"graphdistill {subcommand} runs a trained model: give --ckpt_path CKPT (a checkpoint "
                          "from graphdistill fit, such as checkpoints/best.ckpt in its run folder).")
    if ckpt_path in _LIGHTNING_CKPT_NAMES:
        raise ConfigError(f"graphdistill {subcommand} reads a checkpoint file, not Lightning's name '{ckpt_path}': "
                          f"give --ckpt_path PATH, such as checkpoints/{ckpt_path}.ckpt in the fit's run folder.")


def _option_values(words: list[str], *names: str) -> list[str]:
    """The values a command line gives an option, as ``NAME VALUE`` or ``NAME=VALUE`` (``""``
    for a name with nothing after it, which jsonargparse then reports)."""
    return [(words[i + 1] if i + 1 < len(words) else "") if word in names else word.split("=", 1)[1]
            for i, word in enumerate(words) if word in names or word.startswith(tuple(f"{n}=" for n in names))]


def _require_config(words: list[str]) -> None:
    """A command line with no ``--config`` (and no ``--model``): one line that says what
    to give, instead of jsonargparse's "required: predict.model". With ``--ckpt_path``
    (``validate``, ``test``, ``predict``, a resumed ``fit``) the checkpoint holds weights only
    (files from a user are data: no classes are built from it), so the command needs the config
    the run was trained with; the line names the ``config.yaml`` saved in the checkpoint's run
    folder, or the ``.yaml`` of the same name beside it (compress's ``student.yaml``), where there
    is one (it is not read on the user's behalf)."""
    subcommand = next((word for word in words if word in ("fit", "validate", "test", "predict")), None)
    if subcommand is None or any(w in ("--model", "--print_config", "-h", "--help") or
                                 w.startswith(("--model=", "--model.", "--print_config")) for w in words):
        return
    ckpt_path = next(iter(_option_values(words, "--ckpt_path")), None)
    if not ckpt_path:
        if subcommand == "fit":
            raise ConfigError("fit needs a model and data: give --config CONFIG, such as configs/cora/gcn.yaml "
                              "(graphdistill fit --help lists the options).")
        raise ConfigError(f"{subcommand} runs a trained model: give --config CONFIG (the config it was trained with) "
                          "and --ckpt_path CKPT (a checkpoint from graphdistill fit).")
    if ckpt_path in _LIGHTNING_CKPT_NAMES:  # Lightning's name for a file in the configured run's folder
        raise ConfigError(f"{subcommand} --ckpt_path {ckpt_path} needs the config of the run it names: add --config "
                          "CONFIG, the config that run was trained with.")
    ckpt = Path(ckpt_path).expanduser()
    # RUN/checkpoints/x.ckpt -> RUN/config.yaml (fit); DIR/student.ckpt -> DIR/student.yaml (compress)
    saved = next((p for p in (ckpt.parent.parent / "config.yaml", ckpt.with_suffix(".yaml")) if p.is_file()), None)
    found = saved is not None
    config = str(saved) if found else "CONFIG"
    raise ConfigError(f"{subcommand} needs the config {ckpt_path} was trained with (a checkpoint holds weights "
                      f"only): add --config {config}" + ("" if found else
                      " (fit saves it as config.yaml in the run folder)") + ".")


def _checkpoint_folder(trainer) -> Path:
    """Where the run's checkpoints go (as Lightning's ModelCheckpoint resolves it)."""
    ckpt = trainer.checkpoint_callback
    if getattr(ckpt, "dirpath", None):
        return Path(ckpt.dirpath)
    if trainer.loggers:
        logger = trainer.loggers[0]
        version = logger.version if isinstance(logger.version, str) else f"version_{logger.version}"
        return Path(logger.save_dir or trainer.default_root_dir, str(logger.name), version, "checkpoints")
    return Path(trainer.default_root_dir) / "checkpoints"


def _refuse_existing_run(folder: Path) -> None:
    """A new run never writes beside another run's checkpoints (Lightning would add
    ``last-v1.ckpt`` next to them, and the folder would mix two runs)."""
    existing = sorted(p.name for p in folder.glob("*.ckpt")) if folder.is_dir() else []
    if existing:
        last = folder / "last.ckpt"
        resume = f"resume it with --ckpt_path {last}, or " if last.is_file() else ""
        listed = ", ".join(existing[:3]) + (" ..." if len(existing) > 3 else "")
        raise ConfigError(f"{folder} already holds a run ({listed}): {resume}start a new run with another "
                          "--trainer.default_root_dir.")


def _check_writable_folder(folder: str | Path) -> None:
    path = Path(folder).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        writable = os.access(path, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        raise ConfigError(f"Cannot write the run folder {folder}: pass a writable --trainer.default_root_dir.")


def _check_yaml(path: str) -> None:
    """A config file that is not valid YAML, or a grid file given as a run's config: one line naming the
    file (and the line) and what to do."""
    if not Path(path).is_file():  # jsonargparse says that it does not exist
        return
    raw = read_yaml(path)
    if isinstance(raw, dict) and {"datasets", "students"} <= set(raw):
        raise ConfigError(f"{path} is a grid file (datasets:, students:), not a run's config: run it with "
                          f"graphdistill grid {path}.")


def summarize_run(trainer, module: NodeClassificationModule, test_metrics: dict[str, float]) -> dict[str, Any]:
    ckpt = trainer.checkpoint_callback
    metric = module.metric_name
    best_score = getattr(ckpt, "best_model_score", None)
    timers = [cb for cb in trainer.callbacks if isinstance(cb, EpochTimer)]
    teacher = getattr(module, "teacher", None)
    summary = {
        "dataset": (module.data_fingerprint or {}).get("dataset"),
        "split": (module.data_fingerprint or {}).get("split"),  # its seed, sizes and inductive share
        "model": type(module.model).__name__,
        "parameters": count_parameters(module.model),
        "metric": metric,
        "best_val": float(best_score) if best_score is not None else None,
        "best_checkpoint": getattr(ckpt, "best_model_path", None),
        "test": test_metrics.get(f"test/{metric}"),
        "command": " ".join(sys.argv),
        "code": code_provenance(),
    }
    source = (module.data_fingerprint or {}).get("source")
    if source:  # the user's graph file and its content hash: a run read back is checked against the file now
        summary["data_source"] = source
    for part in ("observed", "unseen"):  # the inductive setting's test nodes seen / hidden during training
        if f"test/{metric}_{part}" in test_metrics:
            summary[f"test_{part}"] = test_metrics[f"test/{metric}_{part}"]
    if teacher is not None:
        summary["teacher"] = {"path": str(teacher.path), "form": teacher.form, "sha256": teacher.sha256,
                              "parameters": teacher.num_parameters, "model": teacher.model_name,
                              **(module.teacher_scores() if hasattr(module, "teacher_scores") else {})}
    if timers:
        summary["timing"] = timers[0].summary()
    if hasattr(module, "run_summary"):  # modules with several models (online distillation) report each
        summary.update(module.run_summary())
    artifacts = {k: v for cb in trainer.callbacks if hasattr(cb, "artifacts") for k, v in cb.artifacts().items()}
    if artifacts:
        summary["artifacts"] = artifacts
    return summary


def _log_results(trainer, summary: dict[str, Any]) -> None:
    """The run's final numbers to every logger (``best/val``, ``best/test``, ``parameters``):
    what a sweep selects on; a wandb run also gets the whole summary, and is finished."""
    final = {k: float(v) for k, v in (("best/val", summary["best_val"]), ("best/test", summary["test"]),
                                      ("parameters", summary["parameters"])) if v is not None}
    for logger in trainer.loggers:
        logger.log_metrics(final)
        if isinstance(logger, WandbLogger):
            logger.experiment.summary.update({k: v for k, v in summary.items() if isinstance(v, (int, float, str))})
            logger.experiment.finish()  # one wandb run per fit, also when fits run in one process


def format_summary(summary: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.2f}%"

    online = summary.get("online")
    if online:
        lines = [f"student {k}: test {summary['metric']} {pct(s['test'])} at its best validation epoch {s['epoch']} "
                 f"(val {pct(s['val'])})" for k, s in enumerate(online["students"])]
        ensemble = online.get("ensemble") or {}
        lines.append(f"ensemble: test {pct(ensemble.get('test'))} (val {pct(ensemble.get('val'))}); mean student: "
                     f"test {pct(online['mean_student_test'])}")
        lines.append(f"best student (on validation): student {online['best_student']}, {summary['model']} on "
                     f"{summary['dataset']} ({summary['parameters']:,} parameters): test {summary['metric']} "
                     f"{pct(summary['test'])} (val {pct(summary['best_val'])})")
        return "\n".join(lines)
    return (f"{summary['model']} on {summary['dataset']} ({summary['parameters']:,} parameters): "
            f"test {summary['metric']} {pct(summary['test'])} at the best validation epoch "
            f"(val {pct(summary['best_val'])})")


class _Parsed(Exception):
    """Carries the run identity out of :func:`run_config_hash`'s parse."""


class _ParseOnlyCLI(GraphDistillCLI):
    def before_instantiate_classes(self) -> None:
        raise _Parsed(run_identity(self.config[self.subcommand].as_dict(), PRESENTATION)["hash"])


def run_config_hash(*args: str) -> str:
    """The config hash that ``graphdistill fit ARGS...`` would record in its checkpoints and
    ``results.json``, from parsing the arguments alone (nothing is built or trained)."""
    try:
        _ParseOnlyCLI(args=["fit", *args])
    except _Parsed as parsed:
        return str(parsed.args[0])
    raise AssertionError("the parse-only CLI did not stop before instantiating")  # pragma: no cover


def run_fit(*args: str, quiet: bool = True, callbacks: list | None = None) -> dict[str, Any]:
    """Run ``graphdistill fit ARGS...`` in-process and return its results (the
    ``results.json`` dict). Used by the experiments, benchmark scripts and tests, so that
    they exercise exactly the command users run. ``quiet`` turns off the progress bar and
    model summary; ``callbacks`` are added to the trainer's."""
    extra = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"] if quiet else []
    cli = GraphDistillCLI(args=["fit", *args, *extra], callbacks=callbacks)
    results = cli.results
    # The finished run's trainer, module, data and teacher outputs reference each other;
    # collect them now, not at some later pass of the cyclic GC: without this, a benchmark
    # running many fits in one process on Coauthor CS grew with every run.
    del cli
    gc.collect()
    return results

