"""The configs that ship inside the package (``graphdistill/configs/``, package data), and how
a ``--config`` path finds them from any folder.

``--config configs/cora/gcn.yaml`` (or ``cora/gcn.yaml``) names a packaged config: a path
that exists (relative to the current folder, or absolute) is used as it is, so your own
configs always win; otherwise the name is looked up under :data:`CONFIG_DIR`. So the
README's commands work from a source checkout, from any other folder, and from an
installed wheel alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

#: the packaged configs: <dataset>/ (teachers, students), methods/, experiments/ (grids),
#: data/, trainer/, sweeps/
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def resolve_config(path: str | Path) -> Path:
    """``path`` itself if it exists, else the packaged config it names (with or without a
    leading ``configs/``), else ``path`` unchanged (the caller reports it missing)."""
    given = Path(path).expanduser()
    if given.exists():
        return given
    parts = given.parts
    name = Path(*parts[1:]) if parts and parts[0] == "configs" and len(parts) > 1 else given
    packaged = CONFIG_DIR / name
    return packaged if not given.is_absolute() and packaged.is_file() else given


def resolve_config_args(args: list[str]) -> list[str]:
    """Command-line arguments with every ``--config PATH`` / ``--config=PATH`` resolved by
    :func:`resolve_config`."""
    resolved: list[str] = []
    take_next = False
    for arg in args:
        if take_next:
            resolved.append(str(resolve_config(arg)))
            take_next = False
        elif arg in ("--config", "-c"):
            resolved.append(arg)
            take_next = True
        elif arg.startswith("--config="):
            resolved.append("--config=" + str(resolve_config(arg.split("=", 1)[1])))
        else:
            resolved.append(arg)
    return resolved


def read_yaml(path: str | Path, what: str = "Config") -> Any:
    """A YAML file's content, or one line naming ``what``, the file and the line where it is not
    valid YAML (the file must exist)."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{what} {path}{where}: not valid YAML ({getattr(err, 'problem', None) or err}).") from None
