"""Progress of long work: a progress bar on a terminal, one plain line per finished step
otherwise (a log file or a pipe keeps every line, and no control characters)."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

from tqdm import tqdm


class Progress:
    """Count finished steps out of ``total`` (which may be learned later, ``set_total``)."""

    def __init__(
        self,
        total: int | None,
        *,
        unit: str,
        description: str = "",
        stream: TextIO | None = None,
        indent: str = "",
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.indent = indent
        self.finished = 0
        is_terminal = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._bar = (
            tqdm(total=total, unit=unit, desc=indent + description, file=self.stream, leave=True)
            if is_terminal
            else None
        )

    def set_total(self, total: int) -> None:
        if self._bar is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def starting(self, label: str) -> None:
        """Show what runs now (on the bar; nothing in plain mode)."""
        if self._bar is not None:
            self._bar.set_postfix_str(label)

    def finished_step(self, message: str, *, notable: bool = False) -> None:
        """One step is done: advance the bar (and keep ``message`` above it when ``notable``),
        or print ``message`` as a line of its own."""
        self.finished += 1
        if self._bar is None:
            print(self.indent + message, file=self.stream, flush=True)
            return
        self._bar.update(1)
        if notable:
            self._bar.write(self.indent + message, file=self.stream)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str("")
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
