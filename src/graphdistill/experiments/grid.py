"""The experiment runner: a grid of datasets × students × methods × seeds, one table.

A grid file (YAML) names the packaged configs (:data:`~graphdistill.config_files.CONFIG_DIR`)
by their place under ``configs/``, or your own config files by path (ending in ``.yaml``,
relative to the grid file)::

    datasets: [cora, citeseer]     # configs/<dataset>/..., or your graph: [data/my_graph.pt]
    teacher: gcn                   # configs/<dataset>/<teacher>.yaml, or one per dataset:
                                   #   teacher: {cora: gcnii, citeseer: gcnii}
                                   # or an ensemble: [grand, sage] (per dataset too)
    students: [mlp, gcn]           # configs/<dataset>/student_<student>.yaml
    methods: [kd, kd_gcrd]         # configs/methods/<method>.yaml ("alone" is always run)
    student_methods: {}            # some students with only some methods, e.g. {mlp: [kd]} (default: all)
    seeds: 5
    extra: []                      # more CLI arguments for every run
    compare: []                    # methods set against the best of `against` on validation (paired by seed)
    against: []                    # the baselines of `compare` (default: every other method)

Run it with ``graphdistill grid GRID.yaml`` (``configs/experiments/`` holds the committed
grids).

A ``datasets`` entry that is not a built-in name is the path of your own graph (a ``.pt``,
``.npz`` or a folder of node and edge tables, as ``--data.dataset`` takes; relative to the
grid file). Its runs read the file; its configs default to the synthetic graph's
(``configs/synthetic/``), as ``graphdistill compress`` does for a file. The tables and plots
name the file; its run folder is the file's stem with a hash of its path (``my_graph-1a2b3c4d``).

An ensemble teacher (a list of teacher configs) trains each member once per dataset and seed
(run folders ``teacher_<member>``) and gives the students their mean class probabilities
(``teacher_ensemble.yaml`` in the seed's folder, see :class:`~graphdistill.training.teacher.EnsembleTeacher`;
logit methods only). Its row in the table is the ensemble itself, scored on each seed's split by
the students' runs (test, validation), its size and latency its members' added up, with each member's
own row below it; the similarity table skips its dataset (it needs one teacher network), and the
inductive setting is refused (a hidden test node has no teacher outputs to score).

For each dataset and seed the teacher trains once; each student then trains alone and with
each method, on the same seed and split (``seed_args``). Methods whose module takes no
teacher (OAD) get none. Every finished run leaves ``results.json`` in its folder and is
never redone; an interrupted one resumes from its ``last.ckpt``. The table gives, per
model and method, test accuracy at the best validation epoch (mean ± std over seeds) beside
the mean best validation accuracy (what choosing among methods may read), parameters,
compression (teacher parameters / student parameters), Δ vs the student alone
and vs the teacher, and inference latency (full graph and a 1,024-node batch, measured
once per architecture on the seed-0 checkpoint, see
:func:`~graphdistill.evaluation.latency.inference_latency`) with the speedup over the
teacher. Written as Markdown and CSV, plus one accuracy-vs-parameters and
accuracy-vs-latency plot (PNG) per dataset, and a companion table of similarity to the
teacher and robustness (:func:`write_analysis`). With ``compare``, a second table sets each
compared method against the best ``against`` baseline of each dataset and student (the
highest mean validation accuracy), the difference paired by seed (same teacher, split and seed), with a bar
plot of every method (:func:`write_comparison`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ..config_files import read_yaml
from ..data import dataset_info
from ..errors import ConfigError
from ..reporting.tables import MeanStd, markdown_table, mean_std, metric_words, run_header
from .runs import CONFIGS, absolute_graph, config_folder, fit_seeded, is_graph_file, quiet_output

KEYS = ("datasets", "teacher", "students", "methods", "seeds", "extra", "compare", "against", "student_methods")


@dataclass
class Grid:
    datasets: list[str]
    teacher: str | list[str] | dict[str, str | list[str]]
    students: list[str]
    methods: list[str]
    seeds: int = 5
    extra: list[str] = field(default_factory=list)
    compare: list[str] = field(default_factory=list)
    against: list[str] = field(default_factory=list)
    #: students that train with only some of ``methods`` (a student narrowed for the methods that widen its
    #: input, say); every other student trains with all of them
    student_methods: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Grid:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"Grid file not found: {path}.")
        raw = read_yaml(path, "Grid") or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"Grid {path}: expected keys ({', '.join(KEYS)}), got a {type(raw).__name__}.")
        unknown = set(raw) - set(KEYS)
        if unknown:
            raise ConfigError(f"Grid {path}: unknown keys {sorted(unknown)} (allowed: {', '.join(KEYS)}).")
        try:
            grid = cls(**raw)
        except TypeError as err:
            raise ConfigError(f"Grid {path}: {err}") from None
        grid.check(path, base=path.parent)
        return grid

    def only(self, datasets: list[str]) -> Grid:
        """The grid on some of its datasets (named as in the grid or as its tables name them), in
        the grid's order: the same runs and run folders, so the rest of the grid can run later, or in
        another job, with the same workdir."""
        names = dataset_names(self.datasets)
        unknown = [d for d in datasets if not any(d in (entry, names[entry]) for entry in self.datasets)]
        if unknown:
            raise ConfigError(f"The grid has no dataset {', '.join(unknown)}: name some of "
                              f"{', '.join(names.values())}.")
        return replace(self, datasets=[e for e in self.datasets if e in datasets or names[e] in datasets])

    def teacher_members(self, dataset: str) -> list[str]:
        """The dataset's teacher entries (one for all, or the dataset's own): one teacher, or an
        ensemble's members."""
        entry = self.teacher[dataset] if isinstance(self.teacher, dict) else self.teacher
        return list(entry) if isinstance(entry, list) else [entry]

    def is_ensemble(self, dataset: str) -> bool:
        """Whether the dataset's teacher is an ensemble (a list of two or more configs)."""
        return len(self.teacher_members(dataset)) > 1

    def teacher_name(self, dataset: str) -> str:
        """The dataset's teacher as runs are keyed and tables name it: its entry, or for an
        ensemble its members' names joined by ``+``."""
        members = self.teacher_members(dataset)
        return members[0] if len(members) == 1 else "+".join(map(label, members))

    def teacher_configs(self, dataset: str) -> list[str]:
        """The config of the dataset's teacher, or of each of its ensemble's members."""
        return [_config(m, f"{config_folder(dataset)}/{m}.yaml") for m in self.teacher_members(dataset)]

    def methods_of(self, student: str) -> list[str]:
        """The methods ``student`` trains with (besides alone), in the grid's order."""
        chosen = self.student_methods.get(student)
        return list(self.methods) if chosen is None else [m for m in self.methods if m in chosen]

    def pairs(self) -> list[tuple[str, str]]:
        """Every ``(student, method)`` run of a dataset and seed, ``alone`` first per student."""
        return [(s, m) for s in self.students for m in ["alone", *self.methods_of(s)]]

    def baselines(self) -> list[str]:
        """The ``against`` methods of ``compare`` (default: every method not compared)."""
        return self.against or [m for m in self.methods if m not in self.compare]

    def student_config(self, dataset: str, student: str) -> str:
        return _config(student, f"{config_folder(dataset)}/student_{student}.yaml")

    @staticmethod
    def method_config(method: str) -> str:
        return _config(method, f"methods/{method}.yaml")

    def check(self, path: str | Path = "grid", base: Path | None = None) -> None:
        """Validate the grid; config paths (``*.yaml``) relative to ``base`` are made absolute."""
        for key in ("datasets", "students", "methods", "extra", "compare", "against"):
            value = getattr(self, key)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"Grid {path}: {key} must be a list of names, e.g. {key}: [{value}], got {value!r}.")
        if not self.datasets or not self.students:
            raise ConfigError(f"Grid {path}: datasets and students must each name at least one config.")
        if base is not None:
            self.datasets = [absolute_graph(d, base) for d in self.datasets]
        for dataset in self.datasets:
            dataset_info(dataset)  # an unknown name or a missing file: one line that says what to give
        def is_teacher(entry: Any) -> bool:  # one config, or an ensemble of two or more
            return isinstance(entry, str) or (isinstance(entry, list) and len(entry) >= 2 and all(
                isinstance(e, str) for e in entry) and len(set(entry)) == len(entry))

        if isinstance(self.teacher, dict):
            missing = [d for d in self.datasets if not is_teacher(self.teacher.get(d))]
            if missing:
                raise ConfigError(f"Grid {path}: teacher names one config (or an ensemble's list) per dataset; none "
                                  f"for {missing} (e.g. teacher: {{{missing[0]}: gcn}}).")
        elif not is_teacher(self.teacher):
            raise ConfigError(f"Grid {path}: teacher must be one config name (e.g. gcn), an ensemble of two or more "
                              f"different ones ([grand, sage]), or one of these per dataset ({{cora: gcnii, ...}}), "
                              f"got {self.teacher!r}.")
        if not isinstance(self.student_methods, dict) or not all(
                isinstance(v, list) and all(isinstance(m, str) for m in v) for v in self.student_methods.values()):
            example = f"{{{self.students[0]}: [{self.methods[0] if self.methods else 'kd'}]}}"
            raise ConfigError(f"Grid {path}: student_methods maps a student to a list of its methods, e.g. "
                              f"student_methods: {example}, got {self.student_methods!r}.")
        unknown = [s for s in self.student_methods if s not in self.students] + [
            m for v in self.student_methods.values() for m in v if m not in self.methods]
        if unknown:
            raise ConfigError(f"Grid {path}: student_methods names students and methods of the grid (students "
                              f"{self.students}, methods {self.methods}); not among them: {unknown}.")
        untrained = [m for m in self.methods if not any(m in self.methods_of(s) for s in self.students)]
        if untrained:
            raise ConfigError(f"Grid {path}: no student trains with {untrained}: add them to a student's "
                              "student_methods, or drop them from methods.")
        stray = [m for m in [*self.compare, *self.against] if m not in self.methods]
        if stray or (self.compare and not self.baselines()):
            raise ConfigError(f"Grid {path}: compare and against must name methods of the grid {self.methods} (and "
                              f"leave at least one baseline); not among them: {stray or self.compare}.")
        if not isinstance(self.seeds, int) or isinstance(self.seeds, bool) or self.seeds < 1:
            raise ConfigError(f"Grid {path}: seeds must be a whole number >= 1, got {self.seeds!r}.")
        if base is not None:
            def absolute(entry: str | list[str]) -> str | list[str]:
                return [_absolute(e, base) for e in entry] if isinstance(entry, list) else _absolute(entry, base)

            self.teacher = ({d: absolute(t) for d, t in self.teacher.items()} if isinstance(self.teacher, dict)
                            else absolute(self.teacher))
            self.students = [_absolute(s, base) for s in self.students]
            self.methods = [_absolute(m, base) for m in self.methods]
            self.student_methods = {_absolute(s, base): [_absolute(m, base) for m in v]
                                    for s, v in self.student_methods.items()}
        wanted = [c for d in self.datasets for c in self.teacher_configs(d)]
        wanted += [self.student_config(d, s) for d in self.datasets for s in self.students]
        wanted += [self.method_config(m) for m in self.methods]
        missing = list(dict.fromkeys(str(CONFIGS / c) for c in wanted if not (CONFIGS / c).is_file()))
        if missing:
            raise ConfigError(f"Grid names configs that do not exist: {', '.join(missing)}.")
        parsed: dict[str, dict] = {}  # each config read once; a broken file stops the grid before any run
        for config in dict.fromkeys(wanted):
            raw = read_yaml(CONFIGS / config) or {}
            if not isinstance(raw, dict):
                raise ConfigError(f"Config {CONFIGS / config}: expected keys (data:, model:, trainer:), got a "
                                  f"{type(raw).__name__}.")
            parsed[config] = raw
        ensembles = [d for d in self.datasets if self.is_ensemble(d)]
        if ensembles:
            if not any(_needs_teacher(m) for m in self.methods):
                raise ConfigError(f"Grid {path}: an ensemble teacher is scored by the runs that distil from it; add "
                                  "a method that takes a teacher (kd, glnn, ...).")
            configs = [*(c for d in ensembles for c in self.teacher_configs(d)),
                       *(self.student_config(d, s) for d in ensembles for s in self.students),
                       *(self.method_config(m) for m in self.methods)]
            inductive = [str(CONFIGS / c) for c in dict.fromkeys(configs) if _sets_inductive(parsed[c])]
            if inductive or _inductive_share(self.extra) > 0:
                raise ConfigError(f"Grid {path}: an ensemble teacher cannot be scored in the inductive setting (its "
                                  "hidden test nodes have no teacher outputs): run it transductive, or one teacher"
                                  + (f"; set there by {', '.join(inductive)}." if inductive else "."))


