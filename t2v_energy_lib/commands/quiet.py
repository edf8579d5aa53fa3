"""Keep the console for what the user needs: library output of a long run goes to a log file.

Diffusers, transformers and torch write warnings during a run (CLIP's prompt truncation, CPU autocast notes,
the profiler's start/stop lines from C++): on the CPU main job that was ~58 KB of repeated lines around the
progress. :func:`library_output_to` sends everything written to the process's stderr (Python warnings,
library loggers, and C/C++ writes to file descriptor 2) to a log file for the duration of the run, and
reports how many lines went there, so that the console shows progress, results and one line saying where the
rest is. This project's own warnings (e.g. an energy window too short for the counter) stay on the console.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass
class LibraryOutput:
    """Where library output went and how much of it there was.

    Attributes:
        path: The log file (None: left on the console).
        lines: Lines written to it during the run.
    """

    path: Path | None
    lines: int = 0

    def summary(self) -> str | None:
        """One line for the console (None when nothing was written)."""
        if self.path is None or self.lines == 0:
            return None
        return f"library output: {self.lines} line(s) of warnings and messages written to {self.path}"


def _own_warnings_to(console: TextIO, show: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that keeps this project's own warnings (e.g. a too-short energy window) on
    the console and sends the others (the libraries') to ``sys.stderr``, i.e. the log."""

    def showwarning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        ours = category.__module__.startswith("t2v_energy_lib")
        show(message, category, filename, lineno, console if ours else file, line)
        if ours:
            console.flush()

    return showwarning


@contextmanager
def library_output_to(path: Path | None) -> Iterator[LibraryOutput]:
    """Redirect the process's stderr (file descriptor 2 and ``sys.stderr``) to ``path``, appending.

    With ``path=None`` nothing is redirected (verbose mode). Standard output (progress) is untouched, and the
    redirection ends before the caller prints errors: a failure is still reported on the console.

    Yields:
        A :class:`LibraryOutput` whose ``lines`` is filled in when the block ends.
    """
    result = LibraryOutput(path)
    if path is None:
        yield result
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", errors="replace") as log:
        log.write(f"== {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {' '.join(sys.argv)}\n")
        log.flush()
        start = log.tell()
        sys.stderr.flush()
        saved_fd, saved_stream, saved_show = os.dup(2), sys.stderr, warnings.showwarning
        console = os.fdopen(os.dup(saved_fd), "w", encoding="utf-8", errors="replace")
        os.dup2(log.fileno(), 2)
        sys.stderr = log
        warnings.showwarning = _own_warnings_to(console, saved_show)
        try:
            yield result
        finally:
            log.flush()
            warnings.showwarning = saved_show
            sys.stderr = saved_stream
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            console.close()
    with path.open("rb") as handle:
        handle.seek(start)
        result.lines = sum(1 for _ in handle)
