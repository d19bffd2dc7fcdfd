"""VNPAY gateway client: configuration, signing, payment URL, verification, querydr.

Pure Python (no web framework, no database): every fact follows ``shared/reference/vnpay.md``.

Signing decisions worth knowing:
- The signed string is every ``vnp_*`` parameter except the hash itself, sorted by key, each
  ``key=quote_plus(value)``, joined with ``&``; HMAC-SHA512, lower-case hex.
- Empty values are left out of the signed string, as VNPAY's official Java and .NET demos do
  (we never send an empty value ourselves, so both encoders agree on our links).
- A parameter given more than once is ambiguous (which value did VNPAY sign?): it never
  verifies (``AmbiguousParams``), rather than silently taking one of the values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote_plus, urlparse

from billing_core import settings
from billing_core.domain.clock import VIETNAM, as_utc  # noqa: F401  (as_utc is part of this module's API)

log = logging.getLogger(__name__)

API_VERSION = "2.1.0"
PAYMENT_TTL = timedelta(minutes=15)  # VNPAY's demos expire a payment link after 15 minutes
DATE_FORMAT = "%Y%m%d%H%M%S"  # VNPAY's yyyyMMddHHmmss

SECURE_HASH_KEYS = ("vnp_SecureHash", "vnp_SecureHashType")

# Demo mode only (HELPDESK_MODE=demo). Known to everyone on purpose: it signs links for the
# local stand-in of the payment page and must never reach production (from_env refuses it).
DEMO_TMN_CODE = "CLKDEMO1"
DEMO_HASH_SECRET = "cleeksy-demo-secret-NOT-FOR-PRODUCTION"
LOCAL_SANDBOX_PREFIX = "/sandbox/vnpay"
DEMO_PAYMENT_URL = f"http://localhost:8000{LOCAL_SANDBOX_PREFIX}/paymentv2/vpcpay.html"
DEMO_RETURN_URL = "http://localhost:8000/vnpay/return"
DEMO_API_URL = f"http://localhost:8000{LOCAL_SANDBOX_PREFIX}/merchant_webapi/api/transaction"

# The real VNPAY sandbox, for reference (not reachable from the build machines).
VNPAY_SANDBOX_PAYMENT_URL = "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html"
VNPAY_SANDBOX_API_URL = "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction"

MODES = ("demo", "production")


# Vietnam has no daylight saving: a fixed +07:00 equals Asia/Ho_Chi_Minh, with no tzdata needed.
VIETNAM_TZ = VIETNAM


class VnpayError(Exception):
    """Base of the gateway client's errors."""


class ConfigError(VnpayError):
    """The VNPAY configuration is missing or unsafe: the app must not start."""

    def __init__(self, message: str, missing: Iterable[str] = ()):
        super().__init__(message)
        self.missing = tuple(missing)


class AmbiguousParams(VnpayError):
    """A ``vnp_*`` parameter was given more than once."""


class GatewayUnavailable(VnpayError):
    """VNPAY's API could not be reached (after the bounded retries)."""


class BadGatewayResponse(VnpayError):
    """VNPAY's API answered something that is not a correctly signed JSON answer."""


