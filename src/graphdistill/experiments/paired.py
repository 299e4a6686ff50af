"""Two grids' results set side by side, paired by seed: ``graphdistill paired NEW.csv BASE.csv``.

A grid (:mod:`~graphdistill.experiments.grid`) pairs methods within itself (``compare``);
a change that needs a grid of its own (another teacher, a wider student) is judged against a
committed grid's results instead. Both CSVs list each row's test scores in seed order
(``tests``: seeds 0, 1, ...; the seed fixes the split), so the two rows' scores pair by seed
over the seeds both ran. That holds for grids with the same data options (``--data.split``,
``--data.inductive``): a CSV written since it keeps each run's split (``splits``: the split,
its seed and sizes, the inductive share) and a pair whose splits differ on a common seed is
refused, naming both; an older CSV does not keep them, so there pairing grids that differ in
their data options is the user's mistake to avoid (each run's ``config.yaml`` has them).

Rows pair by dataset and role: the teacher with the teacher (with the row of the same teacher config
where a grid with an ensemble teacher has several teacher rows), a student row with the row of
the same student and method, or, where the student's name differs (a wider student in a
grid of its own), with the one row of the same method. A row with no counterpart, or with
several, is listed as unpaired. The table gives both means, the paired difference (mean ±
std over the common seeds), how many seeds the new row won, and both mean validation scores
(what selection reads: a change is adopted on validation, not on test).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..reporting.tables import markdown_table, mean_std, run_header, write_report
from .grid import dataset_names, runs_provenance, verdict

COLUMNS = ("dataset", "model", "student", "method", "tests")  # and, from tables written since they were added,
# metric (else accuracy), val_mean, vals, splits, config_hashes and commits (else unknown)


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a grid's CSV (``graphdistill grid ... --out OUT`` writes ``OUT.csv``), with
    ``tests`` as floats in seed order and the provenance columns as lists."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; give a grid's results CSV (graphdistill grid writes OUT.csv).")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in COLUMNS if rows and c not in rows[0]]
    if not rows or missing:
        raise ConfigError(f"{path} is not a grid's results CSV (no rows, or no column {', '.join(missing)}): give "
                          "the OUT.csv that graphdistill grid writes.")
    ragged = next((i for i, r in enumerate(rows, start=2) if None in r or None in r.values()), None)
    if ragged is not None:  # csv.DictReader: a short line's missing fields are None, a long line's extra under None
        raise ConfigError(f"{path}: line {ragged} has another number of columns than the header (a file cut short or "
                          "edited); give the OUT.csv that graphdistill grid writes, unedited.")
    try:
        for r in rows:
            r["tests"] = [float(t) for t in r["tests"].split()]
            r["vals"] = [float(v) for v in (r.get("vals") or "").split()]
            r["splits"] = (r.get("splits") or "").split()
            r["val_mean"] = float(r["val_mean"]) if r.get("val_mean") else None
            r["metric"] = r.get("metric") or "acc"
            r["config_hashes"], r["commits"] = (r.get("config_hashes") or "").split(), (r.get("commits") or "").split()
    except ValueError:
        raise ConfigError(f"{path}: a tests or val_mean value is not a number; give the OUT.csv that graphdistill "
                          "grid writes, unedited.") from None
    return rows


def _counterpart(row: dict[str, Any], base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    same = [b for b in base if b["dataset"] == row["dataset"]]
    if row["student"] == "teacher":  # the same teacher config (an ensemble's member), else every teacher row
        teachers = [b for b in same if b["student"] == "teacher"]
        return [b for b in teachers if b["method"] == row["method"]] or teachers
    exact = [b for b in same if (b["student"], b["method"]) == (row["student"], row["method"])]
    return exact or [b for b in same if b["student"] != "teacher" and b["method"] == row["method"]]


def _val(row: dict[str, Any], seeds: int) -> str:
    """The row's mean best validation over the first ``seeds`` seeds; from a table that kept only
    the mean, that mean over all of its seeds, marked ``*``."""
    if len(row["vals"]) >= seeds:
        return f"{100 * mean_std(row['vals'][:seeds]).mean:.2f}"
    if row["val_mean"] is None:
        return "-"
    return f"{100 * row['val_mean']:.2f}" + ("" if len(row["tests"]) == seeds else "*")


def _name(row: dict[str, Any]) -> str:
    return f"{row['model']} teacher ({row['method']})" if row["student"] == "teacher" else \
        f"{row['model']} ({row['student']}) {row['method']}"


def _check_same_splits(row: dict[str, Any], base: dict[str, Any], seeds: int) -> None:
    """Refuse a pair trained on other splits on a common seed (another split kind, sizes or
    inductive share): its per-seed difference would not be paired. Unknown splits (``-``, or
    an older CSV without them) pass."""
    for seed, (a, b) in enumerate(zip(row["splits"][:seeds], base["splits"][:seeds])):
        if "-" not in (a, b) and a != b:
            raise ConfigError(f"{_name(row)} seed {seed} was trained on split {a}, its counterpart {_name(base)} on "
                              f"{b}: pair grids run with the same data options (--data.split, --data.inductive).")


def paired_rows(new: list[dict[str, Any]], base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row of ``new`` with its counterpart in ``base`` and the paired difference (``None``
    where it has no single counterpart)."""
    out = []
    for row in new:
        found = _counterpart(row, base)
        pair = {"new": row, "base": found[0] if len(found) == 1 else None, "candidates": found}
        if pair["base"] is not None:
            b = pair["base"]
            if b["metric"] != row["metric"]:
                raise ConfigError(f"{_name(row)} is scored by {row['metric']}, its counterpart {_name(b)} by "
                                  f"{b['metric']}: pair results of the same dataset and metric.")
            seeds = min(len(row["tests"]), len(b["tests"]))
            _check_same_splits(row, b, seeds)
            diffs = [a - c for a, c in zip(row["tests"][:seeds], b["tests"][:seeds])]
            pair.update(seeds=seeds, diff=mean_std(diffs), wins=sum(d > 0 for d in diffs),
                        new_test=mean_std(row["tests"][:seeds]), base_test=mean_std(b["tests"][:seeds]),
                        new_val=_val(row, seeds), base_val=_val(b, seeds))
        out.append(pair)
    return out


