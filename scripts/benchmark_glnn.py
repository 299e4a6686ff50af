"""Graph-free MLP students under the GNN-to-MLP protocol (GLNN's "P1"), next to the published numbers.

Runs a grid (``--grid``, default ``configs/experiments/glnn.yaml``: SAGE 2×128 teacher; MLP 2×128 students:
alone, GLNN, and graphdistill's structure-aware methods; glnn split) on each dataset, once
transductive and once inductive (``--data.inductive=0.2``: 20 % of the test nodes and
their edges hidden during training), then writes ``benchmarks/results/glnn.md`` (+ PNG):

* P1 transductive: teacher, MLP alone, GLNN as reproduced here, and the best graphdistill
  MLP student, chosen per dataset on mean *validation* accuracy among the non-GLNN
  methods, beside the published GLNN / NOSMOG / VQGraph rows;
* inductive: observed / unseen / all test nodes;
* latency (GLNN's protocol): predicting 10 random unseen nodes, the teacher with
  their full neighbourhood (its receptive field: 2 hops for SAGE 2×128) vs the MLP reading its own rows, and whole-graph
  throughput, plus the exported ONNX MLP in onnxruntime::

    python scripts/benchmark_glnn.py --root ../shared/datasets --seeds 10
    python scripts/benchmark_glnn.py --root ../shared/datasets --seeds 10 \
        --grid configs/experiments/glnn_sampled_teacher.yaml --out benchmarks/results/glnn_sampled.md

Every run keeps its ``results.json`` (with its config hash) under ``--workdir``; a rerun reads
finished runs back and refuses any made with another config.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import torch
import yaml

from graphdistill.config_files import CONFIG_DIR, resolve_config
from graphdistill.data import NodeDataModule
from graphdistill.errors import ConfigError, exit_on_user_error
from graphdistill.evaluation.latency import inference_latency, load_model, timed_nodes
from graphdistill.experiments.grid import Grid, label, run_grid, write_tables
from graphdistill.export import export_model, onnx_latency
from graphdistill.reporting.tables import markdown_table, mean_std, run_header, write_report

REPO = Path(__file__).resolve().parents[1]
#: published P1 test accuracy (%): SAGE teacher, MLP alone, GLNN, NOSMOG, VQGraph (GLNN arXiv
#: 2110.08727 Tables 1-2; NOSMOG arXiv 2208.10010; VQGraph arXiv 2308.02117 Table 1)
PUBLISHED = {"cora": (80.64, 59.18, 80.54, 83.04, 83.93), "citeseer": (70.49, 58.50, 71.77, 73.78, 76.08),
             "amazon-photo": (90.85, 77.29, 92.11, 93.36, 94.21)}


def _pct(values: list[float]) -> str:
    return mean_std(values).pct()


def _best_method(rows_runs: dict[str, list[dict[str, Any]]]) -> str:
    """The graphdistill method with the highest mean validation accuracy (GLNN excluded)."""
    candidates = {m: runs for m, runs in rows_runs.items() if m not in ("teacher", "alone", "glnn")}
    return max(candidates, key=lambda m: sum(r["best_val"] for r in candidates[m]) / len(candidates[m]))


def _student_of(grid: Grid) -> dict[str, str]:
    """Which student each method's row reads: ``alone`` the first (the teacher's width), every other method the
    first student that trains with it (``student_methods``)."""
    return {"alone": grid.students[0],
            **{m: next(s for s in grid.students if m in grid.methods_of(s)) for m in grid.methods}}


def _runs(workdir: Path, dataset: str, seeds: int, grid: Grid) -> dict[str, list[dict[str, Any]]]:
    """The grid's stored results per method (``teacher``, ``alone``, methods) for a dataset."""
    import json

    out: dict[str, list[dict[str, Any]]] = {}
    students = _student_of(grid)
    for seed in range(seeds):
        base = workdir / dataset / f"seed{seed}"
        folders = [("teacher", "teacher"), *((m, f"{label(s)}_{label(m)}") for m, s in students.items())]
        for name, folder in folders:
            out.setdefault(name, []).append(json.loads((base / folder / "results.json").read_text()))
    return out


