"""downgrade_form: the article's steps in the chat (lower plan -> survey -> what will change -> the
explicit confirmation -> review -> "Hạ gói"), billing_core's decision before any question, and a
write only after every step, by the verified customer."""

from __future__ import annotations

import billing_core as bc
from actions.downgrade import (
    ActionDowngradeSubmit,
    AskDowngradeAck,
    AskDowngradeConfirmed,
    AskDowngradeTier,
    ValidateDowngradeForm,
)
from actions.personal import ActionCancelDowngrade, ActionConfirmCancelDowngrade
from tests.actions.conftest import history, make_tracker, rendered, responses, run, slot_events, token

FORM = "downgrade_form"
ACK_VI = "Tôi xác nhận hạ gói và không thể truy cập các tính năng nâng cao sau khi kết thúc chu kỳ thanh toán"


def step(text, intent="inform", requested=None, slots=None, token_value=None, language="vi", confidence=0.95):
    all_slots = dict(slots or {})
    all_slots["requested_slot"] = requested
    tracker = make_tracker(
        text,
        intent,
        token_value=token_value,
        slots=all_slots,
        active_loop=FORM,
        language=language,
        confidence=confidence,
    )
    return run(ValidateDowngradeForm(), tracker)


def summary(url, workspace_id):
    return bc.workspace_summary(bc.SqlAlchemyUnitOfWork(url), workspace_id)


def plan(url, workspace_id, product):
    return next(s for s in summary(url, workspace_id)["subscriptions"] if s["product"] == product)


def test_anonymous_visitor_gets_the_rule_and_how_to_log_in_and_nothing_is_asked(billing_db):
    dispatcher, events = step("có thể hạ gói giúp tôi ngay trong chat không?", intent="request_downgrade")
    assert responses(dispatcher) == ["utter_downgrade_login"]
    assert slot_events(events)["requested_slot"] is None
    text = rendered(dispatcher)
    assert "đăng nhập" in text and "kỳ thanh toán tiếp theo" in text and "7 ngày" in text and "90 ngày" in text


def test_agent_cannot_downgrade_for_a_customer(billing_db):
    dispatcher, events = step(
        "hạ gói workspace demo-yearly", intent="request_downgrade", token_value=token("*", role="agent")
    )
    assert "utter_agent_no_changes" in responses(dispatcher)
    assert slot_events(events)["downgrade_status"] == "agent"


def test_the_articles_steps_in_order_then_the_next_renewal_plan_then_cancel(billing_db):
    tok = token("demo-yearly")
    # 1. the lower plan, named in the first message: billing_core allows it, the survey comes next
    dispatcher, events = step(
        "please downgrade App Builder to Starter for me", intent="request_downgrade", token_value=tok, language="en"
    )
    slots = slot_events(events)
    assert (slots["product"], slots["tier"], slots["requested_slot"]) == ("app_builder", "starter", "downgrade_reason")
    assert dispatcher.messages == []
    state = {"product": "app_builder", "tier": "starter", "downgrade_status": "checked"}
    # 2. the survey answer, in the customer's own words
    _, events = step("We don't use it enough", requested="downgrade_reason", slots=state, token_value=tok)
    assert slot_events(events)["downgrade_reason"] == "We don't use it enough"
    assert slot_events(events)["requested_slot"] == "downgrade_ack"
    state["downgrade_reason"] = "We don't use it enough"
    # 3. what will change, from the decision: locked features and the date their data goes
    tracker = make_tracker("", token_value=tok, slots=state, language="en")
    dispatcher, _ = run(AskDowngradeAck(), tracker)
    assert responses(dispatcher) == ["utter_downgrade_changes", "utter_ask_downgrade_ack"]
    text = rendered(dispatcher, "en")
    assert "API" in text and "7 days" in text and "oldest first" in text
    assert "I confirm the downgrade and that I cannot access advanced features" in " ".join(
        b["title"] for m in dispatcher.messages for b in m.get("buttons") or []
    )
    # 4. the explicit confirmation; anything else is asked again
    dispatcher, events = step("maybe", requested="downgrade_ack", slots=state, token_value=tok)
    assert responses(dispatcher) == ["utter_invalid_downgrade_ack"]
    assert slot_events(events)["requested_slot"] == "downgrade_ack"
    _, events = step(
        "I confirm the downgrade and that I cannot access advanced features after the billing cycle ends",
        intent="request_downgrade",
        requested="downgrade_ack",
        slots=state,
        token_value=tok,
    )
    assert slot_events(events)["downgrade_ack"] is True
    state["downgrade_ack"] = True
    # 5. the review of the new plan
    dispatcher, _ = run(AskDowngradeConfirmed(), make_tracker("", token_value=tok, slots=state))
    review = rendered(dispatcher)
    assert (
        "Xây dựng ứng dụng" in review
        and "Starter" in review
        and "Hạ gói" in [b["title"] for b in dispatcher.messages[0]["buttons"]]
    )
    # 6. "Hạ gói": only now is anything written
    assert plan(billing_db, "demo-yearly", "app_builder")["downgrade_scheduled"] is False
    _, events = step(
        "Hạ gói", intent="ask_downgrade_howto", requested="downgrade_confirmed", slots=state, token_value=tok
    )
    assert slot_events(events)["downgrade_confirmed"] is True and slot_events(events)["requested_slot"] is None
    state["downgrade_confirmed"] = True
    dispatcher, events = run(ActionDowngradeSubmit(), make_tracker("Hạ gói", token_value=tok, slots=state))
    assert responses(dispatcher) == ["utter_downgrade_scheduled"]
    assert "Gói gia hạn tiếp theo" in rendered(dispatcher)
    assert slot_events(events)["product"] is None  # the answers are forgotten
    scheduled = plan(billing_db, "demo-yearly", "app_builder")
    assert scheduled["downgrade_scheduled"] is True and scheduled["next_renewal_plan"]["tier"] == "starter"
    # ... and it can be cancelled from the chat
    dispatcher, events = run(
        ActionCancelDowngrade(), make_tracker("hủy hạ gói Xây dựng ứng dụng", "cancel_downgrade", token_value=tok)
    )
    assert slot_events(events)["pending_cancel_product"] == "app_builder"
    run(
        ActionConfirmCancelDowngrade(),
        make_tracker("có", "affirm", token_value=tok, slots={"pending_cancel_product": "app_builder"}),
    )
    assert plan(billing_db, "demo-yearly", "app_builder")["downgrade_scheduled"] is False