@dataclass(frozen=True)
class VnpayConfig:
    tmn_code: str
    hash_secret: str = field(repr=False)
    payment_url: str = DEMO_PAYMENT_URL
    return_url: str = DEMO_RETURN_URL
    api_url: str = DEMO_API_URL
    mode: str = "demo"
    order_type: str = "other"

    @property
    def uses_local_sandbox(self) -> bool:
        """Whether payment links go to the local stand-in of the payment page (not VNPAY)."""
        return urlparse(self.payment_url).path.startswith(LOCAL_SANDBOX_PREFIX + "/")

    @classmethod
    def from_env(cls, mode: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> "VnpayConfig":
        """Read ``VNPAY_*`` from billing_core.settings (or ``environ``); refuse an unsafe production configuration.

        Production needs every value explicitly (no built-in key, no localhost defaults);
        demo mode falls back to the documented demo terminal and the local stand-in.
        """
        try:
            read = settings.current() if environ is None else settings.BillingSettings.from_env(environ)
        except settings.SettingsError as problem:
            raise ConfigError(str(problem)) from None
        mode = (mode or read.mode).strip().lower()
        if mode not in MODES:
            raise ConfigError(f"HELPDESK_MODE must be 'demo' or 'production', not {mode!r}")

        names = settings.VNPAY_NAMES
        given = {name: read.vnpay.get(name, "") for name in names}
        if mode == "production":
            missing = [name for name in names if not given[name]]
            if missing:
                raise ConfigError(
                    "production mode needs the VNPAY merchant settings; missing or empty: "
                    + ", ".join(missing)
                    + " (VNPAY sends the terminal code and hash secret when the merchant registers)",
                    missing,
                )
            if given["VNPAY_HASH_SECRET"] == DEMO_HASH_SECRET:
                raise ConfigError("VNPAY_HASH_SECRET is the public demo secret: set the merchant's own secret")
        config = cls(
            tmn_code=given["VNPAY_TMN_CODE"] or DEMO_TMN_CODE,
            hash_secret=given["VNPAY_HASH_SECRET"] or DEMO_HASH_SECRET,
            payment_url=given["VNPAY_PAYMENT_URL"] or DEMO_PAYMENT_URL,
            return_url=given["VNPAY_RETURN_URL"] or DEMO_RETURN_URL,
            api_url=given["VNPAY_API_URL"] or DEMO_API_URL,
            mode=mode,
        )
        for name, url in (
            ("VNPAY_PAYMENT_URL", config.payment_url),
            ("VNPAY_RETURN_URL", config.return_url),
            ("VNPAY_API_URL", config.api_url),
        ):
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ConfigError(f"{name} must be an http(s) URL, not {url!r}")
        if mode == "production" and config.uses_local_sandbox:
            raise ConfigError("VNPAY_PAYMENT_URL points at the local stand-in; production needs VNPAY's URL")
        return config


# --- time -------------------------------------------------------------------------------


def vnpay_date(moment: datetime) -> str:
    """``yyyyMMddHHmmss`` in GMT+7, whatever the server's time zone."""
    return as_utc(moment).astimezone(VIETNAM_TZ).strftime(DATE_FORMAT)


def parse_vnpay_date(text: str) -> Optional[datetime]:
    """A GMT+7 ``yyyyMMddHHmmss`` as an aware UTC datetime; None when it is not one."""
    try:
        local = datetime.strptime(text or "", DATE_FORMAT)
    except ValueError:
        return None
    return as_utc(local.replace(tzinfo=VIETNAM_TZ))


# --- text -------------------------------------------------------------------------------

_NOT_ALLOWED_IN_INFO = re.compile(r"[^A-Za-z0-9 ,.:_/-]+")


def ascii_order_info(text: str, limit: int = 255) -> str:
    """Vietnamese without diacritics and without special characters, as VNPAY asks.

    ``~ * ( ) ! '`` are encoded differently by the official demos, so they (and every other
    special character) are dropped; whitespace collapses to single spaces.
    """
    text = unicodedata.normalize("NFC", text or "").replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    cleaned = _NOT_ALLOWED_IN_INFO.sub(" ", stripped)
    return " ".join(cleaned.split())[:limit].strip()


def new_txn_ref(now: datetime) -> str:
    """A merchant order reference: Vietnam date-time + 8 random hex digits (alphanumeric only)."""
    return vnpay_date(now)[2:] + secrets.token_hex(4).upper()


# --- signing ----------------------------------------------------------------------------

ParamsInput = Union[Mapping[str, Any], Iterable[Tuple[str, Any]]]


def single_valued(params: ParamsInput) -> Dict[str, str]:
    """Parameters as ``{key: str}``, from a dict, a multi-dict (lists) or (key, value) pairs.

    Raises ``AmbiguousParams`` when a ``vnp_*`` key appears more than once: a tampered or
    broken request, never verified. Non-``vnp_`` duplicates keep their first value.
    """
    if isinstance(params, Mapping):
        pairs: List[Tuple[str, Any]] = []
        for key, value in params.items():
            if isinstance(value, (list, tuple)):
                pairs.extend((key, item) for item in value)
            else:
                pairs.append((key, value))
    else:
        pairs = list(params)
    result: Dict[str, str] = {}
    for key, value in pairs:
        key = str(key)
        if key in result:
            if key.startswith("vnp_"):
                raise AmbiguousParams(f"{key} given more than once")
            continue
        result[key] = "" if value is None else str(value)
    return result


def signing_data(params: Mapping[str, Any]) -> str:
    """The string VNPAY signs: sorted non-empty ``vnp_*`` params, form-encoded, ``&``-joined."""
    items = sorted(
        (str(key), str(value))
        for key, value in params.items()
        if str(key).startswith("vnp_") and str(key) not in SECURE_HASH_KEYS and value is not None and str(value) != ""
    )
    return "&".join(f"{quote_plus(key)}={quote_plus(value)}" for key, value in items)


def hmac_sha512(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def sign(params: Mapping[str, Any], secret: str) -> str:
    """``vnp_SecureHash`` of ``params`` (lower-case hex HMAC-SHA512)."""
    return hmac_sha512(secret, signing_data(params))


def verify(params: ParamsInput, secret: str) -> bool:
    """Whether ``params`` carry VNPAY's signature for ``secret``; constant-time comparison.

    Never raises: missing hash, duplicated keys or odd values simply do not verify.
    """
    try:
        fields = single_valued(params)
    except (AmbiguousParams, TypeError, ValueError):
        return False
    given = fields.get("vnp_SecureHash", "")
    if not given or not secret:
        return False
    expected = sign(fields, secret)
    # compare_digest on ASCII bytes: a non-ASCII forged hash must not raise TypeError.
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("utf-8", "replace"))


def signed_query(params: Mapping[str, Any], secret: str) -> str:
    """The query string with ``vnp_SecureHash`` appended, encoded exactly as it was signed."""
    data = signing_data(params)
    return f"{data}&vnp_SecureHash={hmac_sha512(secret, data)}"


# --- payment URL ------------------------------------------------------------------------


def _locale(locale: Optional[str]) -> str:
    return "en" if (locale or "").strip().lower() in ("en", "en-us", "en-gb", "english") else "vn"


def order_info_for(order: Any, product_name: str = "", tier_name: str = "") -> str:
    """Human-readable OrderInfo for an order, without diacritics: product, tier, cycle, ref.

    The names (e.g. the catalog's Vietnamese ones) are folded; the keys are used without them.
    """
    cycle = getattr(getattr(order, "cycle", None), "value", getattr(order, "cycle", "")) or ""
    cycle_text = {"monthly": "theo thang", "yearly": "theo nam"}.get(str(cycle), str(cycle))
    product = product_name or str(getattr(order, "product", "")).replace("_", " ")
    tier = tier_name or str(getattr(order, "tier", ""))
    kind = getattr(getattr(order, "kind", None), "value", "")
    verb = "Gia han" if kind == "renewal" else "Thanh toan"
    return ascii_order_info(f"{verb} Cleeksy {product} {tier} {cycle_text} don hang {order.txn_ref}")


def payment_params(
    config: VnpayConfig, order: Any, client_ip: str, locale: str = "vn", order_info: str = ""
) -> Dict[str, str]:
    """Every parameter of the pay request (without the hash).

    ``vnp_CreateDate`` is the order's creation time, so the link of a pending order can be
    rebuilt identically and querydr can send the same date as ``vnp_TransactionDate``.
    """
    amount = int(order.amount_vnd)
    if amount <= 0:
        raise ValueError("a VNPAY payment needs a positive amount")
    params = {
        "vnp_Version": API_VERSION,
        "vnp_Command": "pay",
        "vnp_TmnCode": config.tmn_code,
        "vnp_Amount": str(amount * 100),
        "vnp_CreateDate": vnpay_date(order.created_at),
        "vnp_ExpireDate": vnpay_date(order.expires_at),
        "vnp_CurrCode": "VND",
        "vnp_IpAddr": (client_ip or "").strip() or "127.0.0.1",
        "vnp_Locale": _locale(locale),
        "vnp_OrderInfo": ascii_order_info(order_info)
        or order_info_for(order)
        or f"Thanh toan don hang {order.txn_ref}",
        "vnp_OrderType": config.order_type,
        "vnp_ReturnUrl": config.return_url,
        "vnp_TxnRef": order.txn_ref,
    }
    empty = [key for key, value in params.items() if not value]
    if empty:
        raise ValueError(f"VNPAY parameters must not be empty: {', '.join(empty)}")
    return params


def build_payment_url(
    config: VnpayConfig,
    order: Any,
    client_ip: str = "127.0.0.1",
    locale: str = "vn",
    now: Optional[datetime] = None,
    order_info: str = "",
) -> str:
    """The signed pay link of ``order`` (API 2.1.0). Refuses an order whose window has closed.

    ``order_info`` (folded to ASCII) replaces the default description built from the order.
    """
    if now is not None and as_utc(order.expires_at) <= as_utc(now):
        raise ValueError(f"order {order.txn_ref} expired at {order.expires_at}: create a new one")
    params = payment_params(config, order, client_ip, locale, order_info)
    separator = "&" if "?" in config.payment_url else "?"
    return config.payment_url + separator + signed_query(params, config.hash_secret)


# --- IPN / return parameters --------------------------------------------------------------


@dataclass(frozen=True)
class PaymentResult:
    """What VNPAY says about a payment (return URL, IPN or sandbox), already verified."""

    txn_ref: str
    tmn_code: str
    amount_field: str  # raw vnp_Amount (VND x 100), checked by the caller against the order
    response_code: str
    transaction_status: str
    transaction_no: str
    bank_code: str
    pay_date: Optional[datetime]

    @property
    def paid(self) -> bool:
        return self.response_code == "00" and self.transaction_status == "00"

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> "PaymentResult":
        return cls(
            txn_ref=fields.get("vnp_TxnRef", ""),
            tmn_code=fields.get("vnp_TmnCode", ""),
            amount_field=fields.get("vnp_Amount", ""),
            response_code=fields.get("vnp_ResponseCode", ""),
            transaction_status=fields.get("vnp_TransactionStatus", ""),
            transaction_no=fields.get("vnp_TransactionNo", ""),
            bank_code=fields.get("vnp_BankCode", ""),
            pay_date=parse_vnpay_date(fields.get("vnp_PayDate", "")),
        )


_AMOUNT = re.compile(r"[0-9]{1,18}")


def amount_matches(amount_field: str, amount_vnd: int) -> bool:
    """``vnp_Amount`` (VND x 100, digits only) equals the order's amount in VND."""
    if not isinstance(amount_field, str) or not _AMOUNT.fullmatch(amount_field):
        return False
    return int(amount_field) == int(amount_vnd) * 100


# --- querydr ------------------------------------------------------------------------------

QUERY_RESPONSE_FIELDS = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
)
QUERY_REQUEST_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)


