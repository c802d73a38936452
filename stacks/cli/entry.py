"""The `hybrid-ml` command: `main` with Ctrl-C also handled while the SDKs are still loading.

Importing `stacks.cli.main` loads the Pulumi SDKs (seconds); a Ctrl-C then must end like one
later on (`main` handles those): one line and exit code 130, no traceback.
"""

import os
import sys

from stacks.cli.status import EXIT_INTERRUPTED


def _leave_interrupted() -> None:
    """Exit at once: an interrupted run can leave the SDK's event loop half-closed and server or
    worker threads waiting on a peer that is gone. Interpreter shutdown would wait for those
    threads (a hang) or print the loop's teardown traceback; nothing of it is worth either.
    Every `finally` of the run (staged output removed, the policy pack stopped) has run by now."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


try:
    from stacks.cli.main import main
except KeyboardInterrupt:
    sys.stderr.write("hybrid-ml: interrupted\n")
    _leave_interrupted()


def run() -> None:
    code = main()
    if code == EXIT_INTERRUPTED:
        _leave_interrupted()
    sys.exit(code)
