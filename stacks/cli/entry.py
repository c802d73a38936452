"""The `hybrid-ml` command: `main` with Ctrl-C also handled while the SDKs are still loading.

Importing `stacks.cli.main` loads the Pulumi SDKs (seconds); a Ctrl-C then must end like one
later on (`main` handles those): one line and exit code 130, no traceback.
"""

import sys

try:
    from stacks.cli.main import main
except KeyboardInterrupt:
    sys.stderr.write("hybrid-ml: interrupted\n")
    sys.exit(130)  # EXIT_INTERRUPTED of stacks.cli.main, which did not load


def run() -> None:
    sys.exit(main())
