"""What a training run tells the person watching it.

Status lines (what the run will do, each evaluation, why it stopped) go to stdout, where the
results go; the progress goes to stderr: a bar on a terminal, and where stderr is a file or a pipe
a plain step line about once a minute instead of carriage-return frames (a log stays readable and
small). ``progress=False`` (``--quiet``) drops the progress only; ``lines=False`` (``--silent``,
and the Python API unless verbose) drops the status lines too.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from tqdm.auto import tqdm

STEP_LINE_EVERY_S = 60.0  # seconds between step lines where stderr is not a terminal


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or no such method
        return False


class RunConsole:
    """A run's status lines and its progress (``total`` steps, ``initial`` already done)."""

    def __init__(self, total: int, initial: int, desc: str, progress: bool, lines: bool,
                 clock: Callable[[], float] = time.monotonic, every_s: float = STEP_LINE_EVERY_S):
        self.total, self.lines, self.clock, self.every_s = total, lines, clock, every_s
        terminal = is_terminal(sys.stderr)
        self.step_lines = progress and not terminal
        self.bar = tqdm(total=total, initial=initial, unit="step", disable=not (progress and terminal),
                        dynamic_ncols=True, desc=desc)
        self.last_line_at = clock()
        self.started_at = clock()

    def say(self, text: str) -> None:
        """One status line on stdout (above the bar, when there is one)."""
        if self.lines:
            self.bar.write(text, file=sys.stdout)
            sys.stdout.flush()

    def step(self, done: int, postfix: dict[str, str]) -> None:
        """``done`` steps in all; ``postfix``: the figures of the last log window, for the bar and
        for a step line (at most one per ``every_s`` seconds)."""
        self.bar.update(done - self.bar.n)
        if postfix:
            self.bar.set_postfix(postfix)
        now = self.clock()
        if self.step_lines and postfix and now - self.last_line_at >= self.every_s:
            self.last_line_at = now
            figures = "  ".join(f"{k} {v}" for k, v in postfix.items())
            print(f"step {done}/{self.total} ({100 * done / max(self.total, 1):.0f} %, {_clock(now - self.started_at)}): "
                  f"{figures}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.bar.close()


def _clock(seconds: float) -> str:
    """``h:mm:ss``."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