def test_the_survey_keeps_an_answer_that_starts_with_no(billing_db):
    state = {"product": "app_builder", "tier": "starter", "downgrade_status": "checked"}
    _, events = step(
        "không dùng nhiều", intent="deny", requested="downgrade_reason", slots=state, token_value=token("demo-yearly")
    )
    assert slot_events(events)["downgrade_reason"] == "không dùng nhiều"
    # a plain "thôi" leaves the form to the stop rule: nothing set
    dispatcher, events = step(
        "thôi", intent="deny", requested="downgrade_reason", slots=state, token_value=token("demo-yearly")
    )
    assert events == [] and dispatcher.messages == []


def test_blocked_is_explained_before_any_question_with_the_fix_as_buttons(billing_db):
    # demo-trial: Digital Workspace goes Free only after the 30-day trial
    dispatcher, events = step("hạ xuống Free giúp tôi", intent="request_downgrade", token_value=token("demo-trial"))
    slots = slot_events(events)
    assert slots["downgrade_status"] == "blocked" and slots["requested_slot"] is None
    assert "utter_ask_downgrade_reason" not in responses(dispatcher)
    fixes = next(m for m in dispatcher.messages if m.get("utter_action") == "utter_decision_fixes")
    payloads = [b["payload"] for b in fixes["buttons"]]
    assert "/ask_trial" in payloads and '/buy_upgrade{"product":"digital_workspace"}' in payloads
    assert plan(billing_db, "demo-trial", "digital_workspace")["status"] == "trial"


def test_an_addon_has_no_free_edition_and_the_fix_starts_the_purchase(billing_db):
    dispatcher, _ = step(
        "chuyển Quy trình vận hành xuống Free giúp tôi",
        intent="request_downgrade",
        token_value=token("demo-ow-trial-ended"),
    )
    fixes = next(m for m in dispatcher.messages if m.get("utter_action") == "utter_decision_fixes")
    assert fixes["buttons"][0]["payload"] == '/buy_upgrade{"product":"operations_workflow"}'


def test_a_higher_plan_is_no_downgrade(billing_db):
    dispatcher, events = step(
        "hạ Không gian làm việc số xuống Premium", intent="request_downgrade", token_value=token("demo-monthly")
    )
    assert responses(dispatcher) == ["utter_downgrade_is_upgrade"]
    assert slot_events(events)["downgrade_status"] == "not_a_downgrade"


def test_the_lower_plans_are_offered_as_buttons(billing_db):
    tracker = make_tracker("", token_value=token("demo-yearly"), slots={"product": "digital_workspace"})
    dispatcher, _ = run(AskDowngradeTier(), tracker)
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == ["Free", "Starter"]


