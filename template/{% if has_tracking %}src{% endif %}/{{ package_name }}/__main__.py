"""`python -m` with this package's name runs its command line (cli.py)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
