"""Where a number came from: the package version and, for a source checkout, the git commit
and whether the working tree had uncommitted changes. Recorded in every ``results.json``
and results-table header, beside the run's config hash."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

from . import __version__


@functools.lru_cache(maxsize=1)
def code_provenance() -> dict[str, Any]:
    """``{"version", "commit", "dirty"}``; ``commit`` and ``dirty`` are ``None`` where the
    package is not run from a git checkout (an installed wheel)."""
    source = Path(__file__).resolve().parent
    found: dict[str, Any] = {"version": __version__, "commit": None, "dirty": None}
    try:
        top = _git(source, "rev-parse", "--show-toplevel")
        if not (Path(top) / "src" / "graphdistill").resolve() == source:
            return found  # some other repository around an installed package
        found["commit"] = _git(source, "rev-parse", "HEAD")
        found["dirty"] = bool(_git(source, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def describe(provenance: dict[str, Any]) -> str:
    """One line: ``graphdistill 0.1.0, commit 1a2b3c4 (uncommitted changes)``."""
    text = f"graphdistill {provenance['version']}"
    if provenance.get("commit"):
        text += f", commit {provenance['commit'][:7]}" + (" (uncommitted changes)" if provenance.get("dirty") else "")
    return text


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True,
                          timeout=10).stdout.strip()
