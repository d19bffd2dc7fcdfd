"""``python -m helpdesk.migrations``: bring the assistant's tables to head (``make run`` does it)."""

from helpdesk.migrations import current_revision, upgrade_head

upgrade_head()
print(f"conversation store at revision {current_revision()}")