def pipe_hash(secret: str, body: Mapping[str, Any], fields: Iterable[str]) -> str:
    """HMAC-SHA512 of the listed fields' values joined by ``|`` (missing ones count as empty)."""
    data = "|".join("" if body.get(name) is None else str(body.get(name)) for name in fields)
    return hmac_sha512(secret, data)


@dataclass(frozen=True)
class QueryResult:
    """VNPAY's answer to querydr, signature verified."""

    response_code: str  # API answer: 00 ok, 91 not found, 94 duplicate, 97 checksum, 99 other...
    message: str
    txn_ref: str
    amount_vnd: Optional[int]
    transaction_status: str  # the payment's status: 00 success, 01 not finished, 02 error...
    transaction_no: str
    bank_code: str
    pay_date: Optional[datetime]
    raw: Dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def found(self) -> bool:
        return self.response_code == "00"

    @property
    def paid(self) -> bool:
        return self.response_code == "00" and self.transaction_status == "00"

    @property
    def not_found(self) -> bool:
        return self.response_code == "91"


def querydr_body(
    config: VnpayConfig, order: Any, now: datetime, server_ip: str = "127.0.0.1", request_id: Optional[str] = None
) -> Dict[str, str]:
    body = {
        "vnp_RequestId": request_id or uuid.uuid4().hex,
        "vnp_Version": API_VERSION,
        "vnp_Command": "querydr",
        "vnp_TmnCode": config.tmn_code,
        "vnp_TxnRef": order.txn_ref,
        "vnp_OrderInfo": ascii_order_info(f"Truy van don hang {order.txn_ref}"),
        "vnp_TransactionDate": vnpay_date(order.created_at),
        "vnp_CreateDate": vnpay_date(now),
        "vnp_IpAddr": server_ip,
    }
    body["vnp_SecureHash"] = pipe_hash(config.hash_secret, body, QUERY_REQUEST_FIELDS)
    return body


