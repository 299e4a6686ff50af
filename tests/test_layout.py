"""The package's layers: every import inside graphdistill runs downward (or within one package)."""

from __future__ import annotations

import ast
from pathlib import Path

import graphdistill

#: lowest first; a module may import its own package and anything in a lower layer
LAYERS = [
    {"__init__"},  # the version
    {"errors"},  # the one-line error types
    {"provenance", "config_files", "console"},
    {"models", "reporting"},  # reporting: tables and their provenance headers only
    {"data"},
    {"distill"},
    {"training"},
    {"callbacks", "evaluation", "export"},
    {"lightning_cli"},
    {"experiments"},
    {"cli"},
]
ROOT = Path(graphdistill.__file__).parent


def _layer(unit: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def _imports(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """The top-level graphdistill units that ``path`` (a file under ``root``) imports, with line numbers."""
    package = list(path.relative_to(root).parent.parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            parts = base + (node.module.split(".") if node.module else [])
            found.append((parts[0] if parts else "__init__", node.lineno))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("graphdistill."):
            found.append((node.module.split(".")[1], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name.split(".")[1], node.lineno) for a in node.names if a.name.startswith("graphdistill.")]
    return found


def test_every_import_inside_the_package_runs_downward():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        unit = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for target, line in _imports(path):
            if target != unit and _layer(target) >= _layer(unit):
                upward.append(f"{rel}:{line} imports {target} ({unit} is layer {_layer(unit)}, {target} is "
                              f"layer {_layer(target)})")
    assert not upward, "\n".join(upward)


def test_the_layer_check_sees_an_upward_import(tmp_path):
    # models importing training, or the command: caught (a test that cannot fail is worse than none)
    fake = tmp_path / "models" / "bad.py"
    fake.parent.mkdir()
    fake.write_text("from ..training import plain\nfrom graphdistill.cli import main\nimport graphdistill.data.files\n")
    targets = [t for t, _ in _imports(fake, tmp_path)]
    assert targets == ["training", "cli", "data"]
    assert [_layer(t) >= _layer("models") for t in targets] == [True, True, True]


def test_every_script_imports_and_answers_help():
    """A script whose import broke in a move (as ``graphdistill.reporting.runs`` once did) fails here."""
    import subprocess
    import sys

    scripts = sorted((ROOT.parents[1] / "scripts").rglob("*.py"))
    assert scripts
    procs = {script: subprocess.Popen([sys.executable, str(script), "--help"], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for script in scripts}  # all at once
    for script, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "usage" in out.lower(), f"{script.name}: {err[-1000:]}"
