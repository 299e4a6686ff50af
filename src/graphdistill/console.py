"""What a command prints: library logging, warnings and a run's own output turned off while
graphdistill prints its own progress (compress, grid, export)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet(*loggers: str, stdout: bool = False) -> Iterator[None]:
    """The named loggers at ERROR, every warning ignored and, with ``stdout``, standard output
    discarded, for the duration; the loggers' levels restored after."""
    named = [logging.getLogger(name) for name in loggers]
    levels = [logger.level for logger in named]
    for logger in named:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), (contextlib.redirect_stdout(io.StringIO()) if stdout
                                         else contextlib.nullcontext()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(named, levels):
            logger.setLevel(level)