def _parse_query_response(config: VnpayConfig, data: Any) -> QueryResult:
    if not isinstance(data, dict):
        raise BadGatewayResponse("querydr answer is not a JSON object")
    given = str(data.get("vnp_SecureHash") or "")
    expected = pipe_hash(config.hash_secret, data, QUERY_RESPONSE_FIELDS)
    if not given or not hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace")):
        raise BadGatewayResponse(f"querydr answer has an invalid signature (code {data.get('vnp_ResponseCode')!r})")
    amount_text = str(data.get("vnp_Amount") or "")
    return QueryResult(
        response_code=str(data.get("vnp_ResponseCode") or ""),
        message=str(data.get("vnp_Message") or ""),
        txn_ref=str(data.get("vnp_TxnRef") or ""),
        amount_vnd=int(amount_text) // 100 if _AMOUNT.fullmatch(amount_text) else None,
        transaction_status=str(data.get("vnp_TransactionStatus") or ""),
        transaction_no=str(data.get("vnp_TransactionNo") or ""),
        bank_code=str(data.get("vnp_BankCode") or ""),
        pay_date=parse_vnpay_date(str(data.get("vnp_PayDate") or "")),
        raw=dict(data),
    )


def querydr(
    config: VnpayConfig,
    order: Any,
    now: datetime,
    session: Any = None,
    *,
    server_ip: str = "127.0.0.1",
    attempts: int = 3,
    timeout: Tuple[float, float] = (3.05, 10.0),
    backoff: float = 0.5,
) -> QueryResult:
    """Ask VNPAY for the state of ``order``'s payment (querydr), verifying the answer's hash.

    Retries (bounded: ``attempts`` in all) on network errors, timeouts and 5xx answers, each
    time with a fresh ``vnp_RequestId`` (VNPAY refuses a repeated one with 94). Raises
    ``GatewayUnavailable`` when no attempt got an answer, ``BadGatewayResponse`` when the answer
    is not signed JSON; an answer is never trusted without its signature.
    """
    import requests  # imported here so that signing works without requests installed

    own_session = session is None
    http = requests.Session() if own_session else session
    try:
        return _querydr_attempts(config, order, now, http, server_ip, attempts, timeout, backoff)
    finally:
        if own_session:
            http.close()