def _sets_inductive(config: dict[str, Any]) -> bool:
    """Whether a config (a file's YAML mapping) sets ``data.inductive`` to a share above zero."""
    data = config.get("data")
    return _share(data.get("inductive") if isinstance(data, dict) else None) > 0


def _inductive_share(args: list[str]) -> float:
    """The share ``--data.inductive`` sets among command-line arguments (``=X`` or the next
    argument; the last one counts, as on the command line), 0 where none does."""
    share = 0.0
    for i, arg in enumerate(args):
        if arg == "--data.inductive":
            share = _share(args[i + 1] if i + 1 < len(args) else None)
        elif arg.startswith("--data.inductive="):
            share = _share(arg.split("=", 1)[1])
    return share


def _share(value: Any) -> float:
    """A share as a config or an argument writes it; 0 for none, or for a value that is not a number
    (the run itself rejects that in one line)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _config(name: str, packaged: str) -> str:
    """A grid entry's config: the entry itself where it is a path (``*.yaml``), else the
    packaged config it names (relative to ``configs/``)."""
    return name if name.endswith((".yaml", ".yml")) else packaged


def dataset_folder(dataset: str) -> str:
    """A dataset's run folder (and plot suffix): its name, or for a graph file its stem and a hash
    of its path, so two files of one name do not share runs."""
    if not is_graph_file(dataset):
        return dataset
    return f"{Path(dataset).stem}-{hashlib.sha256(dataset.encode()).hexdigest()[:8]}"


def dataset_names(datasets: Iterable[str]) -> dict[str, str]:
    """How tables, plots and progress lines name each dataset: a built-in one by its name, a
    graph file by its file name (a folder's with a ``/``), or by its whole path where two of them
    share a name. Run folders (:func:`dataset_folder`), ``results.json`` and the CSV keep the
    whole path."""
    names = {d: d if not is_graph_file(d) else Path(d).name + ("/" if Path(d).is_dir() else "")
             for d in dict.fromkeys(datasets)}
    counts = Counter(names.values())
    return {d: name if counts[name] == 1 else d for d, name in names.items()}


def _absolute(name: str, base: Path) -> str:
    if not name.endswith((".yaml", ".yml")) or Path(name).is_absolute():
        return name
    return str((base / name).resolve())


def label(name: str) -> str:
    """How a grid entry is named in run folders and tables: a config path by its file stem."""
    return Path(name).stem if name.endswith((".yaml", ".yml")) else name


def _needs_teacher(method: str) -> bool:
    spec = read_yaml(CONFIGS / Grid.method_config(method)) or {}
    return (spec.get("model") or {}).get("class_path", "").endswith(".DistillationModule")


def run_grid(grid: Grid, workdir: str | Path, out: str | Path, root: str | None = None,
             latency: bool = True, analysis: bool = True,
             log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run (or read back) every run of ``grid`` and write ``out`` (``.md``, ``.csv``, one
    ``_<dataset>.png`` per dataset, and with ``analysis`` ``_analysis.md``); returns the
    table rows."""
    workdir = Path(workdir)
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    total = sum(grid.seeds * (len(grid.teacher_members(d)) + len(grid.pairs())) for d in grid.datasets)
    done = 0
    names = dataset_names(grid.datasets)
    for dataset in grid.datasets:
        data_args = [f"--data.dataset={dataset}"] if is_graph_file(dataset) else []
        for seed in range(grid.seeds):
            work = workdir / dataset_folder(dataset) / f"seed{seed}"

            def fit(name: str, configs: list[str], *extra: str, dataset=dataset, seed=seed, work=work,
                    data_args=data_args) -> dict:
                nonlocal done
                stored = (work / name / "results.json").exists()
                started = time.monotonic()
                with quiet_output():
                    result = fit_seeded(configs, seed, work / name, *data_args, *grid.extra, *extra,
                                        root=root, reuse=True)
                done += 1
                how = "read back" if stored else f"{time.monotonic() - started:.0f} s"
                log(f"[{done}/{total}] {names[dataset]} seed {seed} {name}: test {100 * result['test']:.2f} ({how})")
                return result

            if not grid.is_ensemble(dataset):
                teacher = fit("teacher", grid.teacher_configs(dataset))
                teacher_file = teacher["best_checkpoint"]
            else:
                trained = {m: fit(f"teacher_{label(m)}", [c])
                           for m, c in zip(grid.teacher_members(dataset), grid.teacher_configs(dataset))}
                for m, result in trained.items():
                    runs.setdefault((dataset, "teacher", m), []).append(result)
                teacher_file = str(write_ensemble(work / "teacher_ensemble.yaml",
                                                  [r["best_checkpoint"] for r in trained.values()]))
            distilled = None
            for student, method in grid.pairs():
                base = [grid.student_config(dataset, student)]
                if method == "alone":
                    result = fit(f"{label(student)}_alone", base)
                else:
                    extra = [f"--model.init_args.teacher={teacher_file}"] if _needs_teacher(method) else []
                    result = fit(f"{label(student)}_{label(method)}", [*base, grid.method_config(method)], *extra)
                    distilled = distilled or (result if extra else None)
                runs.setdefault((dataset, student, method), []).append(result)
            if grid.is_ensemble(dataset):
                teacher = ensemble_result(teacher_file, list(trained.values()), distilled)
            runs.setdefault((dataset, "teacher", grid.teacher_name(dataset)), []).append(teacher)
    latencies = _latencies(grid, runs, workdir, root) if latency else {}
    rows = _rows(grid, runs, latencies)
    write_tables(rows, Path(out), title=f"Experiment grid: {', '.join(names.values())}")
    plot_tradeoffs(rows, Path(out))
    if grid.compare:
        write_comparison(grid, runs, Path(out))
    if analysis:
        write_analysis(grid, runs, Path(out), root)
    return rows


def write_ensemble(path: Path, members: list[str]) -> Path:
    """An ensemble teacher's file (:class:`~graphdistill.training.teacher.EnsembleTeacher`): its
    members' checkpoints relative to it, written atomically and only when it changes (its hash is
    part of every student run's record)."""
    text = yaml.safe_dump({"members": [os.path.relpath(m, path.parent) for m in members]})
    if not path.is_file() or path.read_text() != text:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text)
        temporary.replace(path)
    return path


