"""``python -m deeprestore.stats``: see :mod:`deeprestore.stats.command`."""

import sys

from deeprestore.stats.command import cli

if __name__ == "__main__":
    sys.exit(cli())
