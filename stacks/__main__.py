import sys

from stacks.cli.main import main

sys.exit(main())
