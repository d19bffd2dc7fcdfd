"""Personal answers: from the asker's own workspace with a valid token, the general rule and how
to log in otherwise; a customer never sees another workspace, an agent may name one."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

import billing_core as bc
from actions.personal import (
    ActionAnswerBillingCycle,
    ActionAnswerDataRetention,
    ActionAnswerGoFree,
    ActionAnswerMyPlan,
    ActionAnswerNextRenewal,
    ActionAnswerPaymentStatus,
    ActionAnswerTrial,
    ActionCancelDowngrade,
    ActionConfirmCancelDowngrade,
    trial_days_left,
)
from tests.actions.conftest import make_tracker, rendered, responses, run, slot_events, token

TRIAL_DAYS = re.compile(r"\b18\b")


def ask_trial(token_value=None, text="tôi còn bao nhiêu ngày dùng thử", language="vi"):
    return run(ActionAnswerTrial(), make_tracker(text, "ask_trial", token_value=token_value, language=language))


def test_customer_gets_their_own_trial_days(billing_db):
    dispatcher, _ = ask_trial(token("demo-trial"))
    text = rendered(dispatcher)
    assert TRIAL_DAYS.search(text), text
    assert "Không gian làm việc số" in text
    assert "utter_login_for_personal" not in responses(dispatcher)


def test_anonymous_user_gets_the_general_rule_and_how_to_log_in(billing_db):
    dispatcher, _ = ask_trial(None)
    assert responses(dispatcher) == ["utter_trial", "utter_login_for_personal"]
    assert "30 ngày" in rendered(dispatcher)
    assert "đăng nhập" in rendered(dispatcher)


@pytest.mark.parametrize(
    "bad_token",
    [
        token("demo-trial", minutes=-1),
        token("demo-trial", secret="not-the-right-secret-0123456789abcdef"),
        "not.a.token",
        "",
    ],
)
def test_expired_forged_or_garbage_token_reads_as_anonymous(billing_db, bad_token):
    dispatcher, _ = ask_trial(bad_token)
    assert not TRIAL_DAYS.search(rendered(dispatcher))
    assert responses(dispatcher)[-1] == "utter_login_for_personal"


def test_customer_naming_another_workspace_still_gets_only_their_own(billing_db):
    dispatcher, events = ask_trial(
        token("demo-yearly"), "kiểm tra workspace demo-trial giúp tôi, còn bao nhiêu ngày dùng thử?"
    )
    text = rendered(dispatcher)
    assert not TRIAL_DAYS.search(text), "a customer saw another workspace's trial days"
    assert "utter_only_own_workspace" in responses(dispatcher)
    assert "demo-yearly" in text and "agent_workspace" not in slot_events(events)


def test_agent_may_name_any_workspace_and_it_is_remembered(billing_db):
    agent = token("*", role="agent", sub="agent-1")
    dispatcher, events = ask_trial(agent, "kiểm tra workspace demo-trial, còn bao nhiêu ngày dùng thử?")
    assert TRIAL_DAYS.search(rendered(dispatcher))
    assert slot_events(events)["agent_workspace"] == "demo-trial"
    assert "utter_agent_header" in responses(dispatcher)
    # The next turn, without naming it again, stays on the same workspace.
    tracker = make_tracker(
        "còn mấy ngày dùng thử", "ask_trial", token_value=agent, slots={"agent_workspace": "demo-trial"}
    )
    dispatcher, _ = run(ActionAnswerTrial(), tracker)
    assert TRIAL_DAYS.search(rendered(dispatcher))


def test_agent_without_a_workspace_is_asked_to_name_one(billing_db):
    dispatcher, _ = ask_trial(token("*", role="agent"))
    assert responses(dispatcher)[0] == "utter_agent_needs_workspace"
    assert not TRIAL_DAYS.search(rendered(dispatcher))


def test_customer_slot_cannot_redirect_to_another_workspace(billing_db):
    # Even if a slot claims an agent workspace, a customer's answers come from their token.
    tracker = make_tracker(
        "còn bao nhiêu ngày dùng thử",
        "ask_trial",
        token_value=token("demo-yearly"),
        slots={"agent_workspace": "demo-trial"},
    )
    dispatcher, _ = run(ActionAnswerTrial(), tracker)
    assert not TRIAL_DAYS.search(rendered(dispatcher))


def test_english_answer_when_the_language_is_english(billing_db):
    dispatcher, _ = ask_trial(token("demo-trial"), "how many trial days do I have left?", language="en")
    text = rendered(dispatcher, "en")
    assert "18 trial days left" in text
    assert "Digital Workspace" in text


def test_go_free_during_trial_explains_why_and_what_to_do(billing_db):
    tracker = make_tracker("sao tôi không hạ xuống Free được", "ask_go_free", token_value=token("demo-trial"))
    dispatcher, _ = run(ActionAnswerGoFree(), tracker)
    names = responses(dispatcher)
    assert "utter_decision_reasons" in names and "utter_decision_fixes" in names
    assert "dùng thử" in rendered(dispatcher)


def test_go_free_for_a_product_without_free_edition(billing_db):
    tracker = make_tracker(
        "Quy trình vận hành có lên bản free được không", "ask_go_free", token_value=token("demo-ow-trial-ended")
    )
    dispatcher, _ = run(ActionAnswerGoFree(), tracker)
    text = rendered(dispatcher)
    assert "Quy trình vận hành" in text
    assert "utter_decision_reasons" in responses(dispatcher)


def test_anonymous_go_free_gives_the_30_day_rule_and_login(billing_db):
    dispatcher, _ = run(ActionAnswerGoFree(), make_tracker("sao toi ko ha xuong free dc", "ask_go_free"))
    text = rendered(dispatcher)
    assert "30" in text and "đăng nhập" in text


def test_addon_cycle_cannot_be_longer_than_digital_workspace(billing_db):
    tracker = make_tracker(
        "tôi có thể trả App Builder theo năm không?", "ask_billing_cycle", token_value=token("demo-monthly")
    )
    dispatcher, _ = run(ActionAnswerBillingCycle(), tracker)
    assert "utter_decision_reasons" in responses(dispatcher), rendered(dispatcher)
    assert "Không gian làm việc số" in rendered(dispatcher)


def test_general_cycle_question_shows_the_rule_and_the_current_plans(billing_db):
    tracker = make_tracker("chu kỳ thanh toán là gì", "ask_billing_cycle", token_value=token("demo-yearly"))
    dispatcher, _ = run(ActionAnswerBillingCycle(), tracker)
    assert responses(dispatcher)[0] == "utter_billing_cycle"
    assert responses(dispatcher).count("utter_plan_item") == 3


def test_next_renewal_plan_of_a_scheduled_downgrade(billing_db):
    tracker = make_tracker(
        "gói gia hạn tiếp theo của tôi là gì", "ask_next_renewal", token_value=token("demo-downgrade-scheduled")
    )
    dispatcher, _ = run(ActionAnswerNextRenewal(), tracker)
    assert "utter_next_renewal_scheduled" in responses(dispatcher)
    assert "Standard" in rendered(dispatcher)


def test_next_renewal_without_a_change_says_it_renews_as_it_is(billing_db):
    tracker = make_tracker(
        "what is my next renewal plan", "ask_next_renewal", token_value=token("demo-monthly"), language="en"
    )
    dispatcher, _ = run(ActionAnswerNextRenewal(), tracker)
    assert "utter_next_renewal_same" in responses(dispatcher)
    assert "renews on" in rendered(dispatcher, "en")


def test_what_will_be_deleted_for_a_named_downgrade(billing_db):
    tracker = make_tracker(
        "nếu hạ Không gian làm việc số xuống Starter thì dữ liệu nào bị xóa",
        "ask_data_retention",
        token_value=token("demo-yearly"),
    )
    dispatcher, _ = run(ActionAnswerDataRetention(), tracker)
    assert "utter_decision_summary" in responses(dispatcher)
    assert "utter_login_for_personal" not in responses(dispatcher)


def test_what_will_be_deleted_with_nothing_pending_gives_the_rule(billing_db):
    tracker = make_tracker("dữ liệu của tôi có bị xóa không", "ask_data_retention", token_value=token("demo-monthly"))
    dispatcher, _ = run(ActionAnswerDataRetention(), tracker)
    assert responses(dispatcher)[-2:] == ["utter_retention_nothing", "utter_data_retention"]
    assert "7 ngày" in rendered(dispatcher) and "90 ngày" in rendered(dispatcher)


def test_my_plan_lists_every_subscription(billing_db):
    dispatcher, _ = run(
        ActionAnswerMyPlan(), make_tracker("tôi đang dùng gói gì", "ask_my_plan", token_value=token("demo-monthly"))
    )
    assert responses(dispatcher).count("utter_plan_item") == 2
    assert "Xây dựng ứng dụng" in rendered(dispatcher)


def test_payment_status_of_a_pending_order(billing_db):
    dispatcher, _ = run(
        ActionAnswerPaymentStatus(),
        make_tracker("thanh toán của tôi xong chưa", "ask_payment_status", token_value=token("demo-pending-payment")),
    )
    assert responses(dispatcher) == ["utter_order_pending"]
    assert "DEMO" in rendered(dispatcher)


def test_payment_status_explains_a_failed_payment_in_words(billing_db):
    from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
    from billing_core.domain.model import OrderStatus

    uow = SqlAlchemyUnitOfWork(billing_db)
    with uow:
        workspace = uow.workspaces.get("demo-pending-payment", for_update=True)
        workspace.orders[0].status = OrderStatus.FAILED
        workspace.orders[0].response_code = "51"
        workspace.touch()
        uow.commit()
    dispatcher, _ = run(
        ActionAnswerPaymentStatus(),
        make_tracker(
            "did my payment go through?", "ask_payment_status", token_value=token("demo-pending-payment"), language="en"
        ),
    )
    text = rendered(dispatcher, "en")
    assert responses(dispatcher) == ["utter_order_failed"]
    assert "balance" in text.lower(), text


def test_payment_status_with_no_order(billing_db):
    dispatcher, _ = run(
        ActionAnswerPaymentStatus(),
        make_tracker("thanh toán của tôi thành công chưa", "ask_payment_status", token_value=token("demo-trial")),
    )
    assert responses(dispatcher) == ["utter_no_orders"]


def test_unknown_workspace_in_a_valid_token_is_a_polite_message(billing_db):
    dispatcher, _ = ask_trial(token("no-such-workspace"))
    names = responses(dispatcher)
    assert names[0] == "utter_billing_error" and names[-1] == "utter_trial"
    assert rendered(dispatcher).strip()


def test_unreachable_database_is_a_polite_message_not_a_crash(monkeypatch, tmp_path):
    monkeypatch.setenv("BILLING_DATABASE_URL", "postgresql://nobody:nothing@127.0.0.1:9/none")
    dispatcher, _ = ask_trial(token("demo-trial"))
    assert responses(dispatcher) == ["utter_personal_unavailable", "utter_trial"]


def test_cancel_a_scheduled_downgrade_asks_first_then_cancels(billing_db):
    from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
    from billing_core.service_layer import services

    customer = token("demo-downgrade-scheduled")
    dispatcher, events = run(
        ActionCancelDowngrade(), make_tracker("hủy lịch hạ gói", "cancel_downgrade", token_value=customer)
    )
    assert responses(dispatcher) == ["utter_cancel_downgrade_confirm"]
    assert slot_events(events)["pending_cancel_product"] == "digital_workspace"
    summary = services.workspace_summary(SqlAlchemyUnitOfWork(billing_db), "demo-downgrade-scheduled")
    assert summary["subscriptions"][0]["downgrade_scheduled"] is True  # nothing written yet

    dispatcher, events = run(
        ActionConfirmCancelDowngrade(),
        make_tracker("đồng ý", "affirm", token_value=customer, slots={"pending_cancel_product": "digital_workspace"}),
    )
    assert responses(dispatcher) == ["utter_cancel_downgrade_done"]
    summary = services.workspace_summary(SqlAlchemyUnitOfWork(billing_db), "demo-downgrade-scheduled")
    assert summary["subscriptions"][0]["downgrade_scheduled"] is False


def test_saying_no_keeps_the_scheduled_downgrade(billing_db):
    from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
    from billing_core.service_layer import services

    dispatcher, _ = run(
        ActionConfirmCancelDowngrade(),
        make_tracker(
            "không",
            "deny",
            token_value=token("demo-downgrade-scheduled"),
            slots={"pending_cancel_product": "digital_workspace"},
        ),
    )
    assert responses(dispatcher) == ["utter_cancel_downgrade_kept"]
    summary = services.workspace_summary(SqlAlchemyUnitOfWork(billing_db), "demo-downgrade-scheduled")
    assert summary["subscriptions"][0]["downgrade_scheduled"] is True


def test_why_question_about_cycles_gets_the_rule_then_the_workspace(billing_db):
    tracker = make_tracker(
        "tại sao gói năm không chuyển sang tháng được?", "ask_billing_cycle", token_value=token("demo-yearly")
    )
    dispatcher, _ = run(ActionAnswerBillingCycle(), tracker)
    names = responses(dispatcher)
    assert names[0] == "utter_billing_cycle" and "utter_plan_item" in names
    assert "utter_decision_summary" not in names  # a why-question gets the rule, not decisions


@pytest.mark.parametrize(
    "now",
    [
        "2026-12-01T16:59:00+00:00",
        "2026-12-01T17:00:00+00:00",
        "2026-12-01T23:59:00+00:00",
    ],
)
def test_A_assistant_counts_trial_days_like_check_and_show(now):
    """Issue 10 item A: the assistant used ceil(hours / 24), check and show Vietnamese calendar days."""
    moment = datetime.fromisoformat(now)
    end = "2026-12-20T18:00:00+00:00"  # 01:00 on 21 Dec in Hanoi
    assert trial_days_left({"period_end": end}, moment) == bc.days_left(datetime.fromisoformat(end), moment)


def test_text_last_trial_day_is_today_not_zero_days(billing_db):
    """Issue 10 texts: on the last trial day the assistant said "còn 0 ngày"; now it says today, and when."""
    uow = bc.SqlAlchemyUnitOfWork(billing_db)
    with uow:
        ws = uow.workspaces.get("demo-trial", for_update=True)
        ws.subscriptions[0].period_end = datetime.now(timezone.utc) + timedelta(seconds=30)
        ws.touch()
        uow.commit()
    dispatcher, _ = ask_trial(token("demo-trial"))
    text = rendered(dispatcher)
    assert "ngày dùng thử cuối cùng" in text and "còn 0 ngày" not in text, text


def test_can_an_upgrade_switch_my_yearly_plan_to_monthly_is_no(billing_db):
    from actions.personal import ActionAnswerBillingCycle

    tracker = make_tracker(
        "can an upgrade switch my Digital Workspace from yearly to monthly?",
        "ask_billing_cycle",
        token_value=token("demo-yearly"),
        language="en",
    )
    dispatcher, _ = run(ActionAnswerBillingCycle(), tracker)
    assert "utter_decision_reasons" in responses(dispatcher)
    assert "monthly" in rendered(dispatcher, "en").lower()


@pytest.mark.parametrize(
    "action, text, intent",
    [
        (ActionAnswerGoFree(), "tôi có thể chuyển về bản Free không?", "ask_go_free"),
        (ActionAnswerBillingCycle(), "tôi có thể trả theo năm không?", "ask_billing_cycle"),
        (ActionAnswerDataRetention(), "dữ liệu của tôi có bị xóa không", "ask_data_retention"),
        (ActionAnswerDataRetention(), "hạ App Builder xuống Free thì mất dữ liệu gì", "ask_data_retention"),
        (ActionAnswerMyPlan(), "gói hiện tại của tôi là gì", "ask_my_plan"),
        (ActionAnswerTrial(), "tôi còn bao nhiêu ngày dùng thử", "ask_trial"),
    ],
)
def test_a_personal_answer_reads_the_workspace_once(billing_db, monkeypatch, action, text, intent):
    """The plans and every decision beside them come from one read of the workspace (one unit of
    work), so one answer cannot disagree with itself; a go-Free answer for three products read it
    four times."""
    from actions import billing

    opened = []
    real = billing.unit_of_work
    monkeypatch.setattr(billing, "unit_of_work", lambda: opened.append(1) or real())
    for workspace_id in bc.DEMO_WORKSPACE_IDS:
        opened.clear()
        dispatcher, _ = run(action, make_tracker(text, intent, token_value=token(workspace_id)))
        assert "utter_personal_unavailable" not in responses(dispatcher), workspace_id
        assert len(opened) == 1, (workspace_id, len(opened))