def _querydr_attempts(
    config: VnpayConfig,
    order: Any,
    now: datetime,
    http: Any,
    server_ip: str,
    attempts: int,
    timeout: Tuple[float, float],
    backoff: float,
) -> QueryResult:
    import requests

    last_problem = "no attempt made"
    for attempt in range(max(1, attempts)):
        if attempt:
            time.sleep(backoff * (2 ** (attempt - 1)))
        body = querydr_body(config, order, now, server_ip)
        try:
            response = http.post(config.api_url, json=body, timeout=timeout)
        except requests.RequestException as error:
            last_problem = f"{type(error).__name__}: {error}"
            log.warning("querydr %s attempt %d failed: %s", order.txn_ref, attempt + 1, last_problem)
            continue
        if response.status_code >= 500:
            last_problem = f"HTTP {response.status_code}"
            log.warning("querydr %s attempt %d: %s", order.txn_ref, attempt + 1, last_problem)
            continue
        if response.status_code != 200:
            raise BadGatewayResponse(f"querydr answered HTTP {response.status_code}")
        try:
            data = response.json()
        except (ValueError, json.JSONDecodeError) as error:
            raise BadGatewayResponse(f"querydr answer is not JSON: {error}") from None
        return _parse_query_response(config, data)
    raise GatewayUnavailable(f"VNPAY querydr unreachable after {attempts} attempts ({last_problem})")


def querydr_answer(config: VnpayConfig, fields: Mapping[str, Any]) -> Dict[str, str]:
    """Sign a querydr *answer* (used by the local stand-in and tests to play VNPAY's part)."""
    answer = {name: ("" if fields.get(name) is None else str(fields.get(name))) for name in QUERY_RESPONSE_FIELDS}
    answer["vnp_SecureHash"] = pipe_hash(config.hash_secret, answer, QUERY_RESPONSE_FIELDS)
    return answer


__all__ = [
    "API_VERSION",
    "PAYMENT_TTL",
    "VnpayConfig",
    "ConfigError",
    "VnpayError",
    "AmbiguousParams",
    "GatewayUnavailable",
    "BadGatewayResponse",
    "PaymentResult",
    "QueryResult",
    "build_payment_url",
    "payment_params",
    "sign",
    "signing_data",
    "signed_query",
    "verify",
    "single_valued",
    "querydr",
    "querydr_body",
    "querydr_answer",
    "vnpay_date",
    "parse_vnpay_date",
    "ascii_order_info",
    "new_txn_ref",
    "amount_matches",
    "as_utc",
]
