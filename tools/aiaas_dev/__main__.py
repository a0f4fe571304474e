"""Entry point: ``python -m aiaas_dev serve|event ...``."""

import sys

from aiaas_dev.cli import main

if __name__ == "__main__":
    sys.exit(main())