def _latency(dataset: str, root: str, teacher_ckpt: str, student_ckpt: str, work: Path) -> dict[str, Any]:
    """GLNN's latency protocol on the inductive graph of seed 0 (see the module doc)."""
    student = load_model(student_ckpt)
    positions = getattr(student, "position_channels", 0)
    dm = NodeDataModule(dataset, root=root, split="glnn", split_seed=0, inductive=0.2, positions=positions)
    data = dm.data
    teacher = load_model(teacher_ckpt)
    unseen = data.unseen_mask
    t10 = inference_latency(teacher, data, device="cpu", batch_size=10, candidates=unseen, repeats=20)
    s10 = inference_latency(student, data, device="cpu", batch_size=10, candidates=unseen, repeats=20)
    onnx_path = work / f"{dataset}_student.onnx"
    export_model(copy.deepcopy(student), onnx_path, "onnx")
    onnx = onnx_latency(onnx_path, student, data)
    onnx10 = onnx_latency(onnx_path, student, data, repeats=20,
                          nodes=timed_nodes(data.num_nodes, 10, candidates=unseen))  # the nodes timed above
    return {"teacher_10_ms": t10["batch_ms"], "student_10_ms": s10["batch_ms"], "onnx_10_ms": onnx10["batch_ms"],
            "teacher_nodes_per_s": t10["nodes_per_s"], "student_nodes_per_s": s10["nodes_per_s"],
            "onnx_full_ms": onnx["full_ms"], "num_nodes": data.num_nodes, "positions": positions}


def _teacher_description(grid: Grid, datasets: list[str]) -> tuple[str, str, str]:
    """The teacher's short name (SAGE or GRAND), its description for the protocol paragraph, read from each
    dataset's teacher config (settings that differ between datasets are given per dataset), and the
    neighbourhood the latency protocol fetches for it (its receptive field)."""
    specs = {d: yaml.safe_load((CONFIG_DIR / grid.teacher_configs(d)[0]).read_text()) or {} for d in datasets}

    def setting(read) -> str:
        values = {d: read(spec) for d, spec in specs.items()}
        if len(set(values.values())) == 1:
            return str(next(iter(values.values())))
        return ", ".join(f"{v} on {d}" for d, v in values.items())

    def model_arg(spec: dict, key: str, default: Any) -> Any:
        return spec["model"]["init_args"]["model"]["init_args"].get(key, default)

    first = next(iter(specs.values()))
    module = first["model"]["init_args"]
    model = module["model"]
    width = f"{model_arg(first, 'num_layers', 2)}x{model_arg(first, 'hidden_channels', 64)}"
    data = first.get("data", {})
    training = (f"trained on sampled neighbourhoods (fan-out {data['num_neighbors']})"
                if data.get("loader") == "neighbor" else "full-graph training")
    if module.get("consistency"):
        def term(key: str, default: float) -> str:
            return setting(lambda spec: format(
                spec["model"]["init_args"]["consistency"].get("init_args", {}).get(key, default), "g"))
        training += (f", with GRAND's consistency regularisation (DropNode views {term('views', 2)} at rate "
                     f"{term('drop_node', 0.5)}, weight {term('weight', 1.0)}, sharpening temperature "
                     f"{term('temperature', 0.5)})")
    epochs = setting(lambda spec: spec.get("trainer", {}).get("max_epochs", 200))
    config = f"`configs/<dataset>/{grid.teacher}.yaml`"
    if model["class_path"].endswith("PropagatedMLP"):
        order = setting(lambda spec: model_arg(spec, "propagation_order", 2))
        dropout = setting(lambda spec: "{:g} / {:g}".format(model_arg(spec, "feature_dropout", 0.5),
                                                            model_arg(spec, "dropout", 0.5)))
        return "GRAND", (f"a GRAND teacher ({config}: PropagatedMLP, an MLP {width} on the features averaged over "
                         f"propagation orders 0..K, K {order}; dropout on the propagated features / hidden layer "
                         f"{dropout}; {training}; epochs {epochs})"), f"K-hop (K {order})"
    aggr = model["init_args"].get("aggr", "mean")
    aggregator = ("DGL's gcn aggregator as in GLNN's code: one weight" if aggr == "gcn"
                  else "PyG's SAGEConv: a neighbour and a root weight")
    aggregator += f", dropout {setting(lambda spec: format(model_arg(spec, 'dropout', 0.5), 'g'))}"
    hops = setting(lambda spec: model_arg(spec, "num_layers", 2))  # one hop per SAGE layer
    return "SAGE", f"a GraphSAGE {width} teacher ({config}, {aggregator}, {training}, epochs {epochs})", f"{hops}-hop"


