"""``python -m billing_core ...`` (see billing_core.entrypoints.cli)."""

import sys

from billing_core.entrypoints.cli import main

if __name__ == "__main__":
    sys.exit(main())
