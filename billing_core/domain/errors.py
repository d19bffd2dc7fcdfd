"""Typed errors of billing_core: a stable ``code`` plus plain ``params``.

The text shown to people lives in ``billing_core.domain.messages`` (the one place with Vietnamese and
English): ``messages.render_error(error, lang, catalog)``. This module imports nothing of the
project, so the catalog, the rules and the messages may all raise these errors without an import
cycle; ``str(error)`` is the code and its parameters, for logs and tracebacks.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple


class BillingError(Exception):
    """Bad input or a refused operation. Raised before anything is written."""

    code = "BILLING_ERROR"

    def __init__(self, params: Optional[Dict[str, Any]] = None, code: Optional[str] = None):
        self.params: Dict[str, Any] = dict(params or {})
        if code is not None:
            self.code = code
        super().__init__(self.code)

    def __str__(self) -> str:
        return f"{self.code} {self.params}" if self.params else self.code

    def to_dict(self) -> Dict[str, Any]:
        """Code and parameters (``billing_core.error_json`` adds the texts)."""
        return {"code": self.code, "params": dict(self.params)}


class CatalogError(BillingError):
    """The catalog file is malformed: names the file, the entry and the problem (operator-facing)."""

    code = "CATALOG_INVALID"

    def __init__(self, file: str, entry: str, problem: str):
        self.file, self.entry, self.problem = str(file), entry, problem
        super().__init__({"file": self.file, "entry": entry, "problem": problem})

    def __str__(self) -> str:
        return f"{self.file}: {self.entry}: {self.problem}"


class InvalidRequestError(BillingError):
    """Input that cannot be turned into a change request."""

    code = "INVALID_REQUEST"


class UnknownProductError(InvalidRequestError):
    code = "UNKNOWN_PRODUCT"


class UnknownTierError(InvalidRequestError):
    code = "UNKNOWN_TIER"


class UnknownCycleError(InvalidRequestError):
    code = "UNKNOWN_CYCLE"


class InvalidSeatsError(InvalidRequestError):
    code = "INVALID_SEATS"


class UnknownCapacityKindError(InvalidRequestError):
    code = "UNKNOWN_CAPACITY_KIND"


class InvalidCapacityAmountError(InvalidRequestError):
    code = "INVALID_CAPACITY_AMOUNT"


class InvalidRenewalModeError(InvalidRequestError):
    code = "INVALID_RENEWAL_MODE"


class WorkspaceNotFoundError(BillingError):
    code = "WORKSPACE_NOT_FOUND"


class OrderNotFoundError(BillingError):
    code = "ORDER_NOT_FOUND"


class OrderNotPendingError(BillingError):
    """The order is final (paid, failed, expired or cancelled): it cannot be cancelled any more."""

    code = "ORDER_NOT_PENDING"


class ChangeNotAllowedError(BillingError):
    """Someone tried to apply a change the rules refuse (or to apply it the wrong way)."""

    code = "CHANGE_NOT_ALLOWED"


class SurveyAnswerRequiredError(BillingError):
    code = "SURVEY_ANSWER_REQUIRED"


class ConfirmationRequiredError(BillingError):
    code = "CONFIRMATION_REQUIRED"


class NoScheduledChangeError(BillingError):
    code = "NO_SCHEDULED_CHANGE"


class ConcurrentUpdateError(BillingError):
    """Another change to the same workspace was saved first; nothing of this one was written."""

    code = "CONCURRENT_UPDATE"


class PaymentConfigError(BillingError):
    code = "PAYMENT_CONFIG_MISSING"


def error_codes() -> Tuple[str, ...]:
    """Every error code of every BillingError subclass imported so far (the messages test uses it)."""
    seen, stack = set(), [BillingError]
    while stack:
        cls = stack.pop()
        seen.add(cls.code)
        stack.extend(cls.__subclasses__())
    return tuple(sorted(seen))
