#!/usr/bin/env python
"""Print a signed demo token for a workspace, as the host application would pass it.

    python scripts/demo_token.py demo-monthly                 # a customer of demo-monthly
    python scripts/demo_token.py demo-monthly --role agent    # a support agent
    python scripts/demo_token.py demo-trial --minutes 5       # expires in 5 minutes

Signed with HELPDESK_JWT_SECRET (the documented demo secret when unset, outside production).
Send it in the message metadata: {"sender": ..., "message": ..., "metadata": {"token": "<this>"}}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing_core import DEMO_WORKSPACE_IDS as DEMO_WORKSPACES  # noqa: E402
from helpdesk.identity import ROLES, IdentityConfigError, issue_token  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", help="workspace id, e.g. " + ", ".join(DEMO_WORKSPACES[:3]) + ", ...")
    parser.add_argument("--role", choices=ROLES, default="customer")
    parser.add_argument("--minutes", type=int, default=60, help="lifetime in minutes (default 60)")
    parser.add_argument("--sub", default=None, help="user id (default: demo-<role>-<workspace>)")
    args = parser.parse_args(argv)
    if args.role == "customer" and args.workspace not in DEMO_WORKSPACES:
        print(
            f"note: {args.workspace!r} is not one of the demo workspaces: {', '.join(DEMO_WORKSPACES)}", file=sys.stderr
        )
    try:
        print(
            issue_token(
                args.sub or f"demo-{args.role}-{args.workspace}", args.workspace, role=args.role, minutes=args.minutes
            )
        )
    except (IdentityConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
