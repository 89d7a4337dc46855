"""A one-line progress bar for the load tool's phases."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = sys.stderr if stream is None else stream  # today's, not import time's
        # Not a terminal (CI, a log file): a plain line every few seconds, not a redraw.
        self.tty = self.stream.isatty()
        self._last = 0.0

    def show(self, phase: str, done: float, total: float, detail: str) -> None:
        if not self.tty:
            if time.monotonic() - self._last < 5:
                return
            self._last = time.monotonic()
        width = 24
        filled = int(width * min(1.0, done / total)) if total else width
        bar = "#" * filled + "." * (width - filled)
        line = f"{phase:<7} [{bar}] {detail}"
        self.stream.write(f"\r{line:<120}"[:121] if self.tty else line + "\n")
        self.stream.flush()

    def end(self) -> None:
        self._last = 0.0
        self.stream.write("\n" if self.tty else "")
        self.stream.flush()
