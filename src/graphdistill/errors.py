"""Errors that mean "the input is wrong", each with a message saying what to do.

The ``graphdistill`` command prints these as one line (``graphdistill: error: ...``) and
exits with status 2; anything else is a bug and keeps its traceback. Advice that does not stop
a run (:class:`GraphDistillWarning`) is one line too, ``graphdistill: warning: ...``.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any


class GraphDistillError(Exception):
    """Base class of user-facing errors."""


class ConfigError(GraphDistillError, ValueError):
    """An option has a value graphdistill cannot use (unknown name, widths that do not fit)."""


class DatasetNotFoundError(GraphDistillError, FileNotFoundError):
    """A dataset's files are not where the configuration says."""


class DatasetFileError(GraphDistillError):
    """A dataset file is corrupt, truncated, or holds more than data."""


class CheckpointError(GraphDistillError):
    """A checkpoint is missing, truncated, refused (it would run code) or cannot be written."""


class TeacherCheckpointError(CheckpointError):
    """A teacher checkpoint is missing, corrupt, or does not fit the data or the run."""


class ResumeError(GraphDistillError):
    """A run cannot resume from the given checkpoint: its config or data differ."""


class GraphDistillWarning(UserWarning):
    """Advice for the user that does not stop the run (an input ignored, a cache recomputed)."""


class NonFiniteLossError(GraphDistillError):
    """A loss term became NaN or infinite during training; the run stops, keeping its last
    good checkpoint."""


def user_error(err: BaseException) -> GraphDistillError | None:
    """The :class:`GraphDistillError` behind ``err``, also when a library wrapped it (as
    jsonargparse does while instantiating a class from a config); ``None`` for a bug."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, GraphDistillError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def exit_on_user_error(main: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command's ``main``: a user's mistake prints one line
    (``graphdistill: error: ...``) and exits with status 2; a bug keeps its traceback."""

    @functools.wraps(main)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            with one_line_warnings():
                return main(*args, **kwargs)
        except Exception as err:
            found = user_error(err)
            if found is None:
                raise
            print(f"graphdistill: error: {found}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapped


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """While it lasts, a :class:`GraphDistillWarning` prints as ``graphdistill: warning: ...`` (one line, no
    source location); other warnings print as Python prints them."""
    original = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        if issubclass(category, GraphDistillWarning):
            print(f"graphdistill: warning: {message}", file=file if file is not None else sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original
