"""Every code has Vietnamese and English text, and realistic parameters fill every placeholder."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest

from billing_core.domain import errors, messages
from billing_core.domain import reasons as R
from billing_core.domain.catalog import load_catalog
from billing_core.domain.messages import (
    MESSAGES,
    VNPAY_RESPONSE_CODES,
    format_date,
    format_vnd,
    placeholders,
    render,
    render_decision,
    render_error,
    vnpay_response_text,
)
from billing_core.domain.rules import decide
from billing_core.service_layer.common import TEXT_CODES
from tests.billing_core import factories as f
from tests.billing_core.test_rules import CASES, W

VIETNAMESE_LETTERS = re.compile(r"[ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ]", re.I)

DATE = "2026-12-05"
AT = "2026-11-26T09:20+00:00"

# Realistic parameters for every code (as the domain, the services and the payment code pass them).
SAMPLE_PARAMS = {
    R.NO_CHANGE: {"product": "digital_workspace", "tier": "starter"},
    R.PAYMENT_PENDING: {
        "product": "digital_workspace",
        "order_ref": "CLK20261126X1",
        "expires_at": AT,
        "amount_vnd": 400000,
    },
    R.ALREADY_SCHEDULED: {"product": "digital_workspace", "tier": "standard", "effective_date": DATE},
    R.NO_FREE_EDITION: {"product": "app_builder"},
    R.TIER_NOT_OFFERED: {"product": "app_builder", "tier": "premium", "tiers": ["starter", "standard"]},
    R.TRIAL_NOT_OVER: {
        "product": "digital_workspace",
        "trial_end_date": DATE,
        "trial_end_at": "2026-12-05T09:00:00+00:00",
        "days_left": 18,
    },
    R.KEEP_PLAN_WHILE_SCHEDULED: {
        "product": "digital_workspace",
        "tier": "premium",
        "scheduled_tier": "standard",
        "scheduled_cycle": "monthly",
        "scheduled_seats": 12,
        "effective_date": DATE,
    },
    R.ADDON_REQUIRES_PAID_BASE: {"addons": ["operations_workflow", "app_builder"], "base": "digital_workspace"},
    R.YEARLY_TO_MONTHLY_ON_UPGRADE: {"product": "digital_workspace"},
    R.ADDON_CYCLE_LONGER_THAN_BASE: {
        "addon": "app_builder",
        "addon_cycle": "yearly",
        "base": "digital_workspace",
        "base_cycle": "monthly",
    },
    R.MIN_SEATS: {"minimum": 2, "seats": 1},
    R.CAPACITY_LIMIT_EXCEEDED: {
        "kind": "storage",
        "total": 1500,
        "limit": 1000,
        "product": "digital_workspace",
        "tier": "standard",
    },
    R.CAPACITY_NEEDS_UPGRADE: {"product": "digital_workspace"},
    R.UNSUPPORTED_CHANGE: {"product": "digital_workspace", "tier": "free"},
    R.UPGRADE_IMMEDIATE: {"product": "digital_workspace", "tier": "premium", "cycle": "yearly", "seats": 10},
    R.DOWNGRADE_NEXT_CYCLE: {
        "product": "digital_workspace",
        "tier": "starter",
        "effective_date": DATE,
        "cycle": "monthly",
        "seats": 5,
        "current_tier": "standard",
    },
    R.PLAN_CHANGE_NEXT_CYCLE: {
        "product": "digital_workspace",
        "tier": "starter",
        "effective_date": DATE,
        "cycle": "monthly",
        "seats": 5,
        "current_tier": "starter",
    },
    R.CHANGE_AT_RENEWAL_KEEPS_CREDIT: {
        "product": "digital_workspace",
        "tier": "starter",
        "effective_date": DATE,
        "cycle": "yearly",
        "seats": 2,
        "current_tier": "starter",
        "credit_vnd": 4666666,
    },
    R.FREE_IMMEDIATE: {"product": "digital_workspace"},
    R.CANCELS_SCHEDULED_CHANGE: {
        "product": "digital_workspace",
        "scheduled_tier": "standard",
        "scheduled_seats": 12,
        "effective_date": DATE,
    },
    R.REPLACES_SCHEDULED_CHANGE: {
        "product": "digital_workspace",
        "scheduled_tier": "standard",
        "scheduled_seats": 12,
        "effective_date": DATE,
    },
    R.SHOWN_AS_NEXT_RENEWAL_PLAN: {},
    R.SCHEDULED_THROUGH_SUPPORT: {},
    R.PAID_PERIOD_USED_IN_FULL: {"product": "digital_workspace", "period_end_date": DATE},
    R.CAPACITY_WILL_BE_REMOVED: {"kind": "storage", "amount": 70, "due_date": DATE},
    R.FEATURE_DATA_WILL_BE_DELETED: {"features": ["reports", "gantt"], "due_date": DATE},
    R.FIX_CHOOSE_DIFFERENT_PLAN: {"product": "digital_workspace"},
    R.FIX_FINISH_PENDING_PAYMENT: {"order_ref": "CLK20261126X1"},
    R.FIX_WAIT_FOR_ORDER_EXPIRY: {"expires_at": AT},
    R.FIX_NOTHING_TO_DO: {"product": "digital_workspace", "effective_date": DATE},
    R.FIX_CANCEL_SCHEDULED_CHANGE: {"product": "digital_workspace"},
    R.FIX_UPGRADE_TO_PAID_TIER: {"product": "app_builder", "tiers": ["starter", "standard"]},
    R.FIX_CHOOSE_OFFERED_TIER: {"product": "app_builder", "tiers": ["starter", "standard"]},
    R.FIX_WAIT_UNTIL_TRIAL_END: {"product": "digital_workspace", "trial_end_date": DATE},
    R.FIX_BUY_PAID_PLAN: {"product": "digital_workspace"},
    R.FIX_BUY_PAID_BASE_FIRST: {"base": "digital_workspace"},
    R.FIX_END_ADDON_FIRST: {"addon": "app_builder", "period_end_date": DATE},
    R.FIX_KEEP_YEARLY: {"product": "digital_workspace"},
    R.FIX_SWITCH_BASE_CYCLE_FIRST: {"base": "digital_workspace", "cycle": "yearly"},
    R.FIX_MOVE_ADDON_CYCLE_FIRST: {"addon": "app_builder", "cycle": "monthly"},
    R.FIX_SET_MIN_SEATS: {"minimum": 2},
    R.FIX_WAIT_FOR_ADDON_CHANGE: {"addon": "app_builder", "cycle": "monthly", "effective_date": DATE},
    R.FIX_REDUCE_CAPACITY: {"kind": "storage", "max_amount": 200},
    R.FIX_CHOOSE_HIGHER_TIER: {"product": "digital_workspace", "kind": "storage"},
    R.FIX_BUY_CAPACITY_SEPARATELY: {"product": "digital_workspace"},
    R.FIX_BUY_PRODUCT_FOR_CAPACITY: {"product": "operations_workflow", "kind": "automation_runs"},
    R.FIX_CONTACT_SUPPORT: {},
    R.FIX_CANCEL_SCHEDULED_TO_KEEP: {"product": "digital_workspace", "tier": "premium", "scheduled_tier": "standard"},
    R.FIX_BUY_PAID_PLAN_FOR_CAPACITY: {"product": "app_builder", "kind": "data_records", "status": "trial"},
    R.SUMMARY_IMMEDIATE: {"product": "digital_workspace", "tier": "premium"},
    R.SUMMARY_IMMEDIATE_FREE: {"product": "digital_workspace", "tier": "free"},
    R.SUMMARY_NEXT_CYCLE: {"product": "digital_workspace", "tier": "starter", "effective_date": DATE},
    R.SUMMARY_BLOCKED: {"product": "app_builder", "tier": "free"},
    R.SUMMARY_ALREADY_SCHEDULED: {"product": "digital_workspace", "tier": "standard", "effective_date": DATE},
    R.SUMMARY_NOTHING_TO_CHANGE: {"product": "digital_workspace", "tier": "premium"},
    R.SUMMARY_KEEPS_CREDIT: {"product": "digital_workspace", "tier": "starter", "effective_date": DATE},
    R.SUMMARY_PLAN_CHANGE_NEXT_CYCLE: {
        "product": "digital_workspace",
        "tier": "starter",
        "cycle": "monthly",
        "seats": 5,
        "effective_date": DATE,
    },
    R.SUMMARY_SEATS_NEXT_CYCLE: {"product": "digital_workspace", "seats": 3, "effective_date": DATE},
    R.SUMMARY_CYCLE_NEXT_CYCLE: {"product": "digital_workspace", "cycle": "monthly", "effective_date": DATE},
    R.QUOTE_PLAN: {
        "product": "digital_workspace",
        "tier": "standard",
        "cycle": "yearly",
        "seats": 10,
        "unit_price_vnd": 1000000,
    },
    R.QUOTE_PLAN_FREE: {"product": "digital_workspace", "tier": "free"},
    R.QUOTE_PLAN_PRORATED: {
        "product": "digital_workspace",
        "tier": "standard",
        "cycle": "monthly",
        "seats": 5,
        "unit_price_vnd": 100000,
        "days": 15,
        "period_days": 30,
        "full_price_vnd": 500000,
    },
    R.QUOTE_PRORATION_CREDIT: {"product": "digital_workspace", "tier": "starter", "days": 15, "period_days": 30},
    R.QUOTE_ADDON: {
        "kind": "storage",
        "amount": 30,
        "packs": 3,
        "pack_size": 10,
        "pack_price_vnd": 20000,
        "cycle": "monthly",
    },
    R.QUOTE_ADDON_PRORATED: {
        "kind": "storage",
        "amount": 30,
        "packs": 3,
        "pack_size": 10,
        "pack_price_vnd": 20000,
        "cycle": "monthly",
        "days": 15,
        "period_days": 30,
        "product": "digital_workspace",
    },
    R.QUOTE_ADDON_NEW_PERIOD: {
        "kind": "storage",
        "amount": 30,
        "packs": 3,
        "pack_size": 10,
        "pack_price_vnd": 200000,
        "cycle": "yearly",
    },
    R.QUOTE_ADDON_CREDIT: {"kind": "storage", "amount": 30, "days": 15, "period_days": 30},
    R.QUOTE_CREDIT_KEPT_UNTIL_RENEWAL: {"product": "digital_workspace", "period_end_date": DATE},
    R.QUOTE_PACKS_ROUNDED_UP: {"kind": "storage", "requested": 25, "amount": 30, "pack_size": 10},
    R.QUOTE_CREDIT_CAPPED: {"credit_vnd": 120000},
    R.QUOTE_SAMPLE_PRICES: {},
    R.QUOTE_YEARLY_SAVINGS: {"savings_vnd": 1200000, "seats": 5},
    R.QUOTE_CHARGED_AT_RENEWAL: {"renewal_date": DATE},
    R.RETENTION_CAPACITY: {"kind": "storage", "amount": 70, "due_date": DATE},
    R.RETENTION_FEATURE_DATA: {"feature": "gantt", "due_date": DATE},
    "BILLING_ERROR": {},
    "CATALOG_INVALID": {
        "file": "/etc/billing/catalog.yaml",
        "entry": "change_rules[4] (id: addon_yearly)",
        "problem": "unknown fact 'moon_phase'",
    },
    "INVALID_REQUEST": {},
    "UNKNOWN_PRODUCT": {"product": "crm", "products": ["digital_workspace", "operations_workflow", "app_builder"]},
    "UNKNOWN_TIER": {"tier": "gold", "tiers": ["free", "starter", "standard", "premium"]},
    "UNKNOWN_CYCLE": {"cycle": "weekly", "cycles": ["monthly", "yearly"]},
    "INVALID_SEATS": {"seats": "0", "maximum": 5000},
    "UNKNOWN_CAPACITY_KIND": {"kind": "bandwidth", "kinds": ["storage", "docs", "automation_runs", "data_records"]},
    "INVALID_CAPACITY_AMOUNT": {"kind": "storage", "amount": "-10", "maximum": 100000},
    "INVALID_RENEWAL_MODE": {"renewal_mode": "weekly", "known": ["manual", "auto"]},
    "WORKSPACE_NOT_FOUND": {"workspace_id": "demo-nope"},
    "ORDER_NOT_FOUND": {"order_ref": "CLK-404"},
    "CHANGE_NOT_ALLOWED": {"product": "app_builder", "reasons": ["NO_FREE_EDITION"]},
    "SURVEY_ANSWER_REQUIRED": {"product": "digital_workspace"},
    "CONFIRMATION_REQUIRED": {"product": "digital_workspace"},
    "NO_SCHEDULED_CHANGE": {"product": "digital_workspace"},
    "CONCURRENT_UPDATE": {"workspace_id": "demo-monthly"},
    "PAYMENT_CONFIG_MISSING": {"missing": ["VNPAY_TMN_CODE", "VNPAY_HASH_SECRET"]},
    "ORDER_NOT_PENDING": {"order_ref": "DEMO1", "status": "paid"},
    "PENDING_ORDER_DIFFERS": {
        "order_ref": "DEMO1",
        "product": "digital_workspace",
        "tier": "standard",
        "cycle": "monthly",
        "seats": 5,
        "amount_vnd": 600000,
        "expires_at": "2026-11-26T09:15:00+00:00",
        "requested_tier": "standard",
        "requested_cycle": "yearly",
        "requested_seats": 5,
    },
    "REFUND_DUE": {
        "order_ref": "DEMO1",
        "status": "cancelled",
        "amount_vnd": 600000,
        "paid_at": "2026-11-26T09:20:00+00:00",
        "transaction_no": "15000001",
    },
    "VNPAY_RC_UNKNOWN": {"response_code": "42"},
}
SAMPLE_PARAMS.update({f"VNPAY_RC_{code}": {} for code in VNPAY_RESPONSE_CODES})


def every_code():
    catalog = load_catalog()
    codes = set(R.all_codes()) | set(errors.error_codes())
    codes |= {rule.reason for rule in catalog.change_rules} | {n for rule in catalog.change_rules for n in rule.notes}
    codes |= {f"VNPAY_RC_{code}" for code in VNPAY_RESPONSE_CODES}
    codes |= set(TEXT_CODES)
    return sorted(codes)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def assert_clean(text: str):
    assert text.strip()
    assert "{" not in text and "}" not in text, text
    assert messages.MISSING not in text, text
    assert "None" not in text, text


@pytest.mark.parametrize("code", every_code())
def test_every_code_has_vietnamese_and_english(code, catalog):
    assert code in MESSAGES, f"{code} has no message"
    vi, en = MESSAGES[code]["vi"], MESSAGES[code]["en"]
    assert vi.strip() and en.strip()
    assert VIETNAMESE_LETTERS.search(vi), f"{code}: Vietnamese text without diacritics: {vi}"
    assert code in SAMPLE_PARAMS, f"add realistic sample params for {code}"
    for lang in ("vi", "en"):
        missing = placeholders(code, lang) - set(SAMPLE_PARAMS[code]) - {"unit", "trial_days", "min_paid_seats"}
        assert not missing, (code, lang, missing)
        text = render(code, SAMPLE_PARAMS[code], lang, catalog)
        assert_clean(text)
        assert len(text) <= 260, f"{code}/{lang} is too long for a chat widget"


def test_no_message_is_orphaned():
    assert set(MESSAGES) <= set(every_code()) | {"VNPAY_RC_UNKNOWN"}


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_real_decisions_render_cleanly(catalog, case):
    decision = decide(catalog, W[case[1]](), case[2], f.NOW)
    for lang in ("vi", "en"):
        shown = render_decision(decision, lang, catalog)
        assert set(shown) == {"summary", "reasons", "fixes"}
        assert_clean(shown["summary"])
        assert [r["code"] for r in shown["reasons"]] == decision.codes
        for text in [r["message"] for r in shown["reasons"]] + shown["fixes"]:
            assert_clean(text)
        assert len(shown["fixes"]) == len(decision.fixes)


def test_names_dates_and_money_are_localised(catalog):
    params = SAMPLE_PARAMS[R.ADDON_CYCLE_LONGER_THAN_BASE]
    assert render(R.ADDON_CYCLE_LONGER_THAN_BASE, params, "vi", catalog) == (
        "Chu kỳ thanh toán của Xây dựng ứng dụng (hàng năm) không được dài hơn chu kỳ của "
        "Không gian làm việc số (hàng tháng)."
    )
    assert render(R.ADDON_CYCLE_LONGER_THAN_BASE, params, "en", catalog) == (
        "The billing cycle of App Builder (yearly) cannot be longer than that of Digital Workspace (monthly)."
    )
    assert "05/12/2026" in render(R.DOWNGRADE_NEXT_CYCLE, SAMPLE_PARAMS[R.DOWNGRADE_NEXT_CYCLE], "vi", catalog)
    assert "5 Dec 2026" in render(R.DOWNGRADE_NEXT_CYCLE, SAMPLE_PARAMS[R.DOWNGRADE_NEXT_CYCLE], "en", catalog)
    assert format_vnd(1200000, "vi") == "1.200.000 ₫"
    assert format_vnd(1200000, "en") == "1,200,000 VND"
    assert format_date(date(2026, 11, 26), "en") == "26 Nov 2026"
    assert format_date(datetime(2026, 11, 26, 20, 0, tzinfo=timezone.utc), "vi") == "27/11/2026"  # GMT+7
    saving = render(R.QUOTE_YEARLY_SAVINGS, SAMPLE_PARAMS[R.QUOTE_YEARLY_SAVINGS], "vi", catalog)
    assert saving == "Chọn Hàng năm tiết kiệm 1.200.000 ₫ mỗi năm cho 5 người dùng."
    pending = render(R.PAYMENT_PENDING, SAMPLE_PARAMS[R.PAYMENT_PENDING], "vi", catalog)
    assert "16:20 26/11/2026" in pending  # the order's expiry in Vietnam time
    assert "5.000" in render(
        R.CAPACITY_WILL_BE_REMOVED, {"kind": "automation_runs", "amount": 5000, "due_date": DATE}, "vi", catalog
    )


def test_unknown_language_falls_back_to_vietnamese(catalog):
    params = SAMPLE_PARAMS[R.MIN_SEATS]
    vi = render(R.MIN_SEATS, params, "vi", catalog)
    assert render(R.MIN_SEATS, params, "fr", catalog) == vi
    assert render(R.MIN_SEATS, params, None, catalog) == vi
    assert render(R.MIN_SEATS, params, "en-US", catalog) == render(R.MIN_SEATS, params, "en", catalog)


def test_article_vocabulary_is_used():
    every_vi = " ".join(entry["vi"] for entry in MESSAGES.values())
    for phrase in (
        "Gói gia hạn tiếp theo",
        "Thiết lập hệ thống > Đăng ký & Thanh toán",
        "Hàng năm",
        "Dung lượng mở rộng",
        "từ cũ đến mới",
        "Gia hạn thủ công",
    ):
        assert phrase in every_vi, phrase


@pytest.mark.parametrize("code", VNPAY_RESPONSE_CODES)
def test_vnpay_response_codes(code):
    vi, en = vnpay_response_text(code, "vi"), vnpay_response_text(code, "en")
    assert_clean(vi)
    assert_clean(en)
    assert vi != en


def test_unknown_vnpay_code_still_answers():
    assert "42" in vnpay_response_text("42", "en")
    assert "42" in vnpay_response_text("42", "vi")


def test_billing_error_messages():
    error = errors.UnknownTierError({"tier": "gold", "tiers": ["free", "starter"]})
    assert render_error(error, "vi", load_catalog()) == "Không có gói “gold”. Bạn có thể chọn: Free và Starter."
    assert render_error(error, "en", load_catalog()) == "There is no plan “gold”. Choose one of: Free and Starter."
    assert "UNKNOWN_TIER" in str(error) and "gold" in str(error)  # logs: the code and its parameters
    assert error.to_dict() == {"code": "UNKNOWN_TIER", "params": {"tier": "gold", "tiers": ["free", "starter"]}}


def test_unknown_code_does_not_crash():
    assert render("NO_SUCH_CODE", {}, "vi") == "NO_SUCH_CODE"
