"""``python -m graders COMMAND ...``: see graders/cli.py (``python -m graders --help``)."""

import sys

from graders.cli import main

if __name__ == "__main__":
    sys.exit(main())
