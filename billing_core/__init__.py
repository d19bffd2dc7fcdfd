"""Cleeksy billing core: catalog, plan-change rules, quotes, retention, subscriptions, VNPAY.

Plain Python: it never imports Rasa. The pure domain (``billing_core.domain``, ``catalog``,
``messages``, ``errors``) imports no SQLAlchemy either; persistence lives in ``adapters``.
"""

__version__ = "0.1.0"
