"""The one periodic job: everything that must happen without anybody asking, in order.

``python -m billing_core run-jobs`` (cron) and the web app's periodic task both call ``run_jobs``:

1. reconcile orders whose pay window closed without an IPN (querydr), so a renewal paid at the
   last minute counts before step 3 looks for it;
2. expire trials past their 30 days;
3. renew the plans whose period ended (applying scheduled changes and their retention tasks);
4. delete what is due (retention);
5. open the due auto-renewal orders and reminders.

Every step is idempotent and runs one transaction per workspace or order: running it twice, or
in two processes at once, does each thing once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, Optional

from billing_core.adapters import vnpay
from billing_core.domain.catalog import Catalog
from billing_core.domain.clock import utc_or_now
from billing_core.service_layer import payments, services
from billing_core.service_layer.common import UnitOfWork, catalog_or_default


def run_jobs(
    uow: UnitOfWork,
    config: Optional[vnpay.VnpayConfig] = None,
    now: Optional[datetime] = None,
    catalog: Optional[Catalog] = None,
    session: Any = None,
) -> Dict[str, int]:
    """Run every job once; returns how much each did. ``config`` defaults to ``VNPAY_*`` from the
    environment (``vnpay.ConfigError`` before anything runs when it is unusable)."""
    now, catalog = utc_or_now(now), catalog_or_default(catalog)
    config = config or vnpay.VnpayConfig.from_env()
    reconciled = payments.reconcile_pending(uow, config, now, session=session)
    counts = services.run_plan_jobs(uow, now, catalog)
    renewals = payments.create_renewal_orders(uow, config, now, catalog=catalog)
    return {**counts, **payments.payment_job_counts(reconciled, renewals)}
