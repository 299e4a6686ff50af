"""The ``graphdistill`` command: LightningCLI with graphdistill's data links and defaults.

``graphdistill fit --config CONFIG`` trains, keeps the checkpoint of the best validation
epoch, then (unless ``--test_after_fit false``) tests that checkpoint and prints the test
score at the best validation epoch; the numbers also go to ``results.json`` in the run's
log folder.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path
from typing import Any

from jsonargparse import ActionConfigFile
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

from . import __version__
from .data import NodeDataModule
from .errors import GraphDistillError
from .models import count_parameters
from .reporting.timing import EpochTimer
from .training.plain import NodeClassificationModule


class _OneLineErrorParser(LightningArgumentParser):
    """Reports a bad command line or config in one line instead of the full usage text."""

    def error(self, message: str, ex: Exception | None = None):  # type: ignore[override]
        if not self.exit_on_error:  # jsonargparse is trying alternatives: let it handle the error
            super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        lines = [line.strip() for line in str(message).splitlines() if line.strip()]
        markers = ("not accepted", "does not accept", "unrecognized", "required", "invalid", "expected")
        detail = next((line for line in lines[1:] if any(m in line.lower() for m in markers)), None)
        text = lines[0] if lines else "invalid arguments"
        if detail and detail not in text:
            text = f"{text.rstrip(':')}: {detail}"
        sys.stderr.write(f"graphdistill: error: {text} (see: {parser.prog.replace(' [options]', '')} --help)\n")
        raise SystemExit(2)


class LoggedConfig(SaveConfigCallback):
    """Saves ``config.yaml`` in the run folder (Lightning's default) and also logs the whole
    config to a Weights & Biases logger, where one is configured."""

    def save_config(self, trainer, pl_module, stage: str) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_hyperparams(self.config.clone().as_dict())


class GraphDistillCLI(LightningCLI):
    """LightningCLI whose model input width and class count come from the data module."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("seed_everything_default", 0)
        kwargs.setdefault("trainer_defaults", {"max_epochs": 200, "log_every_n_steps": 1,
                                               "default_root_dir": "runs"})
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("save_config_callback", LoggedConfig)
        super().__init__(NodeClassificationModule, NodeDataModule, *args, **kwargs)

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
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.monitor": "val/acc", "checkpoint.mode": "max",
                             "checkpoint.save_last": True, "checkpoint.filename": "best-{epoch}"})
        parser.link_arguments("data.metric_name", "checkpoint.monitor", compute_fn=lambda m: f"val/{m}",
                              apply_on="instantiate")
        parser.add_argument("--test_after_fit", type=bool, default=True,
                            help="After fit, test the best-validation checkpoint and print its score.")

    def after_fit(self) -> None:
        if not self.config_init[self.subcommand].get("test_after_fit", True):
            return
        trainer, model = self.trainer, self.model
        ckpt = trainer.checkpoint_callback
        best_path = getattr(ckpt, "best_model_path", "") or None
        results = trainer.test(model, datamodule=self.datamodule, ckpt_path=best_path, verbose=False)
        summary = summarize_run(trainer, model, results[0] if results else {})
        self.results = summary
        _log_results(trainer, summary)
        log_dir = trainer.log_dir  # a collective call under DDP: every rank must make it
        if trainer.is_global_zero:
            print(format_summary(summary), flush=True)
            if log_dir:
                path = Path(log_dir) / "results.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(summary, indent=2))
                print(f"Results written to {path}", flush=True)


def summarize_run(trainer, module: NodeClassificationModule, test_metrics: dict[str, float]) -> dict[str, Any]:
    ckpt = trainer.checkpoint_callback
    metric = module.metric_name
    best_score = getattr(ckpt, "best_model_score", None)
    timers = [cb for cb in trainer.callbacks if isinstance(cb, EpochTimer)]
    teacher = getattr(module, "teacher", None)
    summary = {
        "dataset": (module.data_fingerprint or {}).get("dataset"),
        "model": type(module.model).__name__,
        "parameters": count_parameters(module.model),
        "metric": metric,
        "best_val": float(best_score) if best_score is not None else None,
        "best_checkpoint": getattr(ckpt, "best_model_path", None),
        "test": test_metrics.get(f"test/{metric}"),
        "command": " ".join(sys.argv),
    }
    if teacher is not None:
        summary["teacher"] = {"path": str(teacher.path), "parameters": teacher.num_parameters,
                              "model": teacher.spec["class_path"].rsplit(".", 1)[-1]}
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


def main(args: list[str] | None = None) -> None:
    try:
        GraphDistillCLI(args=args)
    except Exception as err:
        user_error = _user_error(err)
        if user_error is None:
            raise
        print(f"graphdistill: error: {user_error}", file=sys.stderr)
        raise SystemExit(2) from None


def _user_error(err: BaseException) -> GraphDistillError | None:
    """The GraphDistillError behind ``err``, also when jsonargparse wrapped it while
    instantiating a class from the config."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, GraphDistillError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def run_fit(*args: str, quiet: bool = True) -> dict[str, Any]:
    """Run ``graphdistill fit ARGS...`` in-process and return its results (the
    ``results.json`` dict). Used by the benchmark scripts and tests, so that they exercise
    exactly the command users run. ``quiet`` turns off the progress bar and model summary."""
    extra = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"] if quiet else []
    cli = GraphDistillCLI(args=["fit", *args, *extra])
    results = cli.results
    # The finished run's trainer, module, data and teacher outputs reference each other;
    # collect them now, not at some later pass of the cyclic GC: without this, a benchmark
    # running many fits in one process on Coauthor CS grew with every run.
    del cli
    gc.collect()
    return results


if __name__ == "__main__":
    main()
