"""`python -m monitor` runs the same CLI as the `monitor` command."""

import sys

from monitor.cli import main

# The guard matters: extraction workers (forkserver) import the main module again.
if __name__ == "__main__":
    sys.exit(main())
