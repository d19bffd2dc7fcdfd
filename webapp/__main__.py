"""``python -m webapp``: serve the web app on 127.0.0.1:$HELPDESK_WEB_PORT (8000)."""

import sys

from webapp.app import main

if __name__ == "__main__":
    sys.exit(main())