def write_paired(new_path: str | Path, base_path: str | Path, out: str | Path | None = None) -> str:
    """The paired table as Markdown: printed, returned, and written to ``out`` with ``.md``, with
    a bar plot of the differences as ``out`` with ``.png``, when given."""
    new, base = read_results(new_path), read_results(base_path)
    pairs = paired_rows(new, base)
    names = dataset_names(sorted({r["dataset"] for r in new}))
    table = [[names[p["new"]["dataset"]], _name(p["new"]), _name(p["base"]), p["new_test"].pct(),
              p["base_test"].pct(), f"{100 * p['diff'].mean:+.2f} ± {100 * p['diff'].std:.2f}", verdict(p["diff"]),
              f"{p['wins']}/{p['seeds']}", p["new_val"], p["base_val"]]
             for p in pairs if p["base"] is not None]
    unpaired = [f"{_name(p['new'])} ({names[p['new']['dataset']]}): "
                + ("no row of its dataset, role and method" if not p["candidates"] else
                   f"{len(p['candidates'])} rows of its method (students "
                   f"{', '.join(c['student'] for c in p['candidates'])}), none of its student's name")
                for p in pairs if p["base"] is None]
    if not table:
        raise ConfigError(f"No row of {new_path} has a counterpart in {base_path} (same dataset, and the teacher or "
                          "the same method): pair results of the same datasets.")
    text = (run_header("Paired by seed: two grids' results") + "\n"
            + f"New: `{new_path}`  \n{runs_provenance(new)}Base: `{base_path}`  \n{runs_provenance(base)}\n"
            + markdown_table(["dataset", "new row", "base row", "new test %", "base test %", "Δ (paired)",
                              "verdict", "seeds won", "new val %", "base val %"], table)
            + "\n\nΔ: new minus base per seed (same seed, same split), mean ± std over the seeds both ran (test "
            "means over those seeds); verdict \"better\"/\"worse\" when the mean is more than one std from 0. val %: "
            "the row's mean best validation score over the same seeds, what selection reads (*: over all of its "
            "seeds, from a table that kept only the mean).\n"
            + ("\nUnpaired: " + "; ".join(unpaired) + ".\n" if unpaired else ""))
    write_report(Path(out).with_suffix(".md") if out else None, text)
    if out:
        _plot(pairs, names, Path(out).with_suffix(".png"))
    return text


def _plot(pairs: list[dict[str, Any]], names: dict[str, str], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [p for p in pairs if p["base"] is not None]
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(shown) + 1.5))
    y = range(len(shown))
    ax.barh(y, [100 * p["diff"].mean for p in shown], xerr=[100 * p["diff"].std for p in shown], capsize=3,
            color=["tab:green" if p["diff"].mean > 0 else "tab:red" for p in shown])
    ax.set_yticks(list(y), [f"{names[p['new']['dataset']]}: {_name(p['new'])}" for p in shown], fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("Δ test, points (new − base per seed, mean ± std)")
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