def ensemble_result(path: str, members: list[dict[str, Any]], distilled: dict[str, Any]) -> dict[str, Any]:
    """An ensemble teacher's results on one seed, as a run's ``results.json`` reads: its scores on the
    seed's split as a student's run recorded them (``teacher``: ``val``, ``test``), its size its
    members' added up, the members' config hashes and the first member's provenance."""
    scored = distilled.get("teacher") or {}
    if "test" not in scored or "val" not in scored:
        raise ConfigError(f"The run distilled from {path} recorded no teacher scores on its split (a run from before "
                          "they were recorded, or one trained inductive): remove its folder to run it again.")
    return {"model": scored["model"], "parameters": sum(m["parameters"] for m in members),
            "metric": distilled.get("metric", "acc"), "best_val": scored["val"], "test": scored["test"],
            "best_checkpoint": path, "split": distilled.get("split"),
            "config_hash": hashlib.sha256(" ".join(m.get("config_hash") or "" for m in members).encode()).hexdigest(),
            "code": members[0].get("code"), "members": [m["best_checkpoint"] for m in members]}


def write_comparison(grid: Grid, runs: dict, out: Path) -> Path:
    """``<out>_compare.md``: each ``compare`` method against the best ``against`` baseline per
    dataset and student, Δ paired by seed (mean ± std over seeds; "better"/"worse" when the mean is
    more than one std from 0); and ``<out>_methods.png``, every method's bar (mean ± std) with the
    student alone and the teacher as lines.

    The best baseline is the one with the highest mean validation accuracy, the one a user choosing
    on validation would take (runs from before results kept it fall back to mean test accuracy,
    and the table says so)."""
    tests = {key: [r["test"] for r in found] for key, found in runs.items()}
    vals = {key: [r.get("best_val") for r in found] for key, found in runs.items()}
    on_test = False
    names = dataset_names(grid.datasets)
    table = []
    for dataset in grid.datasets:
        for student in grid.students:
            mine = grid.methods_of(student)
            baselines = [m for m in grid.baselines() if m in mine]
            if not baselines:
                continue
            if any(None in vals[(dataset, student, m)] for m in baselines):
                on_test, scores = True, tests
            else:
                scores = vals
            best = max(baselines, key=lambda m: mean_std(scores[(dataset, student, m)]).mean)
            for method in [m for m in grid.compare if m in mine]:
                paired = mean_std([a - b for a, b in zip(tests[(dataset, student, method)],
                                                          tests[(dataset, student, best)])])
                table.append([names[dataset], label(student), label(method),
                              mean_std(tests[(dataset, student, method)]).pct(),
                              f"{label(best)} {mean_std(tests[(dataset, student, best)]).pct()}",
                              f"{100 * paired.mean:+.2f} ± {100 * paired.std:.2f}", verdict(paired)])
    path = out.with_name(f"{out.stem}_compare.md")
    path.write_text(run_header("Compared with the best baseline on each dataset") + "\n"
                    + markdown_table(["dataset", "student", "method", "test acc %", "best baseline", "Δ (paired)",
                                      "verdict"], table)
                    + f"\n\nBest baseline: the highest mean validation accuracy among "
                    f"{', '.join(map(label, grid.baselines()))}"
                    + (" (the highest mean test accuracy where a run kept no validation score)" if on_test else "")
                    + ". "
                    "Δ: per-seed difference (same teacher, split and seed), mean ± std over seeds.\n")
    _plot_methods(grid, tests, out.with_name(f"{out.stem}_methods.png"))
    return path


