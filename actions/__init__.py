"""Custom actions of the Cleeksy billing assistant (rasa-sdk): thin adapters over billing_core.

`rasa run actions --actions actions` imports this package; importing the modules below
registers every action. Modules:
- texts: the texts only actions send (responses.yml), in the user's language
- context: who is asking (token verified every turn) and in which language
- parsing: plan-change details from folded text (no diacritics, abbreviations, English)
- billing: the single door to billing_core, turning its failures into polite replies
- personal: answers from the asker's own workspace, the general rule otherwise
- forms: check_change_form (product, tier, cycle, seats) and its decision
- checkout: checkout_form (quote, renewal, confirmation, VNPAY link) and payment status
- feedback: "Was this helpful?"
- handoff: a request to talk to a person (the conversation held for the support desk)
"""
import sys

from actions import checkout, feedback, forms, handoff, personal  # noqa: F401  (registers the actions)
from helpdesk import settings

# Read and checked once at start: the action server refuses to start with a missing or demo token
# secret in production (or a private one in demo mode) rather than accept forgeable identities.
print(f"action server {settings.current().banner()}", file=sys.stderr, flush=True)
