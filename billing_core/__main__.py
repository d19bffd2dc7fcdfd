"""``python -m billing_core ...`` (see billing_core.cli)."""
import sys

from billing_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