def verdict(paired: MeanStd) -> str:
    """A paired difference in words: "better" / "worse" when its mean is more than one std from 0."""
    return ("better" if paired.mean - paired.std > 0 else
            "worse" if paired.mean + paired.std < 0 else "within 1 std")


def _plot_methods(grid: Grid, tests: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = dataset_names(grid.datasets)
    panels = [(d, s) for d in grid.datasets for s in grid.students]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 1, 3.6), squeeze=False)
    for ax, (dataset, student) in zip(axes[0], panels):
        methods = grid.methods_of(student)
        stats = [mean_std(tests[(dataset, student, m)]) for m in methods]
        ax.bar(range(len(stats)), [100 * x.mean for x in stats], yerr=[100 * x.std for x in stats], capsize=3,
               color=["tab:orange" if m in grid.compare else "tab:blue" for m in methods])
        alone = mean_std(tests[(dataset, student, "alone")])
        teacher = mean_std(tests[(dataset, "teacher", grid.teacher_name(dataset))])
        ax.axhline(100 * alone.mean, color="black", label="student alone")
        ax.axhline(100 * teacher.mean, color="tab:red", linestyle="--", label="teacher")
        low = min([x.mean - x.std for x in stats] + [alone.mean, teacher.mean])
        high = max([x.mean + x.std for x in stats] + [alone.mean, teacher.mean])
        ax.set_ylim(100 * low - 2, 100 * high + 1)
        ax.set_xticks(range(len(stats)), [label(m) for m in methods], rotation=60, ha="right", fontsize=8)
        ax.set_title(f"{names[dataset]} ({label(student)} student)", fontsize=9)
        ax.set_ylabel("test accuracy % (mean ± std)", fontsize=8)
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def write_analysis(grid: Grid, runs: dict, out: Path, root: str | None) -> Path:
    """Companion table ``<out>_analysis.md``: for seed 0, each student's similarity to the
    teacher (CKA, local and global structure) and everyone's accuracy under test-time edge
    drop and feature noise (:mod:`graphdistill.evaluation.analysis`)."""
    from ..evaluation.analysis import ANALYSIS_NOTE, analysis_cells, analyze

    header, table = None, []
    shown = dataset_names(grid.datasets)
    skipped = [shown[d] for d in grid.datasets if grid.is_ensemble(d)]
    for dataset in [d for d in grid.datasets if not grid.is_ensemble(d)]:
        teacher = runs[(dataset, "teacher", grid.teacher_name(dataset))][0]
        names = grid.pairs()
        paths = [runs[(dataset, s, m)][0]["best_checkpoint"] for s, m in names]
        columns, cells = analysis_cells(analyze(teacher["best_checkpoint"], paths, root))
        header = header or ["dataset", columns[0], "method", *columns[1:]]
        for (_, method), row in zip([("teacher", grid.teacher_name(dataset)), *names], cells):
            table.append([shown[dataset], row[0], label(method), *row[1:]])
    path = out.with_name(f"{out.stem}_analysis.md")
    path.write_text(run_header("Similarity to the teacher and robustness (seed 0)") + "\n"
                    + (markdown_table(header, table) + f"\n\n{ANALYSIS_NOTE}\n" if table else "")
                    + (f"\nNot analysed (an ensemble teacher has no single network to compare with): "
                       f"{', '.join(skipped)}.\n" if skipped else ""))
    return path