def test_nothing_is_written_without_every_step(billing_db):
    tok = token("demo-yearly")
    state = {
        "product": "app_builder",
        "tier": "starter",
        "downgrade_reason": "Chi phí cao",
        "downgrade_ack": None,
        "downgrade_confirmed": True,
    }
    dispatcher, _ = run(ActionDowngradeSubmit(), make_tracker("Hạ gói", token_value=tok, slots=state))
    assert responses(dispatcher) == ["utter_form_stopped"]
    state["downgrade_ack"] = True
    dispatcher, _ = run(
        ActionDowngradeSubmit(), make_tracker("Hạ gói", token_value=token("demo-yearly", minutes=-1), slots=state)
    )
    assert responses(dispatcher) == ["utter_downgrade_login"]  # the token expired meanwhile
    assert plan(billing_db, "demo-yearly", "app_builder")["downgrade_scheduled"] is False


def test_free_after_the_trial_applies_at_once(billing_db):
    state = {
        "product": "digital_workspace",
        "tier": "free",
        "downgrade_reason": "Chi phí cao",
        "downgrade_ack": True,
        "downgrade_confirmed": True,
    }
    dispatcher, _ = run(
        ActionDowngradeSubmit(), make_tracker("Hạ gói", token_value=token("demo-trial-ended"), slots=state)
    )
    assert responses(dispatcher) == ["utter_downgrade_applied_free"]
    assert plan(billing_db, "demo-trial-ended", "digital_workspace")["status"] == "free"


def test_a_survey_answer_is_written_with_the_scheduled_change(billing_db):
    tok = token("demo-yearly")
    state = {
        "product": "digital_workspace",
        "tier": "starter",
        "downgrade_reason": "Ít dùng tính năng nâng cao",
        "downgrade_ack": True,
        "downgrade_confirmed": True,
    }
    run(ActionDowngradeSubmit(), make_tracker("Hạ gói", token_value=tok, slots=state))
    assert plan(billing_db, "demo-yearly", "digital_workspace")["next_renewal_plan"]["tier"] == "starter"


def test_an_addon_on_its_lowest_plan_has_nothing_lower(billing_db):
    dispatcher, events = step(
        "hạ gói Quy trình vận hành giúp mình", intent="request_downgrade", token_value=token("demo-yearly")
    )
    assert responses(dispatcher) == ["utter_downgrade_already_lowest"]
    assert slot_events(events)["downgrade_status"] == "blocked"


def test_a_rating_of_an_earlier_answer_is_no_step_of_the_downgrade(billing_db):
    # neither the survey answer nor the checkbox: left to the rating rule, then the form asks again
    state = {"product": "app_builder", "tier": "starter", "downgrade_status": "checked"}
    click = '/rate_answer{"rating":"yes","prompt":"1764561234.25"}'
    for requested in ("downgrade_reason", "downgrade_ack", "downgrade_confirmed"):
        dispatcher, events = step(
            click,
            intent="rate_answer",
            requested=requested,
            slots=state,
            token_value=token("demo-yearly"),
            confidence=1.0,
        )
        assert events == [] and dispatcher.messages == []


def test_from_one_tier_down_to_another_takes_the_target(billing_db):
    # entities name Premium first: the tier after "xuống" is the one asked for
    tracker = make_tracker(
        "App Builder nhà mình muốn chuyển từ Standard xuống Starter",
        "request_downgrade",
        entities=[
            {"entity": "product", "value": "App Builder"},
            {"entity": "tier", "value": "Standard"},
            {"entity": "tier", "value": "Starter"},
        ],
        token_value=token("demo-yearly"),
        slots={"requested_slot": None},
        active_loop=FORM,
    )
    _, events = run(ValidateDowngradeForm(), tracker)
    slots = slot_events(events)
    assert (slots["product"], slots["tier"], slots["requested_slot"]) == ("app_builder", "starter", "downgrade_reason")


def test_yes_cancel_it_in_words_confirms_the_cancellation(billing_db):
    tok = token("demo-downgrade-scheduled")
    _, events = run(ActionCancelDowngrade(), make_tracker("mình muốn giữ gói cũ", "cancel_downgrade", token_value=tok))
    product = slot_events(events)["pending_cancel_product"]
    dispatcher, _ = run(
        ActionConfirmCancelDowngrade(),
        make_tracker(
            "vâng, bỏ giúp mình", "cancel_downgrade", token_value=tok, slots={"pending_cancel_product": product}
        ),
    )
    assert responses(dispatcher) == ["utter_cancel_downgrade_done"]


def test_downgrading_right_after_a_decision_takes_what_it_was_about(billing_db):
    earlier = history("App Builder xuống Starter có được không?", "check_change", "action_answer_check_change")
    tracker = make_tracker(
        "vậy làm giúp mình luôn",
        "request_downgrade",
        token_value=token("demo-yearly"),
        slots={"requested_slot": None},
        active_loop=FORM,
        history=earlier,
    )
    _, events = run(ValidateDowngradeForm(), tracker)
    slots = slot_events(events)
    assert (slots["product"], slots["tier"], slots["requested_slot"]) == ("app_builder", "starter", "downgrade_reason")