def _plot(summary: list[dict[str, Any]], path: Path, teacher: str = "SAGE") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["teacher", "alone", "glnn", "best"]
    labels = [f"{teacher} teacher", "MLP alone", "GLNN (here)", "best graphdistill MLP"]
    fig, ax = plt.subplots(figsize=(8, 4.6))
    width = 0.8 / (len(names) + 1)
    for i, (name, legend) in enumerate(zip(names, labels)):
        ax.bar([d + i * width for d in range(len(summary))], [100 * s[name].mean for s in summary], width,
               yerr=[100 * s[name].std for s in summary], capsize=2, label=legend)
    vq = [PUBLISHED.get(s["dataset"], (None,) * 5)[4] for s in summary]
    ax.scatter([d + len(names) * width for d, v in enumerate(vq) if v], [v for v in vq if v], marker="*", s=90,
               color="black", label="VQGraph (published)", zorder=3)
    ax.set_xticks([d + 0.4 for d in range(len(summary))], [s["dataset"] for s in summary])
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(40, 100)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=5)  # below the bars
    ax.set_title("MLP students under the GLNN protocol (transductive, mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--datasets", nargs="+", default=["cora", "citeseer", "amazon-photo", "coauthor-cs"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--seeds-for", nargs="*", default=[], metavar="DATASET=N[/M]",
                        help="other seeds for some datasets, e.g. coauthor-cs=3 (M: its inductive seeds)")
    parser.add_argument("--inductive-seeds", type=int, default=None,
                        help="at most this many seeds in the inductive runs (default: as transductive)")
    parser.add_argument("--grid", default="configs/experiments/glnn.yaml",
                        help="the grid (a packaged one, as configs/experiments/glnn_sampled_teacher.yaml, or a path): "
                             "its teacher, its MLP students (the first as wide as the teacher: alone and GLNN; "
                             "student_methods may give the other methods a narrower one) and its methods, which must "
                             "include glnn")
    parser.add_argument("--workdir", type=Path, default=REPO / "runs" / "glnn")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "glnn.md")
    args = parser.parse_args()
    grid = Grid.from_yaml(resolve_config(args.grid))
    if "glnn" not in grid.methods_of(grid.students[0]) or isinstance(grid.teacher, (dict, list)):
        raise ConfigError(f"{args.grid}: the GLNN benchmark takes one teacher and a first student that trains with "
                          f"glnn (got teacher {grid.teacher!r}, students {grid.students}, student_methods "
                          f"{grid.student_methods}).")
    per_dataset = {k: [int(n) for n in v.split("/")] for k, v in (item.split("=", 1) for item in args.seeds_for)}
    settings = {"transductive": [], "inductive": ["--data.inductive=0.2"]}
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in settings}
    runs: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for dataset in args.datasets:
        for setting, extra in settings.items():
            given = per_dataset.get(dataset, [args.seeds])
            seeds = given[0]
            if setting == "inductive":
                seeds = given[1] if len(given) > 1 else min(seeds, args.inductive_seeds or seeds)
            one = Grid(datasets=[dataset], teacher=grid.teacher, students=grid.students, methods=grid.methods,
                       seeds=seeds, extra=extra, student_methods=grid.student_methods)
            work = args.workdir / setting
            rows[setting] += run_grid(one, work, work / f"{dataset}_table", root=args.root, latency=False,
                                      analysis=False, log=lambda line, s=setting: print(f"[{s}] {line}", flush=True))
            runs[(dataset, setting)] = _runs(work, dataset, seeds, grid)
    for setting in settings:
        write_tables(rows[setting], args.out.with_name(f"{args.out.stem}_{setting}"), title=f"GLNN protocol, {setting}")

    teacher, teacher_text, hops = _teacher_description(grid, args.datasets)
    summary, p1, inductive, latency = [], [], [], []
    for dataset in args.datasets:
        found = runs[(dataset, "transductive")]
        best = _best_method(found)
        tests = {k: [r["test"] for r in found[k]] for k in ("teacher", "alone", "glnn", best)}
        summary.append({"dataset": dataset, "best_method": best, "seeds": len(tests["teacher"]),
                        **{k: mean_std(v) for k, v in tests.items()}, "best": mean_std(tests[best])})
        pub = PUBLISHED.get(dataset)
        p1.append([dataset, len(tests["teacher"]), _pct(tests["teacher"]), _pct(tests["alone"]), _pct(tests["glnn"]),
                   f"**{_pct(tests[best])}** ({best})", *([f"{v:.2f}" for v in pub] if pub else ["-"] * 5)])
        ind = runs[(dataset, "inductive")]
        for name in ("teacher", "alone", "glnn", best):
            inductive.append([dataset, len(ind[name]), f"{teacher} teacher" if name == "teacher" else f"MLP {name}",
                              *(_pct([r[k] for r in ind[name]]) for k in ("test_observed", "test_unseen", "test"))])
        lat = _latency(dataset, args.root, ind["teacher"][0]["best_checkpoint"], ind[best][0]["best_checkpoint"],
                       args.workdir)
        latency.append([dataset, best, f"{lat['teacher_10_ms']:.2f}", f"{lat['student_10_ms']:.3f}",
                        f"{lat['teacher_10_ms'] / lat['student_10_ms']:.0f}x",
                        f"{lat['onnx_10_ms']:.3f}", f"{lat['teacher_10_ms'] / lat['onnx_10_ms']:.0f}x",
                        f"{lat['teacher_nodes_per_s']:,.0f}", f"{lat['student_nodes_per_s']:,.0f}",
                        f"{lat['onnx_full_ms']:.2f}"])
    plot = args.out.with_suffix(".png")
    _plot(summary, plot, teacher)
    students = _student_of(grid)
    narrowed = [m for m, s in students.items() if s != grid.students[0]]
    student_text = (f"MLP students as wide as the teacher (`configs/<dataset>/student_{grid.students[0]}.yaml`)" + (
        f"; {', '.join(narrowed)} on `configs/<dataset>/student_{students[narrowed[0]]}.yaml`, narrowed so that "
        "with the position features it reads it is no larger" if narrowed else ""))
    threads = torch.get_num_threads()
    text = run_header("Graph-free MLP students under the GLNN protocol") + f"""
Protocol P1 (GLNN): the largest connected component, per class 20 training and 30 validation nodes drawn
with the seed, every other node a test node (`--data.split glnn`); {teacher_text};
{student_text}: every student no larger than the teacher. Test accuracy (%) at the best
validation epoch, mean ± std over seeds (each seed a new split). "best graphdistill" is the method with
the highest mean *validation* accuracy among {', '.join(m for m in grid.methods if m != 'glnn')}. Published
columns are the papers' numbers (their data are CPF's copies of these graphs). Full per-method tables:
`{args.out.stem}_transductive.md`, `{args.out.stem}_inductive.md`.

## Transductive (P1)

{markdown_table(["dataset", "seeds", f"{teacher} teacher", "MLP alone", "GLNN (here)", "best graphdistill MLP",
                 "SAGE (pub.)", "MLP (pub.)", "GLNN (pub.)", "NOSMOG (pub.)", "VQGraph (pub.)"], p1)}

![accuracy]({plot.name})

## Inductive (20 % of the test nodes and their edges hidden during training)

{markdown_table(["dataset", "seeds", "model", "observed", "unseen", "all"], inductive)}

## Latency (seed 0, inductive checkpoints, CPU, {threads} thread{'' if threads == 1 else 's'})

Predicting 10 random unseen nodes from scratch: the {teacher} teacher extracts their {hops} neighbourhood in the
whole graph and runs on it; the MLP reads the nodes' own rows (features, and stored position features where
it reads them), in PyTorch and as the exported ONNX file (`graphdistill export`) in onnxruntime, the form a
deployment ships. Median of 20 timed runs after 3 warm-up ones. Throughput: whole-graph forward pass.

{markdown_table(["dataset", "MLP method", f"{teacher} 10 nodes (ms)", "MLP 10 nodes (ms)", "speedup",
                 "ONNX MLP 10 nodes (ms)", "speedup (ONNX)", f"{teacher} nodes/s",
                 "MLP nodes/s", "ONNX MLP whole graph (ms)"], latency)}
"""
    write_report(args.out, text, raw={"summary": [{k: (v.__dict__ if hasattr(v, "mean") else v)
                                                    for k, v in s.items()} for s in summary]})


if __name__ == "__main__":
    main()