def _latencies(grid: Grid, runs: dict, workdir: Path, root: str | None) -> dict[tuple[str, str], dict[str, Any]]:
    """Latency per (dataset, architecture) on seed 0's checkpoint, cached in ``latency.json``."""
    from ..data import NodeDataModule
    from ..evaluation.latency import inference_latency, load_model

    cache_path = workdir / "latency.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for dataset in grid.datasets:
        data = None
        for key in ["teacher", *grid.students]:
            name = f"{dataset}|{key}"
            # the teacher's run (an ensemble runs each of its members: its latency is theirs added up), else the
            # student alone's (one architecture, one latency)
            models = grid.teacher_members(dataset) if key == "teacher" else ["alone"]
            if name not in cache:
                if data is None:
                    data = NodeDataModule(dataset=dataset, **({"root": root} if root else {})).data
                measured = [inference_latency(load_model(runs[(dataset, key, m)][0]["best_checkpoint"]), data)
                            for m in models]
                total = {k: sum(m[k] for m in measured) for k in ("full_ms", "batch_ms")}
                cache[name] = {**measured[0], **total,
                               "nodes_per_s": measured[0]["nodes_per_s"] * measured[0]["full_ms"] / total["full_ms"]}
                cache_path.write_text(json.dumps(cache, indent=1))
            out[(dataset, key)] = cache[name]
    return out


