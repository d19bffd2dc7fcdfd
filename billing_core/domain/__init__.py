"""The pure billing domain: entities, plan-change rules, quotes, retention (no SQLAlchemy, no Rasa).

Entry points: ``rules.decide``, ``quotes.quote``, ``retention.preview`` /
``retention.tasks_for_change`` / ``retention.execute_due``, and the state changes in ``changes``.
"""
