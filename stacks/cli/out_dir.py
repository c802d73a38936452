"""The preview's out folder, replaced as a whole: one run's files or the previous run's, never a mix.

A run writes into a fresh folder beside the out folder and moves it into place at the end
(`StagedOutput.commit`). A run that stops early (an error, Ctrl-C) leaves the previous complete
output, or none; a policy report therefore never sits beside a plan it did not judge, and files
of an earlier run that this one does not write (`--no-policy`: no reports) are gone.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: Everything a preview writes into its out folder. Other entries there (CI's preview.log, which
#: `tee` is still writing, a summary) are not the preview's: they move into the new folder as they are.
OUTPUTS = frozenset({"plan.json", "diff.json", "manifests", "onprem",
                     "policy-report.json", "policy-report.sarif"})


class OutDirError(Exception):
    """The out folder cannot be used or replaced (a usage error, or the file system refused)."""


def check_out_dir(out_dir: Path, *keep_out: Path) -> None:
    """Refuse an out folder the run would replace along with what it holds (the project, the cwd)."""
    target = out_dir.resolve()
    if target.exists() and not target.is_dir():
        raise OutDirError(f"--out {out_dir}: is a file, not a folder")
    for inner in keep_out:
        if inner.resolve().is_relative_to(target):
            raise OutDirError(f"--out {out_dir}: holds {inner}; each preview replaces its out folder "
                              "as a whole, so give it a folder of its own (default build/STACK)")


@contextmanager
def _no_interrupt() -> Iterator[None]:
    """Hold Ctrl-C back while the folders are swapped; it takes effect right after."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class StagedOutput:
    """A run's files, written into `self.dir` and moved to `target` by `commit` (else discarded)."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._final = target.resolve()
        self._final.parent.mkdir(parents=True, exist_ok=True)
        # Beside the target: same file system, so the moves below are renames. Not mkdtemp: the
        # folder becomes the out folder, with the usual permissions (umask), not 0700.
        while True:
            self.dir = self._final.with_name(f".{self._final.name}.partial-{secrets.token_hex(4)}")
            try:
                self.dir.mkdir()
                break
            except FileExistsError:
                continue
        self._committed = False

    def shown(self, path: Path) -> Path:
        """Where a file written under `self.dir` will be once committed (what to tell the user)."""
        return self.target / path.relative_to(self.dir)

    def commit(self, keep: Iterable[str] = ()) -> None:
        """Move the new folder into place; entries not in OUTPUTS, and those named in `keep`, carry over.

        Old folder aside, new folder in, carried entries across, old folder deleted: between the
        first two renames there is no out folder (never a partial one); Ctrl-C waits until the end.
        """
        carried = set(keep)
        old = self.dir.with_name(self.dir.name + ".old")
        with _no_interrupt():
            had_old = self._final.is_dir()
            try:
                if had_old:
                    os.rename(self._final, old)
                try:
                    os.rename(self.dir, self._final)
                except OSError:
                    if had_old:
                        os.rename(old, self._final)
                    raise
            except OSError as err:
                raise OutDirError(f"cannot move the new output into {self.target}: {err}") from None
            self._committed = True
            if had_old:
                for entry in os.listdir(old):
                    if (entry not in OUTPUTS or entry in carried) and not (self._final / entry).exists():
                        os.rename(old / entry, self._final / entry)
                shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        if not self._committed:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> StagedOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()