def _rows(grid: Grid, runs: dict, latencies: dict) -> list[dict[str, Any]]:
    rows = []
    for dataset in grid.datasets:
        teacher_runs = runs[(dataset, "teacher", grid.teacher_name(dataset))]
        teacher = mean_std([r["test"] for r in teacher_runs])
        t_params = teacher_runs[0]["parameters"]
        t_lat = latencies.get((dataset, "teacher"), {})
        entries = [("teacher", grid.teacher_name(dataset), teacher_runs, t_lat)]
        if grid.is_ensemble(dataset):  # its members, each a row below it (no latency of their own here)
            entries += [("teacher", m, runs[(dataset, "teacher", m)], {}) for m in grid.teacher_members(dataset)]
        entries += [(s, m, runs[(dataset, s, m)], latencies.get((dataset, s), {})) for s, m in grid.pairs()]
        for student, method, results, lat in entries:
            stats = mean_std([r["test"] for r in results])
            alone = teacher if student == "teacher" else mean_std(
                [r["test"] for r in runs[(dataset, student, "alone")]])
            vals = [r.get("best_val") for r in results]
            rows.append({
                "dataset": dataset, "model": results[0]["model"], "student": label(student), "method": label(method),
                "metric": results[0].get("metric", "acc"),
                "parameters": results[0]["parameters"], "compression": t_params / results[0]["parameters"],
                "val_mean": None if None in vals else mean_std(vals).mean,
                "test_mean": stats.mean, "test_std": stats.std, "seeds": stats.n,
                "delta_vs_alone": stats.mean - alone.mean, "delta_vs_teacher": stats.mean - teacher.mean,
                "full_ms": lat.get("full_ms"), "batch_ms": lat.get("batch_ms"),
                "speedup_full": t_lat["full_ms"] / lat["full_ms"] if lat and t_lat else None,
                "speedup_batch": t_lat["batch_ms"] / lat["batch_ms"] if lat and t_lat else None,
                "device": lat.get("device"), "tests": [r["test"] for r in results],
                "vals": [] if None in vals else vals,
                "splits": [r.get("split") or "-" for r in results],  # - : a run from before results kept it
                "config_hashes": [r.get("config_hash") for r in results],
                "commits": [(r.get("code") or {}).get("commit") for r in results],
            })
            for part in ("observed", "unseen"):  # the inductive setting (--data.inductive)
                if all(f"test_{part}" in r for r in results):
                    part_stats = mean_std([r[f"test_{part}"] for r in results])
                    rows[-1][f"test_{part}_mean"], rows[-1][f"test_{part}_std"] = part_stats.mean, part_stats.std
            if all("online" in r for r in results):
                rows += _online_rows(rows[-1], results, alone.mean, teacher.mean)
    return rows


