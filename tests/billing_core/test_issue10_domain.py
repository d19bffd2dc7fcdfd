"""Issue 10, the domain half: one regression test per item (A-H, L, M), per text, and per
mutation survivor of the domain. Each failed before the fix it is named for."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta, timezone

import pytest

from billing_core.adapters.unit_of_work import FakeUnitOfWork
from billing_core.domain import reasons as R
from billing_core.domain.catalog import load_catalog
from billing_core.domain.changes import apply_decision, renew, schedule_change
from billing_core.domain.clock import business_day, days_left
from billing_core.domain.messages import MESSAGES, render, render_decision
from billing_core.domain.model import Cycle, Outcome, RetentionKind, RetentionStatus, Status, Subscription
from billing_core.domain.pricing import renewal_amount
from billing_core.domain.quotes import quote
from billing_core.domain.retention import execute_due, preview
from billing_core.domain.rules import ChangeRequest, decide
from billing_core.service_layer import services
from billing_core.service_layer.demo import seed_demo
from tests.billing_core import factories as f
from tests.billing_core.factories import AB, DW, NOW, OW

CATALOG = load_catalog()
UTC = timezone.utc


def texts(decision, lang="vi"):
    shown = render_decision(decision, lang, CATALOG)
    return [shown["summary"], *(r["message"] for r in shown["reasons"]), *shown["fixes"]]


def dates_in(text):
    return set(re.findall(r"\d{2}/\d{2}/\d{4}", text))


# --- A. one business calendar ----------------------------------------------------------------------
EVENING = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # 01:00 on 2 Dec in Hanoi


def test_A_decision_and_show_agree_on_vietnam_day():
    uow = FakeUnitOfWork()
    seed_demo(uow, EVENING)
    summary = services.workspace_summary(uow, "demo-trial", EVENING)
    trial = summary["subscriptions"][0]
    decision = services.check_change(uow, "demo-trial", ChangeRequest(DW, "free"), EVENING)
    params = decision.reasons[0].params
    end = datetime.fromisoformat(trial["period_end"])
    assert params["trial_end_date"] == business_day(end).isoformat()  # was the UTC day, one day early
    assert params["days_left"] == trial["trial_days_left"] == days_left(end, EVENING)


def test_A_quote_notes_and_decision_show_one_renewal_date():
    uow = FakeUnitOfWork()
    seed_demo(uow, EVENING)
    decision, priced = services.quote_change(uow, "demo-downgrade-scheduled", ChangeRequest(DW, "starter"), EVENING)
    shown = render_decision(decision, "vi", CATALOG)
    renewal_texts = [shown["summary"], shown["reasons"][0]["message"]] + [
        render(n.code, n.params, "vi", CATALOG) for n in priced.notes if n.code == R.QUOTE_CHARGED_AT_RENEWAL
    ]
    seen = set().union(*(dates_in(text) for text in renewal_texts))
    assert seen == {business_day(priced.period_start).strftime("%d/%m/%Y")}, renewal_texts  # was 10/12 and 11/12


@pytest.mark.parametrize("hour, minute", [(16, 59), (17, 0), (17, 1), (23, 59)])
def test_A_one_days_left_around_vietnam_midnight(hour, minute):
    end = datetime(2026, 12, 20, 3, 0, tzinfo=UTC)  # 10:00 on 20 Dec in Hanoi
    now = datetime(2026, 12, 1, hour, minute, tzinfo=UTC)
    expected = 19 if (hour, minute) < (17, 0) else 18  # after 17:00 UTC it is already 2 Dec in Hanoi
    assert days_left(end, now) == expected


# --- B. capacity on the cycle of the product that owns it ----------------------------------------------
def dw_yearly_ow_monthly():
    ws = f.workspace()
    f.paid(ws, DW, "standard", "yearly", seats=10, started_days_ago=100)
    f.paid(ws, OW, "starter", "monthly", seats=10, started_days_ago=5)
    return ws


def test_B_runs_bought_with_dw_are_priced_on_ow_monthly_cycle():
    ws = dw_yearly_ow_monthly()
    priced = quote(CATALOG, ws, ChangeRequest(DW, "premium", addons={"automation_runs": 1000}), NOW)
    [runs] = [line for line in priced.lines if line.params.get("kind") == "automation_runs"]
    ow = ws.subscription(OW)
    left = (business_day(ow.period_end) - business_day(NOW)).days
    period = (business_day(ow.period_end) - business_day(ow.period_start)).days
    assert runs.params["cycle"] == "monthly" and runs.amount_vnd == 25000 * left // period  # not 181,506 (yearly)
    assert runs.params["until_date"] == business_day(ow.period_end).isoformat()
    assert priced.total_vnd == sum(line.amount_vnd for line in priced.lines)
    # The runs are renewed with Operations Workflow, once, at its monthly pack price.
    apply_decision(
        CATALOG, ws, decide(CATALOG, ws, ChangeRequest(DW, "premium", addons={"automation_runs": 1000}), NOW), NOW
    )
    assert renewal_amount(CATALOG, ws, ow)["addons"] == {"automation_runs": 1000}
    assert "automation_runs" not in renewal_amount(CATALOG, ws, ws.subscription(DW))["addons"]


def test_B_storage_bought_with_ow_is_priced_on_dw_yearly_cycle():
    ws = dw_yearly_ow_monthly()
    priced = quote(CATALOG, ws, ChangeRequest(OW, "standard", addons={"storage": 10}), NOW)
    [storage] = [line for line in priced.lines if line.params.get("kind") == "storage"]
    dw = ws.subscription(DW)
    left = (business_day(dw.period_end) - business_day(NOW)).days
    period = (business_day(dw.period_end) - business_day(dw.period_start)).days
    assert storage.params["cycle"] == "yearly" and storage.amount_vnd == 200000 * left // period  # not 20,000


def test_B_capacity_held_is_paid_again_only_when_its_owner_starts_a_new_period():
    ws = f.workspace()
    sub = f.paid(ws, DW, "standard", "monthly", seats=4, started_days_ago=10)
    f.capacity(ws, "storage", 50, 10)
    priced = quote(CATALOG, ws, ChangeRequest(DW, "standard", "yearly"), NOW)
    codes = {line.code: line for line in priced.lines}
    left = (business_day(sub.period_end) - business_day(NOW)).days
    period = (business_day(sub.period_end) - business_day(sub.period_start)).days
    assert codes[R.QUOTE_ADDON_NEW_PERIOD].amount_vnd == 5 * 200000  # the year of the 50 GB held
    assert codes[R.QUOTE_ADDON_CREDIT].amount_vnd == -(5 * 20000 * left // period)
    same_cycle = quote(CATALOG, ws, ChangeRequest(DW, "premium"), NOW)
    assert all(line.params.get("kind") != "storage" for line in same_cycle.lines)  # its month is paid


# --- C. nothing deleted that is still included ---------------------------------------------------------
def test_C_feature_data_is_kept_after_upgrading_back():
    ws = f.workspace()
    sub = f.paid(ws, DW, "premium", "monthly", seats=5, started_days_ago=20)
    schedule_change(ws, decide(CATALOG, ws, ChangeRequest(DW, "standard"), NOW), NOW, "price", True)
    boundary = sub.period_end
    renew(CATALOG, ws, DW, boundary)
    assert {t.target for t in ws.retention_tasks} == {"okr", "audit_log"}
    later = boundary + timedelta(days=3)
    apply_decision(CATALOG, ws, decide(CATALOG, ws, ChangeRequest(DW, "premium"), later), later)
    assert [item for item in preview(CATALOG, ws, later) if item.kind is RetentionKind.FEATURE_DATA] == []
    resolved = execute_due(CATALOG, ws, boundary + timedelta(days=91))
    assert {(t.target, t.status, t.resolution) for t in resolved} == {
        ("okr", RetentionStatus.CANCELLED, "still_included"),
        ("audit_log", RetentionStatus.CANCELLED, "still_included"),
    }


def test_C_feature_data_no_longer_included_is_deleted_and_recorded():
    ws = f.workspace()
    sub = f.paid(ws, DW, "premium", "monthly", seats=5, started_days_ago=20)
    schedule_change(ws, decide(CATALOG, ws, ChangeRequest(DW, "standard"), NOW), NOW, "price", True)
    renew(CATALOG, ws, DW, sub.period_end)
    resolved = execute_due(CATALOG, ws, sub.period_end + timedelta(days=91))
    assert {(t.target, t.status, t.resolution) for t in resolved} == {
        ("okr", RetentionStatus.DONE, "deleted"),
        ("audit_log", RetentionStatus.DONE, "deleted"),
    }


def test_C_the_job_records_every_deletion_and_skip_with_its_reason():
    uow = FakeUnitOfWork()
    ws = f.workspace("ws-c")
    sub = f.paid(ws, DW, "premium", "monthly", seats=5, started_days_ago=20)
    schedule_change(ws, decide(CATALOG, ws, ChangeRequest(DW, "standard"), NOW), NOW, "price", True)
    renew(CATALOG, ws, DW, sub.period_end)
    ws.subscription(DW).tier = "premium"  # back on Premium (as an upgrade would)
    with uow:
        uow.workspaces.add(ws)
        uow.commit()
    records = services.run_retention(uow, sub.period_end + timedelta(days=91), CATALOG)
    assert sorted((r["target"], r["status"], r["resolution"]) for r in records) == [
        ("audit_log", "cancelled", "still_included"),
        ("okr", "cancelled", "still_included"),
    ]


# --- D. fixes that can be followed ---------------------------------------------------------------------
def standard_with_storage(held):
    ws = f.workspace()
    f.paid(ws, DW, "standard", "monthly", seats=5)
    f.capacity(ws, "storage", held, 3)
    return ws


def test_D_buy_at_most_respects_whole_packs():
    ws = standard_with_storage(995)  # Standard allows 1,000 GB extra; storage comes in 10 GB packs
    decision = decide(CATALOG, ws, ChangeRequest(DW, "standard", addons={"storage": 5}), NOW)
    assert decision.codes == [R.CAPACITY_LIMIT_EXCEEDED]
    assert R.FIX_REDUCE_CAPACITY not in [fix.code for fix in decision.fixes]  # "at most 5 GB" looped
    assert [fix.code for fix in decision.fixes] == [R.FIX_CHOOSE_HIGHER_TIER]


def test_D_following_buy_at_most_is_allowed():
    ws = standard_with_storage(975)
    decision = decide(CATALOG, ws, ChangeRequest(DW, "standard", addons={"storage": 50}), NOW)
    [fix] = [fix for fix in decision.fixes if fix.code == R.FIX_REDUCE_CAPACITY]
    assert fix.params["max_amount"] == 20
    followed = decide(CATALOG, ws, ChangeRequest(DW, "standard", addons={"storage": fix.params["max_amount"]}), NOW)
    assert followed.allowed


# --- E. no credit silently lost -----------------------------------------------------------------------
def test_E_hundred_seats_monthly_to_two_seats_yearly_keeps_the_credit():
    ws = f.workspace()
    sub = f.paid(ws, DW, "standard", "monthly", seats=100, started_days_ago=3)
    request = ChangeRequest(DW, "standard", "yearly", 2)
    decision = decide(CATALOG, ws, request, NOW)
    assert decision.outcome is Outcome.NEXT_CYCLE and decision.effective_at == sub.period_end
    priced = quote(CATALOG, ws, request, NOW)
    assert priced.timing == "next_cycle" and priced.total_vnd == 2 * 1000000
    assert R.QUOTE_CREDIT_KEPT_UNTIL_RENEWAL in [note.code for note in priced.notes]
    said = " ".join(texts(decision))
    assert "không mất" in said and "kỳ gia hạn tiếp theo" in said
    schedule_change(ws, decision, NOW, "fewer people", True)
    renew(CATALOG, ws, DW, sub.period_end)
    assert (sub.tier, sub.cycle, sub.seats, sub.period_start) == ("standard", Cycle.YEARLY, 2, decision.effective_at)


# --- F. a "wait" fix only when the change is possible then --------------------------------------------
def test_F_dw_and_app_builder_monthly_at_the_same_renewal():
    ws = f.workspace()
    f.paid(ws, DW, "standard", "yearly", seats=5, started_days_ago=100)
    f.paid(ws, AB, "starter", "yearly", seats=5, started_days_ago=100)
    schedule_change(ws, decide(CATALOG, ws, ChangeRequest(AB, "starter", "monthly"), NOW), NOW, "x", True)
    decision = decide(CATALOG, ws, ChangeRequest(DW, "standard", "monthly"), NOW)
    assert decision.outcome is Outcome.NEXT_CYCLE, decision.codes  # was refused with "Đợi … rồi đổi lại"


def test_F_wait_fix_says_try_again_and_following_it_works():
    ws = f.workspace()
    dw = f.paid(ws, DW, "standard", "yearly", seats=5, started_days_ago=100)
    f.paid(ws, AB, "starter", "yearly", seats=5, started_days_ago=50)
    schedule_change(ws, decide(CATALOG, ws, ChangeRequest(AB, "starter", "monthly"), NOW), NOW, "x", True)
    decision = decide(CATALOG, ws, ChangeRequest(DW, "standard", "monthly"), NOW)
    [wait] = [fix for fix in decision.fixes if fix.code == R.FIX_WAIT_FOR_ADDON_CHANGE]
    text = render(wait.code, wait.params, "vi", CATALOG)
    assert "thử lại" in text and "đổi lại" not in text
    moment = ws.scheduled_change(AB).effective_at
    for product in (DW, AB):
        while renew(CATALOG, ws, product, moment):
            pass
    assert dw.period_end > moment
    assert decide(CATALOG, ws, ChangeRequest(DW, "standard", "monthly"), moment).allowed


# --- G. a scheduled downgrade is visible and undoable ----------------------------------------------------
def test_G_keeping_the_plan_says_what_is_scheduled_when_and_how_to_cancel():
    ws = f.demo_workspaces()["demo-downgrade-scheduled"]
    decision = decide(CATALOG, ws, ChangeRequest(DW, "premium"), NOW)
    when = business_day(ws.scheduled_change(DW).effective_at).strftime("%d/%m/%Y")
    said = " ".join(texts(decision))
    assert "Standard" in said and when in said and "hủy lịch" in said, said
    assert "không có gì để thay đổi" not in said


def test_G_repeating_the_scheduled_downgrade_says_already_scheduled():
    ws = f.demo_workspaces()["demo-downgrade-scheduled"]
    decision = decide(CATALOG, ws, ChangeRequest(DW, "standard"), NOW)
    assert decision.allowed and decision.codes[0] == R.ALREADY_SCHEDULED and decision.fixes == []
    shown = render_decision(decision, "vi", CATALOG)
    assert shown["summary"].startswith("Đã lên lịch") and "Bạn không cần làm gì thêm" not in " ".join(texts(decision))
    before = copy.deepcopy(ws)
    assert schedule_change(ws, decision, NOW, "again", True) is ws.scheduled_change(DW)
    assert ws == before


# --- H. renewals keep the anchor day ------------------------------------------------------------------
def test_H_monthly_renewals_keep_the_31st():
    start = datetime(2027, 1, 31, 2, 0, tzinfo=UTC)  # 09:00 on 31 Jan in Hanoi
    ws = f.workspace()
    ws.subscriptions.append(
        Subscription(
            DW,
            "standard",
            Status.ACTIVE,
            5,
            start,
            datetime(2027, 2, 28, 2, 0, tzinfo=UTC),
            Cycle.MONTHLY,
            billing_anchor=start,
        )
    )
    ends = []
    for _ in range(4):
        renewal = renew(CATALOG, ws, DW, ws.subscription(DW).period_end)
        ends.append(business_day(renewal.subscription.period_end).isoformat())
    assert ends == ["2027-03-31", "2027-04-30", "2027-05-31", "2027-06-30"]  # was 28/03, 28/04, ...


def test_H_a_new_period_anchors_at_its_start_in_vietnam():
    ws = f.workspace()
    now = datetime(2027, 1, 30, 18, 0, tzinfo=UTC)  # 01:00 on 31 Jan in Hanoi
    sub = apply_decision(CATALOG, ws, decide(CATALOG, ws, ChangeRequest(DW, "standard"), now), now)
    assert sub.billing_anchor == now and business_day(sub.period_end).isoformat() == "2027-02-28"
    renew(CATALOG, ws, DW, sub.period_end)
    assert business_day(sub.period_end).isoformat() == "2027-03-31"


def test_H_the_anchor_is_stored(uow):
    start = datetime(2027, 1, 31, 2, 0, tzinfo=UTC)
    ws = f.workspace("ws-anchor")
    ws.subscriptions.append(
        Subscription(
            DW,
            "standard",
            Status.ACTIVE,
            5,
            start,
            datetime(2027, 2, 28, 2, 0, tzinfo=UTC),
            Cycle.MONTHLY,
            billing_anchor=start,
        )
    )
    with uow:
        uow.workspaces.add(ws)
        uow.commit()
    services.renew_due(uow, datetime(2027, 3, 1, tzinfo=UTC), CATALOG)
    with uow:
        stored = uow.workspaces.get("ws-anchor").subscription(DW)
        assert stored.billing_anchor == start
        assert business_day(stored.period_end).isoformat() == "2027-03-31"


# --- L, M. fix wording ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "builder, request_, product",
    [
        (lambda: f.demo_workspaces()["demo-free"], ChangeRequest(DW, "free", addons={"storage": 10}), DW),
        (lambda: f.demo_workspaces()["demo-monthly"], ChangeRequest(DW, "starter", addons={"data_records": 10000}), AB),
    ],
)
def test_L_capacity_on_free_or_trial_needs_a_paid_plan_not_the_product(builder, request_, product):
    decision = decide(CATALOG, builder(), request_, NOW)
    fixes = [render(fix.code, fix.params, "vi", CATALOG) for fix in decision.fixes]
    name = CATALOG.product_name(product, "vi")
    assert f"Mua gói trả phí của {name} trước" in " ".join(fixes), fixes
    assert f"Mua gói {name} trước" not in " ".join(fixes)


def test_M_downgrade_capacity_note_offers_only_what_can_be_done():
    ws = f.demo_workspaces()["demo-yearly"]
    f.capacity(ws, "storage", 200, 3)
    decision = decide(CATALOG, ws, ChangeRequest(DW, "starter"), NOW)
    [note] = [r for r in decision.reasons if r.code == R.CAPACITY_WILL_BE_REMOVED]
    for lang in ("vi", "en"):
        text = render(note.code, note.params, lang, CATALOG)
        assert "mua thêm" not in text and "buy more" not in text, text
    # What it does offer works: cancelling the downgrade means nothing is planned for deletion.
    schedule_change(ws, decision, NOW, "price", True)
    assert any(item.kind is RetentionKind.CAPACITY for item in preview(CATALOG, ws, NOW))
    ws.scheduled_changes.clear()
    assert preview(CATALOG, ws, NOW) == []


# --- Texts ----------------------------------------------------------------------------------------------
def test_text_seat_only_change_does_not_say_lowered_to_the_same_tier():
    ws = f.demo_workspaces()["demo-monthly"]  # Starter
    shown = render_decision(decide(CATALOG, ws, ChangeRequest(DW, "starter", seats=3), NOW), "vi", CATALOG)
    said = " ".join([shown["summary"], *(r["message"] for r in shown["reasons"])])
    assert "xuống gói Starter" not in said and "3 người dùng" in shown["summary"], said
    assert "hàng tháng" not in shown["summary"]  # the cycle does not change: it is not said to


def test_text_cycle_only_change_at_renewal():
    ws = f.workspace()
    f.paid(ws, DW, "starter", "yearly", seats=4, started_days_ago=30)
    shown = render_decision(decide(CATALOG, ws, ChangeRequest(DW, "starter", "monthly"), NOW), "vi", CATALOG)
    said = " ".join([shown["summary"], *(r["message"] for r in shown["reasons"])])
    assert "xuống gói Starter" not in said and "hàng tháng" in shown["summary"]
    assert "người dùng" not in shown["summary"]  # the number of users does not change


def test_text_credit_capped_does_not_read_as_an_amount_due():
    text = render(R.QUOTE_CREDIT_CAPPED, {"credit_vnd": 66667}, "vi", CATALOG)
    assert "số tiền phải trả 66.667" not in text and "66.667 ₫ không được hoàn lại" in text


def test_text_lists_say_va_before_the_last_item():
    text = render(
        R.FEATURE_DATA_WILL_BE_DELETED,
        {"features": ["reports", "gantt", "okr"], "due_date": "2027-01-01"},
        "vi",
        CATALOG,
    )
    assert "Báo cáo nâng cao, Biểu đồ Gantt và Mục tiêu OKR" in text
    en = render(R.ADDON_REQUIRES_PAID_BASE, {"addons": [OW, AB], "base": DW}, "en", CATALOG)
    assert en.startswith("Operations Workflow and App Builder")


def test_text_english_plurals_and_agreement():
    one_pack = render(
        R.QUOTE_ADDON,
        {"kind": "storage", "amount": 10, "packs": 1, "pack_size": 10, "pack_price_vnd": 20000, "cycle": "monthly"},
        "en",
        CATALOG,
    )
    assert "1 pack ×" in one_pack and "1 packs" not in one_pack
    assert "2 packs ×" in render(
        R.QUOTE_ADDON,
        {"kind": "storage", "amount": 20, "packs": 2, "pack_size": 10, "pack_price_vnd": 20000, "cycle": "monthly"},
        "en",
        CATALOG,
    )
    limit = render(
        R.CAPACITY_LIMIT_EXCEEDED,
        {"kind": "data_records", "total": 1, "limit": 0, "product": AB, "tier": "none"},
        "en",
        CATALOG,
    )
    assert "Data records follows" not in limit


def test_text_last_trial_day_says_today_with_the_time():
    ws = f.workspace()
    sub = f.trial(ws, DW, "standard", seats=3, started_days_ago=30)
    sub.period_end = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)  # 20:00 today in Hanoi; NOW is 16:00 there
    decision = decide(CATALOG, ws, ChangeRequest(DW, "free"), NOW)
    vi = render(decision.reasons[0].code, decision.reasons[0].params, "vi", CATALOG)
    en = render(decision.reasons[0].code, decision.reasons[0].params, "en", CATALOG)
    assert "còn 0 ngày" not in vi and "hôm nay, lúc 20:00" in vi, vi
    assert "0 days" not in en and "today at 20:00" in en, en


def test_text_no_contradictory_fixes_side_by_side():
    decision = decide(CATALOG, f.demo_workspaces()["demo-yearly"], ChangeRequest(DW, "premium", "monthly"), NOW)
    codes = [fix.code for fix in decision.fixes]
    assert R.FIX_KEEP_YEARLY in codes and R.FIX_MOVE_ADDON_CYCLE_FIRST not in codes


def test_text_capacity_only_quote_shows_no_cancelling_plan_and_credit_lines():
    priced = quote(
        CATALOG, f.demo_workspaces()["demo-yearly"], ChangeRequest(DW, "standard", addons={"storage": 10}), NOW
    )
    assert [line.code for line in priced.lines] == [R.QUOTE_ADDON_PRORATED]


@pytest.mark.parametrize(
    "ws_name, request_",
    [
        ("demo-monthly", ChangeRequest(DW, "standard")),
        ("demo-monthly", ChangeRequest(DW, "starter", seats=2)),
        ("demo-trial-ended", ChangeRequest(DW, "free")),
        ("demo-yearly", ChangeRequest(AB, "starter")),
    ],
)
def test_text_allowed_answer_does_not_repeat_its_summary_as_first_reason(ws_name, request_):
    decision = decide(CATALOG, f.demo_workspaces()[ws_name], request_, NOW)
    assert decision.allowed
    for lang in ("vi", "en"):
        shown = render_decision(decision, lang, CATALOG)
        first = shown["reasons"][0]["message"]

        def runs(text, n=4):
            words = re.findall(r"\w+", text.lower())
            return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}

        assert not runs(first) & runs(shown["summary"]), (shown["summary"], first)


# --- mutation survivors of the domain ------------------------------------------------------------------
def trial_ending_at(end):
    ws = f.workspace()
    sub = f.trial(ws, DW, "standard", seats=3)
    sub.period_end = end
    return ws


def test_trial_is_over_at_the_exact_end_instant():
    end = NOW
    assert decide(CATALOG, trial_ending_at(end), ChangeRequest(DW, "free"), NOW).rule_id == "free_after_trial"
    just_before = decide(CATALOG, trial_ending_at(end + timedelta(microseconds=1)), ChangeRequest(DW, "free"), NOW)
    assert just_before.codes[0] == R.TRIAL_NOT_OVER


def test_capacity_limit_at_exactly_max_extra_is_allowed():
    limit = CATALOG.quota("storage", "standard").max_extra
    at_limit = decide(
        CATALOG, standard_with_storage(limit - 10), ChangeRequest(DW, "standard", addons={"storage": 10}), NOW
    )
    assert at_limit.allowed
    above = decide(CATALOG, standard_with_storage(limit), ChangeRequest(DW, "standard", addons={"storage": 10}), NOW)
    assert above.codes == [R.CAPACITY_LIMIT_EXCEEDED]


# The intended order of the rule cases. Every pair of cases whose `when` can both hold must keep
# this relative order in catalog.yaml (swapping two of them changes what a customer is told).
EXPECTED_ORDER = [
    "keep_plan_while_scheduled",
    "no_change",
    "payment_pending",
    "already_scheduled",
    "addon_has_no_free_edition",
    "tier_not_offered",
    "free_only_after_trial",
    "addon_needs_paid_base",
    "no_monthly_on_yearly_upgrade",
    "addon_cycle_within_base",
    "min_paid_seats",
    "capacity_within_limit",
    "capacity_only_with_purchase",
    "capacity_not_with_change_at_renewal",
    "credit_kept_replaces_scheduled",
    "credit_kept_change_at_renewal",
    "upgrade_replaces_scheduled_downgrade",
    "upgrade",
    "downgrade_replaces_scheduled",
    "shorter_cycle_at_renewal",
    "downgrade_at_renewal",
    "free_after_trial",
    "anything_else",
]


def _can_both_match(a, b):
    return all(a.when[fact] & b.when[fact] for fact in set(a.when) & set(b.when))


def test_every_pair_of_rules_that_can_both_match_keeps_its_order():
    rules = list(CATALOG.change_rules)
    assert [rule.id for rule in rules if rule.id in EXPECTED_ORDER] == [
        r for r in EXPECTED_ORDER if r in {rule.id for rule in rules}
    ]
    assert {rule.id for rule in rules} == set(EXPECTED_ORDER)
    position = {rule_id: index for index, rule_id in enumerate(EXPECTED_ORDER)}
    for i, earlier in enumerate(rules):
        for later in rules[i + 1 :]:
            if _can_both_match(earlier, later):
                assert position[earlier.id] < position[later.id], (earlier.id, later.id)


def dw_yearly_scheduled_starter():
    ws = f.workspace()
    f.paid(ws, DW, "premium", "yearly", seats=10, started_days_ago=100)
    f.scheduled(ws, DW, "starter", "yearly")
    return ws


# Real workspaces where two rules both match: the earlier one must win, with its notes.
PAIRS = [
    (
        "downgrade_replaces_scheduled over shorter_cycle_at_renewal",
        dw_yearly_scheduled_starter,
        ChangeRequest(DW, "standard", "monthly"),
        "downgrade_replaces_scheduled",
        R.REPLACES_SCHEDULED_CHANGE,
    ),
    (
        "downgrade_replaces_scheduled over downgrade_at_renewal",
        lambda: f.demo_workspaces()["demo-downgrade-scheduled"],
        ChangeRequest(DW, "starter"),
        "downgrade_replaces_scheduled",
        R.REPLACES_SCHEDULED_CHANGE,
    ),
    (
        "upgrade_replaces_scheduled_downgrade over upgrade",
        lambda: f.demo_workspaces()["demo-downgrade-scheduled"],
        ChangeRequest(DW, "premium", seats=15),
        "upgrade_replaces_scheduled_downgrade",
        R.CANCELS_SCHEDULED_CHANGE,
    ),
    (
        "shorter_cycle_at_renewal over downgrade_at_renewal",
        lambda: f.demo_workspaces()["demo-yearly"],
        ChangeRequest(AB, "starter", "monthly"),
        "shorter_cycle_at_renewal",
        R.PAID_PERIOD_USED_IN_FULL,
    ),
    (
        "keep_plan_while_scheduled over no_change",
        lambda: f.demo_workspaces()["demo-downgrade-scheduled"],
        ChangeRequest(DW, "premium"),
        "keep_plan_while_scheduled",
        R.KEEP_PLAN_WHILE_SCHEDULED,
    ),
    (
        "payment_pending over upgrade",
        lambda: f.demo_workspaces()["demo-pending-payment"],
        ChangeRequest(DW, "premium"),
        "payment_pending",
        R.PAYMENT_PENDING,
    ),
    (
        "already_scheduled over downgrade_replaces_scheduled",
        lambda: f.demo_workspaces()["demo-downgrade-scheduled"],
        ChangeRequest(DW, "standard"),
        "already_scheduled",
        R.ALREADY_SCHEDULED,
    ),
    (
        "no_monthly_on_yearly_upgrade over upgrade",
        lambda: f.demo_workspaces()["demo-yearly"],
        ChangeRequest(DW, "premium", "monthly"),
        "no_monthly_on_yearly_upgrade",
        R.YEARLY_TO_MONTHLY_ON_UPGRADE,
    ),
    (
        "capacity_within_limit over upgrade",
        lambda: standard_with_storage(1000),
        ChangeRequest(DW, "standard", seats=6, addons={"storage": 10}),
        "capacity_within_limit",
        R.CAPACITY_LIMIT_EXCEEDED,
    ),
    (
        "min_paid_seats over upgrade",
        lambda: f.demo_workspaces()["demo-trial"],
        ChangeRequest(DW, "standard", seats=1),
        "min_paid_seats",
        R.MIN_SEATS,
    ),
    (
        "free_only_after_trial over free_after_trial",
        lambda: f.demo_workspaces()["demo-trial"],
        ChangeRequest(DW, "free"),
        "free_only_after_trial",
        R.TRIAL_NOT_OVER,
    ),
    (
        "credit_kept_replaces_scheduled over credit_kept_change_at_renewal",
        lambda: _hundred_seats(scheduled=True),
        ChangeRequest(DW, "standard", "yearly", 2),
        "credit_kept_replaces_scheduled",
        R.REPLACES_SCHEDULED_CHANGE,
    ),
    (
        "credit_kept_change_at_renewal over upgrade",
        lambda: _hundred_seats(),
        ChangeRequest(DW, "standard", "yearly", 2),
        "credit_kept_change_at_renewal",
        R.CHANGE_AT_RENEWAL_KEEPS_CREDIT,
    ),
]


def _hundred_seats(scheduled=False):
    ws = f.workspace()
    f.paid(ws, DW, "standard", "monthly", seats=100, started_days_ago=3)
    if scheduled:
        f.scheduled(ws, DW, "starter", "monthly", seats=50)
    return ws


@pytest.mark.parametrize("builder, request_, rule_id, code", [p[1:] for p in PAIRS], ids=[p[0] for p in PAIRS])
def test_when_two_rules_match_the_earlier_one_answers(builder, request_, rule_id, code):
    decision = decide(CATALOG, builder(), request_, NOW)
    assert decision.rule_id == rule_id, decision.facts
    assert code in decision.codes


def test_every_message_is_in_vietnamese_with_diacritics_and_no_chat_abbreviations():
    for code, entry in MESSAGES.items():
        assert not re.search(r"\b(ko|k|dc|ntn)\b", entry["vi"]), code


def test_H_a_change_at_the_renewal_is_quoted_for_the_period_renew_will_make():
    start = datetime(2027, 1, 31, 2, 0, tzinfo=UTC)
    ws = f.workspace()
    sub = Subscription(
        DW,
        "premium",
        Status.ACTIVE,
        5,
        datetime(2027, 1, 31, 2, 0, tzinfo=UTC),
        datetime(2027, 2, 28, 2, 0, tzinfo=UTC),
        Cycle.MONTHLY,
        billing_anchor=start,
    )
    ws.subscriptions.append(sub)
    now = datetime(2027, 2, 10, tzinfo=UTC)
    priced = quote(CATALOG, ws, ChangeRequest(DW, "standard"), now)
    schedule_change(ws, decide(CATALOG, ws, ChangeRequest(DW, "standard"), now), now, "x", True)
    renew(CATALOG, ws, DW, sub.period_end)
    assert (priced.period_start, priced.period_end) == (sub.period_start, sub.period_end)
    assert business_day(priced.period_end).isoformat() == "2027-03-31"


def test_text_a_list_to_choose_from_says_hoac():
    vi = render(R.FIX_UPGRADE_TO_PAID_TIER, {"product": AB, "tiers": ["starter", "standard"]}, "vi", CATALOG)
    en = render(R.FIX_CHOOSE_OFFERED_TIER, {"product": AB, "tiers": ["starter", "standard"]}, "en", CATALOG)
    assert vi.endswith("Starter hoặc Standard.") and en.endswith("Starter or Standard.")


def test_text_a_seat_or_cycle_change_is_not_said_twice():
    ws = f.workspace()
    f.paid(ws, DW, "standard", "yearly", seats=10, started_days_ago=100)
    shown = render_decision(decide(CATALOG, ws, ChangeRequest(DW, "standard", "monthly"), NOW), "vi", CATALOG)
    messages = [r["message"] for r in shown["reasons"]]
    assert sum("kỳ đã thanh toán" in m for m in messages) == 1, messages
