"""Running configs over seeds: the pieces the benchmark and reproduction scripts share."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config_files import CONFIG_DIR
from ..console import quiet
from ..data import dataset_info
from ..data.files import content_sha256
from ..errors import ConfigError, DatasetNotFoundError
from ..lightning_cli import run_config_hash, run_fit

CONFIGS = CONFIG_DIR


def config_folder(dataset: str) -> str:
    """The ``configs/`` folder whose configs are a dataset's defaults: a built-in dataset's own
    (by its canonical name), the synthetic graph's for the user's graph file."""
    info = dataset_info(dataset)
    return "synthetic" if info.family == "file" else info.name


def is_graph_file(dataset: str) -> bool:
    """Whether a ``datasets`` entry is the path of the user's graph rather than a built-in name."""
    try:
        return dataset_info(dataset).family == "file"
    except DatasetNotFoundError:  # a path, not found from here (it may be relative to the grid file)
        return True
    except ConfigError:  # an unknown name
        return False


def absolute_graph(dataset: str, base: Path) -> str:
    """A graph file's path made absolute (relative to ``base``); a built-in name as it is."""
    path = Path(dataset).expanduser()
    return dataset if not is_graph_file(dataset) or path.is_absolute() else str((base / path).resolve())


def seed_args(seed: int) -> list[str]:
    """Seed a run: ``--seed_everything seed`` and ``--data.split_seed seed``: each seed is a
    new split too wherever the split is drawn (a dataset without an official split, or a
    drawn split such as ``glnn`` asked for), as in the published means over random splits;
    teacher and student of one seed share it. An official split ignores the split seed."""
    return [f"--seed_everything={seed}", f"--data.split_seed={seed}"]


def fit_seeded(configs: list[str], seed: int, workdir: str | Path, *extra: str,
               root: str | None = None, reuse: bool = False, vary_split: bool = True,
               callbacks: list | None = None) -> dict[str, Any]:
    """``graphdistill fit`` with ``configs`` (paths relative to ``configs/``), seeded, logging off,
    checkpoints and ``results.json`` under ``workdir``; returns the run's results.

    With ``reuse``, a run whose ``workdir/results.json`` exists is not trained again: its
    results are read back (a run on the user's graph file only while the file's content is the one it
    was trained on); a run interrupted mid-way (``workdir/checkpoints/last.ckpt``
    but no results) resumes from its last checkpoint. So an interrupted benchmark
    continues where it stopped. A stored run made with another config (its ``config_hash``
    differs from what these arguments give now) is refused, never reported.

    ``vary_split=False`` keeps the configs' split for every seed (a given teacher's split);
    ``callbacks`` go to the trainer (:func:`run_fit`)."""
    args: list[str] = []
    for name in configs:
        args += ["--config", str(CONFIGS / name)]
    if root:
        args.append(f"--data.root={root}")
    seeding = seed_args(seed) if vary_split else [f"--seed_everything={seed}"]
    args += [*seeding, f"--trainer.default_root_dir={workdir}", "--trainer.logger=false", *extra]
    finished = Path(workdir) / "results.json"
    if reuse and finished.exists():
        stored = json.loads(finished.read_text())
        wanted = run_config_hash(*args)
        if stored.get("config_hash") != wanted:
            raise ConfigError(
                f"{finished} was made with another config (hash {str(stored.get('config_hash'))[:12]}, now "
                f"{wanted[:12]}): refusing to reuse it. Use another workdir, or remove {workdir} to run it again.")
        source = stored.get("data_source")
        if source:
            path = Path(source["path"])
            now = content_sha256(path) if path.exists() else "missing"
            if now != source["sha256"]:
                raise ConfigError(
                    f"{finished} was trained on another version of {path} (sha256 {source['sha256'][:12]}, now "
                    f"{now[:12]}): refusing to reuse it. Use another workdir, or remove {workdir} to run it again.")
        return stored
    last = Path(workdir) / "checkpoints" / "last.ckpt"
    if reuse and last.exists():  # resumes; the resume itself refuses a changed config
        args.append(f"--ckpt_path={last}")
    return run_fit(*args, callbacks=callbacks)


@contextlib.contextmanager
def quiet_output() -> Iterator[None]:
    """A run's own output off (its summary line, Lightning's banners and tips, deprecation
    warnings), for the commands that print their own progress per run (compress, grid)."""
    with quiet("lightning.pytorch", "lightning.fabric", "lightning", stdout=True):
        yield