def _online_rows(row: dict[str, Any], results: list[dict[str, Any]], alone: float, teacher: float
                 ) -> list[dict[str, Any]]:
    """OAD's table add-on: beside its best student (chosen on validation, the row itself), the
    mean of its K students and their ensemble (K students at inference), each at its own best
    validation epoch."""
    out = []
    k = len(results[0]["online"]["students"])
    for name, tests, params in (("mean student", [r["online"]["mean_student_test"] for r in results], 1),
                                (f"ensemble of {k}", [r["online"]["ensemble"]["test"] for r in results], k)):
        stats = mean_std(tests)
        out.append({**row, "method": f"{row['method']} ({name})", "parameters": params * row["parameters"],
                    "val_mean": None, "vals": [],
                    "compression": row["compression"] / params, "test_mean": stats.mean, "test_std": stats.std,
                    "delta_vs_alone": stats.mean - alone, "delta_vs_teacher": stats.mean - teacher,
                    "full_ms": None, "batch_ms": None, "speedup_full": None, "speedup_batch": None, "tests": tests})
    row["method"] = f"{row['method']} (best student)"
    return out


def model_names(rows: list[dict[str, Any]]) -> list[str]:
    """What the table's model column says for each row: the architecture (``MLP``, or
    ``GraphSAGE teacher``), with the student's config name beside it where a dataset has two
    students of one architecture (``MLP (mlp_positions)``), which would otherwise read alike."""
    students: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        if r["student"] != "teacher":
            students.setdefault((r["dataset"], r["model"]), set()).add(r["student"])
    return [f"{r['model']} teacher" if r["student"] == "teacher"
            else f"{r['model']} ({r['student']})" if len(students[(r["dataset"], r["model"])]) > 1 else r["model"]
            for r in rows]


