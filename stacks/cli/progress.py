"""What a preview shows while it runs: resources registered so far, and each phase's duration.

On a terminal one line updates in place; in a log (CI) a line every few seconds, so a
pull request's log is never silent for long, and each phase ends with its time.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from stacks.preview.offline import Captured

#: Seconds between progress lines in a log.
LOG_EVERY = 5.0


class Progress:
    """Counts registrations on `stream`; `expected` (the last plan's size) gives a total.

    In a log a ticker thread writes the count every `LOG_EVERY` seconds from the start, so the
    seconds spent importing the SDKs and validating before the first registration show too.
    """

    def __init__(self, expected: int | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.expected = expected
        self.count = 0
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if not self.live:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()

    def _counted(self) -> str:
        return f"{self.count} of ~{self.expected}" if self.expected else str(self.count)

    def _tick(self) -> None:
        while not self._stop.wait(LOG_EVERY):
            elapsed = f"({time.monotonic() - self.started:.0f} s)"
            self.stream.write(f"  registered {self._counted()} resources {elapsed}\n" if self.count
                              else f"  loading the SDKs and checking the config {elapsed}\n")
            self.stream.flush()

    def __call__(self, record: Captured) -> None:
        self.count += 1
        if self.live:
            self.stream.write(f"\r  registering resources: {self._counted()} ({record.type})\x1b[K")
            self.stream.flush()

    def stop(self) -> None:
        """Stop the ticker (also when the run fails)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()

    def done(self) -> None:
        self.stop()
        if self.live:
            self.stream.write("\r\x1b[K")
        self.stream.write(f"  program: {self.count} resources registered in "
                          f"{time.monotonic() - self.started:.1f} s\n")
        self.stream.flush()


class Phase:
    """`with Phase("manifests"):` ends with one line naming the phase and its duration."""

    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        self.name = name
        self.stream = stream or sys.stderr

    def __enter__(self) -> Phase:
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.stream.write(f"  {self.name}: {time.monotonic() - self.started:.1f} s\n")
            self.stream.flush()
