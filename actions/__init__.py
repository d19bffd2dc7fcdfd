"""Custom actions of the Cleeksy billing assistant (rasa-sdk): thin adapters over billing_core.

`rasa run actions --actions actions` imports this package; importing the modules below
registers every action. Modules:
- texts: the texts only actions send (responses.yml), in the user's language
- context: who is asking (token verified every turn) and in which language
- parsing: plan-change details from folded text (no diacritics, abbreviations, English)
- billing: the single door to billing_core, turning its failures into polite replies
- personal: answers from the asker's own workspace, the general rule otherwise
- forms: what the plan forms share (answers read from entities and folded text, stopping a form)
- questions: "can I X?" answered with billing_core's decision; follow-ups in the last topic's context
- downgrade: downgrade_form, the article's downgrade steps ending in a scheduled downgrade
- checkout: checkout_form (quote, renewal, confirmation, VNPAY link) and payment status
- feedback: "Was this helpful?"
- handoff: a request to talk to a person (the conversation held for the support desk)
"""

import sys

from actions import checkout, downgrade, feedback, forms, handoff, personal, questions  # noqa: F401  (registers the actions)
from helpdesk import settings

# Read and checked once at start: the action server refuses to start with a missing or demo token
# secret in production (or a private one in demo mode) rather than accept forgeable identities.
print(f"action server {settings.current().banner()}", file=sys.stderr, flush=True)
