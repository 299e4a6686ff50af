"""``graphdistill compress``: from a teacher to the best deployable student, chosen on validation.

1. **Teacher**: the one given (``--teacher``: a checkpoint, an outputs file, a module spec or an ensemble),
   else the dataset's default teacher (``configs/<dataset>/gcn.yaml``) is trained first; on a
   graph with edge weights it reads them (GCN's ``edge_weight``), and so does a GCN or
   GraphSAGE student (unless its config sets ``edge_weight``; MLP and GAT students count every
   edge once or read none).
2. **Baseline**: the student trained alone; a teacher below it on validation is warned about
   (one line) before the search.
3. **Search** (Optuna, TPE sampler): each trial picks a method and that method's few
   sensitive settings from its search space (``configs/search/<method>.yaml``, dotted paths
   into ``configs/methods/<method>.yaml``), trains the student with it and scores it by its
   best validation accuracy; a trial whose validation accuracy falls behind the median of
   earlier trials of the same method at the same epoch is pruned (:class:`MedianPerMethodPruner`
   decides; :class:`PruneOnValidation`, a Lightning callback, reports and stops). The study
   lives in Optuna storage (``DIR/study.db`` by default, any URL with ``--storage``), so a
   killed search resumes without repeating finished trials, and several processes or
   machines can run trials of one study at once (``--search-only``).
4. **Selection on validation only**: the ``--rescore`` best trials (default 3) and the
   student alone are trained on ``--seeds`` seeds (the teacher's split is kept; seed 0 of a
   trial is the trial itself, read back); the trial with the best *mean* validation
   accuracy is chosen if it beats the student alone's mean, else the student alone (one
   seed's validation score is too noisy to choose on). The choice is reported by test
   accuracy at the best validation epoch, mean ± std over those seeds, beside the teacher.
5. **Outputs** in ``DIR``: ``student.ckpt`` (seed 0 of the chosen configuration, the student
   network's weights only: :func:`write_student_checkpoint`) and ``student.yaml`` (its run's
   config as the student's alone, :func:`student_only`, which ``validate`` / ``test`` /
   ``predict`` take with it: no teacher file needed),
   ``student.onnx`` / ``student.pt`` (ONNX checked in onnxruntime, TorchScript; for an MLP
   that reads position features, ``student.positions.npy``: the rows it reads; for a graph
   that names its classes, ``student.classes.json``: logit column ``k`` is the ``k``-th name),
   ``report.md`` and ``report.png`` (validation accuracy per trial and method; accuracy vs
   parameters and vs latency), ``chosen.yaml`` (the chosen method config). Latency: the
   student (PyTorch and the exported ONNX file in onnxruntime's CPU provider) and a
   checkpoint teacher on the CPU, and in PyTorch on the GPU too when one is present
   (:func:`latency_devices`).

"Accuracy" above is the dataset's metric: on a multi-label graph (ogbn-proteins, a file with
``[N, T]`` targets) the ROC-AUC averaged over tasks, which the report then names.

Every run keeps its ``results.json``; a finished run is read back when the same command runs
again (``fit_seeded(reuse=True)``: a stored run made with another config is refused).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import shutil
import statistics
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import yaml
from lightning.pytorch.callbacks import Callback

from ..config_files import CONFIG_DIR, resolve_config
from ..errors import ConfigError, GraphDistillError, GraphDistillWarning, user_error
from ..reporting.tables import markdown_table, mean_std, metric_words, run_header
from .runs import absolute_graph, config_folder, fit_seeded, quiet_output

STUDENTS = ("mlp", "gcn", "sage", "gat")
#: what fails one trial without stopping the search (a setting that diverges, say) ...
FAILED_TRIAL = (GraphDistillError, ValueError, RuntimeError)
#: ... unless this many fail in a row: then it is the setup, and the search stops with the reason
FAILURES_IN_A_ROW = 3
#: the data options that decide which nodes, labels and split a run sees (not how it loads them)
WHICH_DATA = ("dataset", "split", "split_seed", "train_per_class", "val_per_class", "inductive", "synthetic",
              "normalize_features", "undirected")
#: the option that makes a GCN (teacher or student config) read the graph's edge weights
READ_EDGE_WEIGHTS = "--model.init_args.model.init_args.edge_weight=true"
STUDENT_CLASSES = {"MLP": "mlp", "GCN": "gcn", "GraphSAGE": "sage", "GAT": "gat"}  # a student file's model


@dataclass
class SearchSpace:
    """One method's search space (``configs/search/<method>.yaml``)."""

    method: str
    uses: str  # logits | hidden layers | no teacher
    space: dict[str, dict[str, Any]]
    multilabel: bool = True
    #: the students the method fits (``students: [mlp]`` for position features); None: all
    students: list[str] | None = None
    #: whether the method needs full-graph training (``full_graph: true``: PropagatedKD)
    full_graph: bool = False

    @classmethod
    def load(cls, method: str) -> SearchSpace:
        path = CONFIG_DIR / "search" / f"{method}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in (CONFIG_DIR / "search").glob("*.yaml"))
            raise ConfigError(f"No search space for method {method!r} ({path}); methods with one: {', '.join(known)}.")
        raw = yaml.safe_load(path.read_text()) or {}
        space = raw.get("space") or {}
        for key, spec in space.items():
            if not isinstance(spec, dict) or not ({"low", "high"} <= set(spec) or "choices" in spec):
                raise ConfigError(f"{path}: {key} must be {{low, high[, log, int]}} or {{choices: [...]}}.")
        return cls(method, raw.get("uses", "logits"), space, bool(raw.get("multilabel", True)), raw.get("students"),
                   bool(raw.get("full_graph", False)))

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Values for this trial, by dotted path (Optuna parameter ``<method>:<path>``: one
        method's settings never share a distribution with another's)."""
        values = {}
        for key, spec in self.space.items():
            name = f"{self.method}:{key}"
            if "choices" in spec:
                values[key] = trial.suggest_categorical(name, spec["choices"])
            elif spec.get("int"):
                values[key] = trial.suggest_int(name, int(spec["low"]), int(spec["high"]), log=spec.get("log", False))
            else:
                values[key] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]),
                                                  log=spec.get("log", False))
        return values


def method_config(method: str, values: dict[str, Any]) -> dict[str, Any]:
    """``configs/methods/<method>.yaml`` with ``values`` set at their dotted paths (list
    entries by index: ``model.init_args.components.0.init_args.weight``)."""
    config = yaml.safe_load((CONFIG_DIR / "methods" / f"{method}.yaml").read_text())
    for key, value in values.items():
        node: Any = config
        parts = key.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[parts[-1]] = value
    return config


class MedianPerMethodPruner(optuna.pruners.BasePruner):
    """Optuna's median rule with each method judged against its own kind: a trial is pruned
    when its best validation accuracy so far is below the median of what the finished trials
    *of the same method* had at the same epoch, once ``startup`` of them have finished and
    after ``warmup`` epochs. Methods learn at different speeds (PropagatedKD's targets start
    far from the labels, so its early epochs trail plain KD's), and one median over every
    method would stop the slow starters before they catch up."""

    def __init__(self, startup: int = 3, warmup: int = 20) -> None:
        self.startup, self.warmup = startup, warmup

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.warmup:
            return False
        method = trial.params.get("method")
        finished = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                    if t.params.get("method") == method]
        at_step = [t.intermediate_values[step] for t in finished if step in t.intermediate_values]
        if len(finished) < self.startup or not at_step:
            return False
        best = max(trial.intermediate_values[s] for s in trial.intermediate_values if s <= step)
        return math.isnan(best) or best < statistics.median(at_step)


class PruneOnValidation(Callback):
    """Lightning callback: reports the validation metric to an Optuna trial after every
    validation epoch and stops the run when the trial's pruner says so, or when the search's
    time limit (``deadline``, a ``time.time()``) has passed (the objective then raises
    ``TrialPruned``: an unfinished trial never competes). A callback, not part of training:
    the fit runs as it would alone."""

    def __init__(self, trial: Any, monitor: str = "val/acc", deadline: float | None = None) -> None:
        self.trial, self.monitor, self.deadline, self.pruned = trial, monitor, deadline, False

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        self.trial.report(float(trainer.callback_metrics[self.monitor]), trainer.current_epoch)
        if self.trial.should_prune():
            self.pruned, trainer.should_stop = True, True
        elif self.deadline is not None and time.time() > self.deadline:
            self.trial.set_user_attr("stopped", "time limit")
            self.pruned, trainer.should_stop = True, True


@dataclass
class Compress:
    """The settings of one ``graphdistill compress`` (see the module docstring)."""

    out: Path
    data_args: list[str] = field(default_factory=list)
    teacher: str | None = None
    student: str = "mlp"
    methods: list[str] | None = None
    trials: int = 20
    timeout: float | None = None
    seeds: int = 3
    epochs: int | None = None
    storage: str | None = None
    search_only: bool = False
    export: bool = True
    rescore: int = 3

    def __post_init__(self) -> None:
        self.out = Path(self.out).expanduser().resolve()  # run folders and trial configs by absolute path
        if self.trials < 0 or self.seeds < 1 or self.rescore < 1:
            raise ConfigError("--trials must be >= 0, --seeds >= 1 and --rescore >= 1.")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"--epochs is every run's max epochs, >= 1 (leave it out for the configs'); got "
                              f"{self.epochs}.")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError(f"--timeout is the search's time limit in seconds, > 0; got {self.timeout:g}.")
        self.data_label = _data_label(self.data_args)  # what the report names: a file as given
        self.dataset = config_folder(self.data_label)  # which configs/<folder> gives the defaults
        self.student_weights: list[str] = []  # set by run(): a GCN or SAGE student's edge_weight
        for method in self.methods or []:  # a misspelt method: one line now, not after the teacher trained
            SearchSpace.load(method)

    # ------------------------------------------------------------------ configs
    def _config(self, name: str) -> Path:
        """``configs/<dataset>/<name>.yaml``, or the synthetic/Cora one with this data."""
        for folder in (self.dataset, "synthetic", "cora"):
            path = CONFIG_DIR / folder / f"{name}.yaml"
            if path.is_file():
                return path
        raise ConfigError(f"No config {name}.yaml for {self.dataset} (looked in configs/{self.dataset}, "
                          "configs/synthetic, configs/cora).")

    def student_config(self) -> Path:
        if self.student.endswith((".yaml", ".yml")):
            path = resolve_config(self.student)  # your file, or a packaged one as fit's --config finds it
            if not path.is_file():
                raise ConfigError(f"Student config {path} not found.")
            return path.resolve()
        if self.student not in STUDENTS:
            raise ConfigError(f"--student must be one of {', '.join(STUDENTS)} or a config file, got {self.student!r}.")
        return self._config(f"student_{self.student}")

    def student_spec(self) -> dict[str, Any]:
        """The student config file's contents (``{}`` when it is not a mapping)."""
        spec = yaml.safe_load(self.student_config().read_text())
        return spec if isinstance(spec, dict) else {}

    def student_model_spec(self) -> dict[str, Any]:
        """The student config's ``model.init_args.model`` (``{}`` where it has none)."""
        model = ((self.student_spec().get("model") or {}).get("init_args") or {}).get("model") or {}
        return model if isinstance(model, dict) else {}

    @property
    def student_kind(self) -> str | None:
        """``mlp``, ``gcn``, ``sage`` or ``gat``: the name given, or for a config file the built-in
        model its ``model.init_args.model.class_path`` names (None for any other model)."""
        if self.student in STUDENTS:
            return self.student
        name = str(self.student_model_spec().get("class_path", "")).rsplit(".", 1)[-1]
        return STUDENT_CLASSES.get(name)

    def common(self) -> list[str]:
        """Arguments every run gets: the data and the epoch budget. (Trials are tested at their best
        validation epoch too, a forward pass; only the validation score is read.)"""
        return [*self.data_args, *([f"--trainer.max_epochs={self.epochs}"] if self.epochs is not None else [])]

    def fit(self, configs: list[str | Path], workdir: Path, seed: int = 0, *extra: str,
            callbacks: list | None = None) -> dict[str, Any]:
        with quiet_output():
            return fit_seeded([str(c) for c in configs], seed, workdir, *self.common(), *extra,
                              reuse=True, vary_split=False, callbacks=callbacks)

    def fit_student(self, method: Path | None, workdir: Path, seed: int, *extra: str,
                    callbacks: list | None = None) -> dict[str, Any]:
        """A run of the student, alone (``method`` None) or with a method config."""
        configs = [self.student_config(), *([method] if method is not None else [])]
        return self.fit(configs, workdir, seed, *self.student_weights, *extra, callbacks=callbacks)

    def read_weights(self, graph: Any) -> None:
        """On a graph with edge weights a GCN or GraphSAGE student reads them, as the default teacher does
        (unless its config sets ``edge_weight`` itself)."""
        own = "edge_weight" in (self.student_model_spec().get("init_args") or {})
        if "edge_weight" in graph and self.student_kind in ("gcn", "sage") and not own:
            self.student_weights = [READ_EDGE_WEIGHTS]

    # ------------------------------------------------------------------ steps
    def teacher_path(self, graph: Any) -> str:
        """The teacher given, else the default teacher trained (or read back) on ``graph``'s data: on a graph with
        edge weights it reads them (GCN's edge_weight option)."""
        if self.teacher:
            return self.teacher
        done = self.out / "teacher" / "results.json"
        if self.search_only and not done.exists():
            raise ConfigError(f"--search-only needs the teacher: pass --teacher, or start the main compress process "
                              f"first (it trains the teacher into {self.out / 'teacher'}).")
        verb = "Reading back" if done.exists() else "Training"
        weighted = "edge_weight" in graph
        extra = [READ_EDGE_WEIGHTS] if weighted else []
        config = self._config("gcn")
        borrowed = config.parent.name != self.dataset or self.data_label != self.dataset  # another dataset's config
        whose = "'s settings, not tuned for this graph: pass --teacher to bring your own" if borrowed else ""
        _log(f"{verb} the teacher ({config.relative_to(CONFIG_DIR)}{whose}"
             + (", reading the graph's edge weights)" if weighted else ")"))
        result = self.fit([self._config("gcn")], self.out / "teacher", 0, *extra)
        return str(Path(result["best_checkpoint"]).resolve())

    def check_student_data(self) -> None:
        """Refuse, before the default teacher trains, a student config whose data section picks
        other data (dataset, split, ...) than the teacher's config: the teacher would train on one
        graph or split and the student on another. ``--data.<key>`` reaches both, so it settles it."""
        student = self.student_spec().get("data") or {}
        teacher_config = self._config("gcn")
        teacher = (yaml.safe_load(teacher_config.read_text()) or {}).get("data") or {}
        given = {arg[len("--data."):].split("=", 1)[0] for arg in _pairs(self.data_args)}
        for key in WHICH_DATA:
            if key in student and key not in given and student[key] != teacher.get(key):
                raise ConfigError(f"The student config {self.student} sets data.{key}: {student[key]} but the teacher "
                                  f"compress would train ({teacher_config.relative_to(CONFIG_DIR)}) has "
                                  f"{teacher.get(key, 'the default')}: pass --data.{key} {student[key]} so both train "
                                  "on the same data (with --data.root for a dataset), or --teacher.")

    def candidates(self, teacher: Any, multilabel: bool, sampled: bool = False) -> list[SearchSpace]:
        """The methods that fit this student, teacher and loader (``--methods``, default all
        with a space)."""
        names = self.methods or sorted(p.stem for p in (CONFIG_DIR / "search").glob("*.yaml"))
        spaces, skipped = [], []
        for name in names:
            space = SearchSpace.load(name)
            if space.uses == "hidden layers" and not teacher.hidden_widths:
                skipped.append(f"{name} (the teacher has no hidden layers)")
            elif multilabel and not space.multilabel:
                skipped.append(f"{name} (multi-label task)")
            elif space.students is not None and self.student_kind not in space.students:
                skipped.append(f"{name} ({'/'.join(space.students)} students only)")
            elif sampled and space.full_graph:
                skipped.append(f"{name} (full-graph training only)")
            else:
                spaces.append(space)
        if skipped:
            _log("Not searched: " + "; ".join(skipped))
        if not spaces:
            raise ConfigError("No method fits this student and teacher: pass --methods with logit methods (kd, "
                              "kd_standardized).")
        return spaces

    def study_name(self, teacher: str, spaces: list[SearchSpace]) -> str:
        identity = json.dumps({"data": self.data_args, "student": str(self.student_config()), "teacher": teacher,
                               "methods": [s.method for s in spaces], "epochs": self.epochs}, sort_keys=True)
        return f"compress-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"

    def search(self, teacher: str, spaces: list[SearchSpace]) -> Any:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        trial_log = logging.getLogger("optuna.study._optimize")  # where Optuna reports a failed trial
        if not any(isinstance(f, _FailedTrialWarnings) for f in trial_log.filters):
            trial_log.addFilter(_FailedTrialWarnings())
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        self.out.mkdir(parents=True, exist_ok=True)
        url = self.storage or f"sqlite:///{(self.out / 'study.db').resolve()}"
        for attempt in range(10):  # processes starting together race to create the tables and the study
            try:
                storage = optuna.storages.RDBStorage(url, heartbeat_interval=30, grace_period=90,
                                                     engine_kwargs={"connect_args": {"timeout": 60}}
                                                     if url.startswith("sqlite") else {})
                study = optuna.create_study(study_name=self.study_name(teacher, spaces), storage=storage,
                                            direction="maximize", load_if_exists=True,
                                            sampler=optuna.samplers.TPESampler(
                                                seed=os.getpid() if self.search_only else 0),
                                            pruner=MedianPerMethodPruner(startup=3, warmup=20))
                break
            except Exception as err:  # noqa: BLE001 - sqlalchemy's errors of a lost race: try again
                if attempt == 9 or "sqlalchemy" not in type(err).__module__ + str(type(err).__mro__):
                    raise
                time.sleep(0.5 + random.random())
        counted = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        deadline = time.time() + self.timeout if self.timeout is not None else None
        by_name = {s.method: s for s in spaces}

        def objective(trial: Any) -> float:
            space = by_name[trial.suggest_categorical("method", sorted(by_name))]
            values = space.suggest(trial)
            folder = self.out / "trials" / f"{trial.number:04d}-{space.method}"
            folder.mkdir(parents=True, exist_ok=True)
            config = folder / "method.yaml"
            config.write_text(yaml.safe_dump(method_config(space.method, values), sort_keys=False))
            extra = [] if space.uses == "no teacher" else [f"--model.init_args.teacher={teacher}"]
            prune = PruneOnValidation(trial, deadline=deadline)
            try:
                result = self.fit_student(config, folder / "run", 0, *extra, callbacks=[prune])
            except FAILED_TRIAL as err:  # the trial fails (Optuna records it) and the search goes on
                failures.append(_reason(err))
                raise
            failures.clear()
            trial.set_user_attr("config", str(config))
            trial.set_user_attr("parameters", result.get("parameters"))
            if prune.pruned:
                raise optuna.TrialPruned()
            return float(result["best_val"])

        failures: list[str] = []  # why the trials failed, the latest ones in a row

        def stop_when_failing(study: Any, trial: Any) -> None:
            if len(failures) >= FAILURES_IN_A_ROW:
                study.stop()

        done = sum(t.state in counted for t in study.trials)
        if done < self.trials:
            _log(f"Searching {', '.join(sorted(by_name))}: {_count(self.trials, 'trial')} (study {study.study_name}, "
                 f"{done} done)")
            callback = optuna.study.MaxTrialsCallback(self.trials, states=counted)
            progress = _progress(self.trials, max(map(len, by_name)), failures)
            study.optimize(objective, timeout=self.timeout, callbacks=[callback, progress, stop_when_failing],
                           catch=FAILED_TRIAL, gc_after_trial=True)
        if len(failures) >= FAILURES_IN_A_ROW:  # a setup error, not an unlucky setting: every trial would fail
            raise ConfigError(f"The search stopped after {len(failures)} trials in a row failed: {failures[-1]}")
        return study

    def run(self) -> dict[str, Any]:
        """The whole flow; returns the summary written to ``DIR/summary.json``."""
        from ..training.teacher import load_teacher

        started = time.time()
        if not self.teacher:
            self.check_student_data()  # before any data is read: the teacher's and the student's must agree
        datamodule = _datamodule(self.data_args, self.student_config())
        teacher_path = self.teacher_path(datamodule.data)  # the graph read once, for the teacher and the runs
        self.read_weights(datamodule.data)
        teacher = load_teacher(teacher_path)
        teacher.check_data(datamodule.fingerprint())  # a teacher of other data fails here, not in every trial
        spaces = self.candidates(teacher, datamodule.multilabel, datamodule.sampled)
        if self.search_only:
            self.search(teacher_path, spaces)
            return {}
        verb = "Reading back" if (self.out / "alone" / "seed0" / "results.json").exists() else "Training"
        _log(f"{verb} the student alone (the baseline)")
        alone0 = self.fit_student(None, self.out / "alone" / "seed0", 0)
        teacher_val, teacher_test = _teacher_scores(teacher, datamodule.data)
        if teacher_val < alone0["best_val"]:  # said before the search, the long part, so that it can be stopped
            long = metric_words([datamodule.metric_name])[1]
            warnings.warn(f"the teacher's validation {long} is {100 * teacher_val:.2f} %, below the student alone's "
                          f"{100 * alone0['best_val']:.2f} %: distillation from it is unlikely to help. Check that the "
                          "teacher was trained on this graph and split, or expect the student alone.",
                          GraphDistillWarning, stacklevel=2)
        study = self.search(teacher_path, spaces)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        _log(f"Scoring the student alone and the {min(self.rescore, len(complete))} best trials over "
             f"{_count(self.seeds, 'seed')}")
        alone = [alone0] + [self.fit_student(None, self.out / "alone" / f"seed{s}", s) for s in range(1, self.seeds)]
        rescored = self.rescored(teacher_path, complete)
        best = max(rescored, key=lambda c: c["val_mean"]) if rescored else None
        alone_val = _stats(alone)["val_mean"]
        chosen_name, chosen_config, final = "alone", None, alone
        if best is not None and best["val_mean"] > alone_val:
            chosen_name, chosen_config, final = best["method"], Path(best["config"]), best["runs"]
            shutil.copyfile(chosen_config, self.out / "chosen.yaml")
            _log(f"Chosen on validation: {chosen_name} (trial {best['trial']}, mean val {100 * best['val_mean']:.2f} % "
                 f"over {_count(self.seeds, 'seed')} vs {100 * alone_val:.2f} % alone)")
        else:
            _log("No method beats the student alone on validation: the student alone is returned.")
        data = datamodule.data
        student_ckpt = self.out / "student.ckpt"
        # its run's config, which validate / test / predict take beside the checkpoint; they write into DIR
        run_config = yaml.safe_load((Path(final[0]["best_checkpoint"]).parent.parent / "config.yaml").read_text())
        if (run_config.get("model") or {}).get("class_path", "").endswith(".DistillationModule"):
            # the student network alone: predicting with it needs neither the teacher file nor the method
            run_config = student_only(run_config)
            write_student_checkpoint(final[0]["best_checkpoint"], student_ckpt)
        else:
            shutil.copyfile(final[0]["best_checkpoint"], student_ckpt)
        run_config.setdefault("trainer", {})["default_root_dir"] = str(self.out.resolve())
        data_config = run_config.get("data") or {}  # paths made absolute, so that it works from any folder
        if isinstance(data_config.get("dataset"), str):
            data_config["dataset"] = absolute_graph(data_config["dataset"], Path.cwd())  # a built-in name stays
        if isinstance(data_config.get("root"), str) and Path(data_config["root"]).expanduser().exists():
            data_config["root"] = str(Path(data_config["root"]).expanduser().resolve())
        (self.out / "student.yaml").write_text(yaml.safe_dump(run_config, sort_keys=False))
        # the student's inputs: a method may add to the data (position features); reloaded only then
        adds_data = chosen_config is not None and (yaml.safe_load(chosen_config.read_text()) or {}).get("data")
        student_data = _datamodule(self.data_args, self.student_config(), chosen_config).data if adds_data else data
        exports = self._export(student_ckpt, student_data) if self.export else {}
        teacher_latency: dict[str, float] = {}
        if self.export and teacher.form == "checkpoint":
            from ..evaluation.latency import inference_latency

            teacher_latency = {f"full_ms{_device_suffix(d)}": inference_latency(teacher.model, data, d)["full_ms"]
                               for d in latency_devices()}
            teacher.model.cpu()
        summary = {"dataset": self.data_label, "metric": datamodule.metric_name,
                   "teacher": {"path": teacher_path, "form": teacher.form, "parameters": teacher.num_parameters,
                               "val": teacher_val, "test": teacher_test, "full_ms": None, **teacher_latency},
                   "alone": _stats(alone), "chosen": {"method": chosen_name, **_stats(final),
                                                       "config": str(chosen_config) if chosen_config else None},
                   "trials": _trials(study),
                   "rescored": [{k: v for k, v in c.items() if k != "runs"} for c in rescored],
                   "exports": exports, "student_checkpoint": str(student_ckpt),
                   "student_config": str(self.out / "student.yaml"),
                   "seconds": round(time.time() - started, 1)}
        (self.out / "summary.json").write_text(json.dumps(summary, indent=1))
        write_report(summary, self.out)
        return summary

    def rescored(self, teacher: str, complete: list[Any]) -> list[dict[str, Any]]:
        """The ``rescore`` best complete trials, each trained on every seed (seed 0 is the trial's
        own run, read back; no run is trained twice), with their mean validation accuracy:
        one seed's validation score is noisy, so the choice reads the mean over seeds."""
        out = []
        for trial in sorted(complete, key=lambda t: t.value, reverse=True)[:self.rescore]:
            config = Path(trial.user_attrs["config"])
            method = trial.params["method"]
            extra = [] if SearchSpace.load(method).uses == "no teacher" else [f"--model.init_args.teacher={teacher}"]
            runs = [self.fit_student(config, config.parent / ("run" if s == 0 else f"seed{s}"), s, *extra)
                    for s in range(self.seeds)]
            out.append({"trial": trial.number, "method": method, "config": str(config), **_stats(runs),
                        "runs": runs})
        return out

    def _export(self, ckpt: Path, data: Any) -> dict[str, Any]:
        """The chosen student as ``student.onnx`` and ``student.pt`` (with ``student.positions.npy`` where it reads
        position features), and its latency in PyTorch and in onnxruntime: the checkpoint read once."""
        from ..evaluation.latency import inference_latency
        from ..export import export_student, onnx_latency, write_class_names, write_positions
        from ..training.checkpoint import load_model

        exports: dict[str, Any] = {}
        loaded = load_model(ckpt, role="checkpoint to export")
        model = loaded.model
        for device in latency_devices():
            exports[f"pytorch_latency{_device_suffix(device)}"] = inference_latency(model, data, device)
        model.cpu()
        for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
            try:
                exports[fmt] = export_student(model, self.out / f"student{suffix}", fmt, data)
            except GraphDistillError as err:
                exports[fmt] = {"error": str(err)}
                _log(f"Not exported to {fmt}: {err}")
        exported = [f for f in ("onnx", "torchscript") if "path" in exports[f]]
        if exported and getattr(model, "position_channels", 0):
            positions = str(write_positions(exports[exported[0]]["path"], data))  # one file beside both
            for fmt in exported:
                exports[fmt]["positions"] = positions
        classes = write_class_names(exports[exported[0]]["path"], loaded.record) if exported else None
        if classes:  # a graph that names its classes: one file beside both
            for fmt in exported:
                exports[fmt]["classes"] = str(classes)
        if "path" in exports["onnx"]:
            exports["onnx"]["latency"] = onnx_latency(exports["onnx"]["path"], model, data)
        return exports


# ---------------------------------------------------------------------------- helpers
def _count(n: int, noun: str) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def latency_devices() -> list[str]:
    """Where compress times inference: the CPU, and the GPU when one is present."""
    import torch

    return ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


def _device_suffix(device: str) -> str:
    """How a latency key names the device: nothing for the CPU, ``_gpu`` for the GPU."""
    return "" if device == "cpu" else "_gpu"


def _data_label(data_args: list[str]) -> str:
    """``--data.dataset`` as given (a built-in name or the user's file), ``synthetic`` without it."""
    value = "synthetic"
    for i, arg in enumerate(data_args):
        if arg.startswith("--data.dataset="):
            value = arg.split("=", 1)[1]
        elif arg == "--data.dataset" and i + 1 < len(data_args):
            value = data_args[i + 1]
    return value


def _datamodule(data_args: list[str], *configs: Path) -> Any:
    """The data module the runs use: the configs' data sections (the student's, then a method's,
    such as the position features of ``glnn_positions``), in order, with ``data_args``."""
    from jsonargparse import ArgumentParser

    from ..data import NodeDataModule

    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(NodeDataModule, "data")
    for path in configs:
        config = yaml.safe_load(Path(path).read_text()) or {}
        parser.set_defaults({f"data.{k}": v for k, v in (config.get("data") or {}).items()})
    try:
        parsed = parser.parse_args(_pairs(data_args))
    except Exception as err:  # noqa: BLE001 - jsonargparse's parse error: one line
        raise ConfigError(f"Data arguments {' '.join(_pairs(data_args))}: {str(err).splitlines()[0]}") from None
    return parser.instantiate_classes(parsed).data


def _pairs(args: list[str]) -> list[str]:
    """``--data.k v`` and ``--data.k=v`` arguments as ``--data.k=v`` (the others dropped)."""
    out, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--data.") and "=" not in arg and i + 1 < len(args):
            out.append(f"{arg}={args[i + 1]}")
            i += 2
            continue
        if arg.startswith("--data."):
            out.append(arg)
        i += 1
    return out


def _teacher_scores(teacher: Any, data: Any) -> tuple[float, float]:
    """The teacher's validation and test scores on the student's split (any teacher form)."""
    import torch

    from ..data.metrics import split_scores

    scores = split_scores(teacher.outputs(data, torch.device("cpu")).logits, data)
    return scores.get("val", float("nan")), scores.get("test", float("nan"))  # nan: the split has none


def student_only(run_config: dict[str, Any]) -> dict[str, Any]:
    """A distillation run's config as the student network's alone (``NodeClassificationModule``
    with the run's student model, data and trainer): what ``validate`` / ``test`` / ``predict``
    need, without the teacher file or the method's components."""
    module = (run_config.get("model") or {}).get("init_args") or {}
    return {**run_config, "model": {"class_path": "graphdistill.training.NodeClassificationModule",
                                    "init_args": {"model": module["model"]}}}


def write_student_checkpoint(source: str | Path, target: Path) -> None:
    """The student network of ``source`` (a distillation run's checkpoint, read by the one
    reader) as a checkpoint of its own (:func:`single_model_checkpoint`: its weights only, no
    teacher-side heads or discriminators, no optimizer states), written atomically; its
    graphdistill record (model, data, the run's config, the teacher's SHA-256) stays for
    provenance. It loads into :func:`student_only`'s config."""
    from ..training.checkpoint import atomic_save, load_model, single_model_checkpoint

    loaded = load_model(source, role="chosen student's checkpoint")
    atomic_save(single_model_checkpoint(loaded.model, loaded.record), target)


def _stats(results: list[dict[str, Any]]) -> dict[str, Any]:
    test, val = mean_std([r["test"] for r in results]), mean_std([r["best_val"] for r in results])
    return {"test_mean": test.mean, "test_std": test.std, "val_mean": val.mean, "seeds": test.n,
            "tests": [r["test"] for r in results], "parameters": results[0]["parameters"],
            "model": results[0]["model"]}


def _trials(study: Any) -> list[dict[str, Any]]:
    return [{"number": t.number, "state": t.state.name, "method": t.params.get("method"), "value": t.value,
             "params": {k: v for k, v in t.params.items() if k != "method"}} for t in study.trials]


def write_report(summary: dict[str, Any], out: Path) -> Path:
    """``report.md`` (the comparison table, the trials, the exports) and ``report.png``."""
    teacher, alone, chosen = summary["teacher"], summary["alone"], summary["chosen"]
    exports = summary["exports"]
    # one seed has no spread to show
    pct = (lambda m, s: f"{100 * m:.2f}" + (f" ± {100 * s:.2f}" if chosen["seeds"] > 1 else ""))  # noqa: E731
    rows = [["teacher", teacher["form"], f"{teacher['parameters']:,}" if teacher["parameters"] else "-",
             f"{100 * teacher['test']:.2f}", f"{100 * teacher['val']:.2f}" if "val" in teacher else "-"],
            [f"{alone['model']} alone", "-", f"{alone['parameters']:,}", pct(alone["test_mean"], alone["test_std"]),
             f"{100 * alone['val_mean']:.2f}"]]
    if chosen["method"] != "alone":
        rows.append([f"{chosen['model']} + {chosen['method']} (chosen)", "-", f"{chosen['parameters']:,}",
                     pct(chosen["test_mean"], chosen["test_std"]), f"{100 * chosen['val_mean']:.2f}"])
    if chosen.get("config"):
        why = f"`{chosen['config']}`"
    elif any(t["value"] is not None for t in summary["trials"]):
        why = "no method beat the student alone"
    else:
        why = "no trial finished: `--trials 0`, or the search stopped before one finished"
    short, long = metric_words([summary.get("metric", "acc")])
    lines = [run_header(f"graphdistill compress: {summary['dataset']}"),
             markdown_table(["model", "teacher form", "parameters",
                             f"test {short} % ({_count(chosen['seeds'], 'seed')})", f"val {short} %"], rows), "",
             f"Chosen on validation: **{chosen['method']}** ({why}).",
             f"Test {long} at the best validation epoch, mean ± std over seeds; the teacher's split is kept.", ""]
    latency = exports.get("pytorch_latency")
    if latency:
        lines.append(f"Student inference on the full graph (CPU): PyTorch {latency['full_ms']:.2f} ms"
                     + (f", ONNX Runtime {exports['onnx']['latency']['full_ms']:.2f} ms"
                        if "latency" in exports.get("onnx", {}) else "")
                     + (f"; teacher {teacher['full_ms']:.2f} ms" if teacher.get("full_ms") else "") + ".")
    gpu = exports.get("pytorch_latency_gpu")
    if gpu:
        lines.append(f"Student inference on the full graph (GPU): PyTorch {gpu['full_ms']:.2f} ms"
                     + (f"; teacher {teacher['full_ms_gpu']:.2f} ms" if teacher.get("full_ms_gpu") else "") + ".")
    for fmt in ("onnx", "torchscript"):
        if fmt in exports:
            e = exports[fmt]
            lines.append(f"- {fmt}: " + (f"`{e['path']}` (same predictions as PyTorch: {e['same_predictions']}, "
                                         f"largest logit difference {e['max_abs_diff']:.1e})" if "path" in e
                                         else e["error"]))
    positions = next((exports[f]["positions"] for f in ("onnx", "torchscript") if "positions" in exports.get(f, {})),
                     None)
    if positions:
        lines.append(f"- position features: `{positions}`, the rows the exported student reads after each node's "
                     "features (a node not in the graph: the mean of its neighbours' rows)")
    classes = next((exports[f]["classes"] for f in ("onnx", "torchscript") if "classes" in exports.get(f, {})), None)
    if classes:
        lines.append(f"- class names: `{classes}`, logit column k is the k-th name")
    rescored = summary.get("rescored") or []
    if rescored:
        lines += ["", f"## The best trials over {_count(chosen['seeds'], 'seed')} (the choice reads the mean)", "",
                  markdown_table(["trial", "method", f"mean val {short} %"],
                                 [[c["trial"], c["method"], f"{100 * c['val_mean']:.2f}"] for c in rescored])]
    trials = summary["trials"]
    lines += ["", f"## Trials ({len(trials)})", "",
              markdown_table(["trial", "method", "state", f"val {short} %", "settings"],
                             [[t["number"], t["method"], t["state"],
                               "-" if t["value"] is None else f"{100 * t['value']:.2f}",
                               ", ".join(f"{k.split(':', 1)[-1]}={v:.3g}" if isinstance(v, float) else
                                         f"{k.split(':', 1)[-1]}={v}" for k, v in t["params"].items())]
                              for t in trials])]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    _plot(summary, out / "report.png")
    return path


def _plot(summary: dict[str, Any], path: Path) -> None:
    """Validation accuracy per trial and method; test accuracy vs parameters and vs latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    long = metric_words([summary.get("metric", "acc")])[1]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    methods = sorted({t["method"] for t in summary["trials"] if t["method"]})
    colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(methods)}
    for method in methods:
        points = [t for t in summary["trials"] if t["method"] == method and t["value"] is not None]
        ax.scatter([t["number"] for t in points], [100 * t["value"] for t in points], label=method,
                   color=colours[method], s=24, marker="os^"[min(methods.index(method) // 10, 2)])
    low = ax.get_ylim()[0]
    for method in methods:
        pruned = [t["number"] for t in summary["trials"] if t["method"] == method and t["state"] == "PRUNED"]
        ax.scatter(pruned, [low] * len(pruned), marker="x", color=colours[method], s=18)
    ax.axhline(100 * summary["alone"]["val_mean"], color="gray", ls="--", label="student alone")
    ax.set_xlabel("trial (x at the bottom: pruned)")
    ax.set_ylabel(f"validation {long} (%)")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    teacher, alone, chosen, exports = summary["teacher"], summary["alone"], summary["chosen"], summary["exports"]
    student = chosen if chosen["method"] != "alone" else alone
    name = f"{student['model']} + {chosen['method']}" if chosen["method"] != "alone" else f"{student['model']} alone"
    sizes = [("student alone", alone["parameters"], alone), (name, student["parameters"], student)]
    if teacher["parameters"]:
        sizes.append(("teacher", teacher["parameters"], {"test_mean": teacher["test"], "test_std": 0.0}))
    for label, params, stats in sizes:
        axes[1].errorbar(params, 100 * stats["test_mean"], yerr=100 * stats["test_std"], fmt="o", capsize=3,
                         label=label)
    speeds = []
    if exports.get("pytorch_latency"):
        speeds.append((f"{name} (PyTorch)", exports["pytorch_latency"]["full_ms"], student))
    if "latency" in exports.get("onnx", {}):
        speeds.append((f"{name} (ONNX Runtime)", exports["onnx"]["latency"]["full_ms"], student))
    if teacher.get("full_ms"):
        speeds.append(("teacher (PyTorch)", teacher["full_ms"], {"test_mean": teacher["test"], "test_std": 0.0}))
    for label, ms, stats in speeds:
        axes[2].errorbar(ms, 100 * stats["test_mean"], yerr=100 * stats["test_std"], fmt="o", capsize=3,
                         label=label)
    for ax, xlabel in ((axes[1], "parameters"), (axes[2], "full-graph inference, CPU (ms)")):
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"test {long} (%)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
    fig.suptitle(f"graphdistill compress on {summary['dataset']} "
                 f"(test: mean ± std over {_count(student['seeds'], 'seed')})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class _FailedTrialWarnings(logging.Filter):
    """Drops Optuna's warnings for a failed trial (its parameters and the whole exception): the
    progress line says why the trial failed, in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return " failed with " not in record.getMessage()


def _progress(total: int, width: int, failures: list[str] | None = None):
    """Optuna callback: one line per finished trial (trials done / best so far), the method
    names padded to ``width`` (the longest searched) so the columns line up; a failed trial's
    line ends with why it failed (the latest of ``failures``)."""
    def report(study: Any, trial: Any) -> None:
        done = [t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                        optuna.trial.TrialState.PRUNED)]
        best = study.best_value if any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) else None
        value = "-" if trial.value is None else f"{100 * trial.value:.2f}"
        why = f"   ({failures[-1]})" if failures and trial.state == optuna.trial.TrialState.FAIL else ""
        _log(f"  trial {len(done)}/{total}: {trial.params.get('method', '?'):<{width}} {trial.state.name.lower():<8} "
             f"val {value:>6}   best {'-' if best is None else f'{100 * best:.2f}'}{why}")

    return report


def _reason(err: BaseException) -> str:
    """One line saying why a trial failed: the graphdistill error behind it (:func:`user_error`;
    jsonargparse wraps a teacher/student mismatch in a ValueError), else the error's first line."""
    return (str(user_error(err) or err).strip().splitlines() or [type(err).__name__])[0]


def _log(message: str) -> None:
    print(message, flush=True)