def write_tables(rows: list[dict[str, Any]], out: Path, title: str) -> None:
    """``out`` as Markdown (with the command, machine and date) and ``out`` with ``.csv``."""
    def num(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    datasets = dataset_names(r["dataset"] for r in rows)
    table = [[datasets[r["dataset"]], name,
              r["method"], f"{r['parameters']:,}", f"{r['compression']:.1f}x",
              "-" if r.get("val_mean") is None else f"{100 * r['val_mean']:.2f}",
              f"{100 * r['test_mean']:.2f} ± {100 * r['test_std']:.2f}",
              "-" if r["student"] == "teacher" else f"{100 * r['delta_vs_alone']:+.2f}",
              "-" if r["student"] == "teacher" else f"{100 * r['delta_vs_teacher']:+.2f}",
              num(r["full_ms"], ".2f"), num(r["batch_ms"], ".2f"),
              num(r["speedup_full"], ".1f") + "x" if r["speedup_full"] else "-",
              num(r["speedup_batch"], ".1f") + "x" if r["speedup_batch"] else "-"]
             for r, name in zip(rows, model_names(rows))]
    short, long = metric_words(r["metric"] for r in rows)
    header = ["dataset", "model", "method", "params", "compression", f"val {short} %", f"test {short} %", "Δ vs alone",
              "Δ vs teacher", "full-graph ms", "1024-node batch ms", "speedup full", "speedup batch"]
    if short == "acc":
        scores = "val acc %: the mean of the best validation accuracies (what selection reads). "
    else:  # multi-label datasets: ROC-AUC averaged over tasks
        scores = (f"Score: accuracy, or on multi-label datasets the ROC-AUC averaged over tasks; val {short} %: the "
                  "mean of the best validation scores (what selection reads). ")
    parts = [p for p in ("observed", "unseen") if all(f"test_{p}_mean" in r for r in rows)]
    if parts:  # inductive: accuracy on the test nodes seen in training and on those hidden from it
        header[7:7] = [f"{p} %" for p in parts]
        for r, line in zip(rows, table):
            line[7:7] = [f"{100 * r[f'test_{p}_mean']:.2f} ± {100 * r[f'test_{p}_std']:.2f}" for p in parts]
    seeds = sorted({r["seeds"] for r in rows})
    text = (run_header(title).rstrip("\n") + "  \n" + runs_provenance(rows) + "\n"
            + markdown_table(header, table) + "\n\n"
            f"Test {long} at the best validation epoch, mean ± std over {'/'.join(map(str, seeds))} seeds; "
            + scores
            + ("Latency: median of 10 timed inferences after 3 warm-up ones, on "
               f"{rows[0]['device']}; the batch timing includes extracting a GNN's L-hop neighbourhood.\n"
               if rows[0]["device"] else "Latency not measured.\n"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text)
    lists = ("tests", "vals", "splits", "config_hashes", "commits")  # per seed, in seed order (vals: best validation)
    fields = [k for k in rows[0] if k not in lists] + [k for k in lists if k in rows[0]]  # rows share their keys
    with out.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, **{k: " ".join(repr(float(t)) for t in r[k]) for k in lists[:2] if k in r},
                             **{k: " ".join(str(v) for v in r[k]) for k in lists[2:] if k in r}})


def runs_provenance(rows: list[dict[str, Any]]) -> str:
    """The header line that ties a grid table to its runs: how many, the commits they were
    trained at (a run read back keeps its own), and one hash over every run's config hash (each
    run's own is in the CSV and its ``results.json``)."""
    hashes = sorted({h for r in rows for h in r.get("config_hashes", []) if h})
    commits = sorted({c[:7] for r in rows for c in r.get("commits", []) if c})
    digest = hashlib.sha256(" ".join(hashes).encode()).hexdigest()[:16]
    return (f"Runs: {len(hashes)}, trained at commit {', '.join(commits) or 'unknown'}; config hash of the grid "
            f"{digest} (over every run's config hash, listed per row in the CSV)  \n")


def plot_tradeoffs(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Per dataset, accuracy vs parameters and accuracy vs full-graph latency (log x, one
    point per model and method, error bars = std over seeds) as ``<out>_<dataset>.png`` (a graph
    file's run folder name, :func:`dataset_folder`, in place of ``<dataset>``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    names = dataset_names(r["dataset"] for r in rows)
    for dataset in names:
        subset = [r for r in rows if r["dataset"] == dataset]
        long = metric_words(r["metric"] for r in subset)[1]
        panels = [("parameters", "parameters")] + ([("full_ms", "full-graph inference (ms)")]
                                                   if all(r["full_ms"] for r in subset) else [])
        fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
        for ax, (key, label) in zip(axes[0], panels):
            for r, model in zip(subset, model_names(subset)):
                name = model if r["student"] == "teacher" else f"{model} {r['method']}"
                ax.errorbar(r[key], 100 * r["test_mean"], yerr=100 * r["test_std"], fmt="o", capsize=3, label=name)
            ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel(f"test {long} (%)")
            ax.grid(alpha=0.3)
        axes[0][-1].legend(fontsize=7, loc="lower right")
        fig.suptitle(f"{names[dataset]}: {long} vs size and speed (mean ± std over seeds)")
        fig.tight_layout()
        path = out.with_name(f"{out.stem}_{dataset_folder(dataset)}.png")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths
