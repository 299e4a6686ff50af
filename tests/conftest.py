"""Shared fixtures. Real datasets come from one setting, ``GRAPHDISTILL_TEST_DATASETS``
(default ``../shared/datasets`` beside the repository); tests that need them skip, with
the reason, where that folder is absent."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATASETS_ENV = "GRAPHDISTILL_TEST_DATASETS"


def shared_datasets_dir() -> Path:
    return Path(os.environ.get(DATASETS_ENV, REPO.parent / "shared" / "datasets")).expanduser()


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Keep every dataset mirror and teacher cache the tests make out of the user's cache."""
    old = os.environ.get("GRAPHDISTILL_CACHE")
    os.environ["GRAPHDISTILL_CACHE"] = str(tmp_path_factory.mktemp("graphdistill-cache"))
    yield
    if old is None:
        os.environ.pop("GRAPHDISTILL_CACHE", None)
    else:
        os.environ["GRAPHDISTILL_CACHE"] = old


@pytest.fixture(scope="session")
def datasets_root(tmp_path_factory) -> Path:
    """A writable copy of the real datasets folder."""
    src = shared_datasets_dir()
    if not src.is_dir():
        pytest.skip(f"real datasets not found at {src} (set {DATASETS_ENV} to the shared datasets folder)")
    dst = tmp_path_factory.mktemp("datasets")
    shutil.copytree(src, dst, dirs_exist_ok=True)
    for path in [dst, *dst.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return dst


def config(name: str) -> str:
    from graphdistill.config_files import CONFIG_DIR

    return str(CONFIG_DIR / name)


@pytest.fixture(scope="session")
def synthetic_teacher(tmp_path_factory) -> str:
    """A GCN teacher on the synthetic graph (30 epochs), trained once per test session."""
    from graphdistill.lightning_cli import run_fit

    out = tmp_path_factory.mktemp("teacher")
    result = run_fit("--config", config("synthetic/gcn.yaml"), "--trainer.max_epochs=30",
                     f"--trainer.default_root_dir={out}", "--trainer.logger=false")
    return result["best_checkpoint"]


@pytest.fixture
def fit(tmp_path):
    """Run ``graphdistill fit`` in-process with logs and checkpoints under ``tmp_path``."""
    from graphdistill.lightning_cli import run_fit

    runs = iter(range(1_000_000))

    def _fit(*args: str) -> dict:
        run_dir = tmp_path / f"run{next(runs)}"
        return run_fit(*args, f"--trainer.default_root_dir={run_dir}", "--trainer.logger=false")

    return _fit
