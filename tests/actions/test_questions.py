""" "Can I X?" gets billing_core's decision at once (never a form), with the price of a paid change
and a button that starts it; follow-ups with ellipsis are answered in the last topic's context."""

from __future__ import annotations

from actions.questions import ActionAnswerCheckChange, ActionAnswerFollowup
from tests.actions.conftest import entity, history, make_tracker, rendered, responses, run, slot_events, token


def test_can_i_gets_a_decision_and_the_price_not_a_form(billing_db):
    dispatcher, events = run(
        ActionAnswerCheckChange(),
        make_tracker(
            "tôi có thể nâng Không gian làm việc số lên Standard không?",
            "check_change",
            token_value=token("demo-monthly"),
        ),
    )
    names = responses(dispatcher)
    assert names[:2] == ["utter_personal_header", "utter_decision_summary"]
    assert "utter_quote" in names and names[-1] == "utter_offer_checkout_for"
    assert "requested_slot" not in slot_events(events)
    button = dispatcher.messages[-1]["buttons"][0]
    assert button["payload"] == '/buy_upgrade{"product":"digital_workspace","tier":"standard"}'
    assert "₫" in rendered(dispatcher) or "đ" in rendered(dispatcher)


def test_a_downgrade_question_offers_the_downgrade_in_the_chat(billing_db):
    dispatcher, _ = run(
        ActionAnswerCheckChange(),
        make_tracker(
            "Can I downgrade App Builder to Starter?", "check_change", token_value=token("demo-yearly"), language="en"
        ),
    )
    assert "next billing cycle" in rendered(dispatcher, "en")
    assert (
        dispatcher.messages[-1]["buttons"][0]["payload"]
        == '/request_downgrade{"product":"app_builder","tier":"starter"}'
    )


def test_a_blocked_change_gives_the_fix_as_a_button(billing_db):
    # demo-monthly pays Digital Workspace monthly: App Builder cannot go yearly first
    dispatcher, _ = run(
        ActionAnswerCheckChange(),
        make_tracker(
            "có đổi Xây dựng ứng dụng sang Standard theo năm được không",
            "check_change",
            token_value=token("demo-monthly"),
        ),
    )
    fixes = next(m for m in dispatcher.messages if m.get("utter_action") == "utter_decision_fixes")
    assert any(b["payload"].startswith('/buy_upgrade{"product":"digital_workspace"') for b in fixes["buttons"])
    assert "utter_quote" not in responses(dispatcher)


def test_cost_of_more_users_on_the_same_plan(billing_db):
    dispatcher, _ = run(
        ActionAnswerCheckChange(),
        make_tracker(
            "giữ nguyên gói, cho 8 người thì tốn bao nhiêu?",
            "check_change",
            token_value=token("demo-monthly"),
            entities=[entity("seats", "8")],
        ),
    )
    assert "utter_quote" in responses(dispatcher)
    assert "8" in rendered(dispatcher)


def test_anonymous_gets_the_rule_and_how_to_log_in(billing_db):
    dispatcher, _ = run(
        ActionAnswerCheckChange(), make_tracker("can I upgrade App Builder to Standard?", "check_change", language="en")
    )
    assert responses(dispatcher)[0] == "utter_check_login"


def test_no_product_and_no_plan_is_one_question_with_buttons(billing_db):
    dispatcher, events = run(
        ActionAnswerCheckChange(),
        make_tracker("tôi đổi gói được không?", "check_change", token_value=token("demo-yearly")),
    )
    assert responses(dispatcher) == ["utter_check_which_product"]
    assert len(dispatcher.messages[0]["buttons"]) == 3 and "requested_slot" not in slot_events(events)


def test_when_does_it_end_after_the_trial_answer(billing_db):
    tracker = make_tracker(
        "hết hạn hôm nào?",
        "ask_followup",
        token_value=token("demo-trial"),
        history=history("còn mấy ngày dùng thử?", "ask_trial", "action_answer_trial", "utter_trial_days_left"),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert "utter_trial_days_left" in responses(dispatcher)


def test_what_about_another_product_repeats_the_topic_for_it(billing_db):
    tracker = make_tracker(
        "thế còn Quy trình vận hành?",
        "ask_followup",
        token_value=token("demo-ow-trial-ended"),
        entities=[entity("product", "Quy trình vận hành")],
        history=history(
            "Không gian làm việc số có hạ xuống Free được không?",
            "ask_go_free",
            "action_answer_go_free",
            entities=[entity("product", "digital_workspace")],
        ),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    text = rendered(dispatcher)
    assert "Quy trình vận hành không có bản Free" in text


def test_what_do_i_do_now_after_a_blocked_answer_gives_the_fixes(billing_db):
    tracker = make_tracker(
        "giờ mình cần làm gì?",
        "ask_followup",
        token_value=token("demo-trial"),
        history=history("tôi có chuyển xuống Free được không", "ask_go_free", "action_answer_go_free"),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert "utter_decision_fixes" in responses(dispatcher)


def test_when_does_it_apply_after_the_upgrade_steps(billing_db):
    tracker = make_tracker(
        "bao giờ thì áp dụng?",
        "ask_followup",
        history=history("cách nâng cấp", "ask_upgrade_howto", "utter_upgrade_howto"),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert responses(dispatcher) == ["utter_followup_when_upgrade"]
    assert "ngay khi thanh toán thành công" in rendered(dispatcher)


def test_when_after_the_downgrade_steps_is_the_next_cycle_and_the_customers_date(billing_db):
    tracker = make_tracker(
        "when does it take effect?",
        "ask_followup",
        language="en",
        token_value=token("demo-downgrade-scheduled"),
        history=history("how do I downgrade", "ask_downgrade_howto", "utter_downgrade_howto"),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    names = responses(dispatcher)
    assert names[0] == "utter_followup_when_downgrade" and "utter_next_renewal_scheduled" in names


def test_a_follow_up_without_a_topic_asks_which_one(billing_db):
    dispatcher, _ = run(ActionAnswerFollowup(), make_tracker("thế còn cái kia?", "ask_followup"))
    assert responses(dispatcher) == ["utter_followup_no_topic"]


def test_another_topic_named_elliptically_keeps_the_earlier_product_and_plan(billing_db):
    tracker = make_tracker(
        "thế còn dữ liệu thì sao?",
        "ask_followup",
        token_value=token("demo-yearly"),
        history=history(
            "có hạ Xây dựng ứng dụng xuống Starter được không", "check_change", "action_answer_check_change"
        ),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    text = rendered(dispatcher)
    assert "Kết nối API" in text  # App Builder Standard -> Starter locks the API connections


def test_and_premium_after_a_check_is_decided_and_priced_for_premium(billing_db):
    tracker = make_tracker(
        "thế còn Premium?",
        "ask_followup",
        token_value=token("demo-monthly"),
        entities=[entity("tier", "premium")],
        history=history(
            "nâng Không gian làm việc số lên Standard được không", "check_change", "action_answer_check_change"
        ),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert "Premium" in rendered(dispatcher) and "utter_quote" in responses(dispatcher)


def test_how_much_would_that_be_after_a_cycle_question(billing_db):
    tracker = make_tracker(
        "how much would that be?",
        "ask_followup",
        token_value=token("demo-monthly"),
        language="en",
        history=history(
            "Can I move Digital Workspace to yearly billing?", "ask_billing_cycle", "action_answer_billing_cycle"
        ),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert "utter_quote" in responses(dispatcher)


def test_a_bare_value_out_of_a_form_is_not_guessed(billing_db):
    dispatcher, _ = run(ActionAnswerFollowup(), make_tracker("10", "inform"))
    assert responses(dispatcher) == ["utter_followup_no_topic"]
    tracker = make_tracker("10", "inform", history=history("cách nâng cấp", "ask_upgrade_howto", "utter_upgrade_howto"))
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert responses(dispatcher) == ["utter_default"]


def test_a_bare_product_after_a_topic_is_that_topic_for_the_product(billing_db):
    tracker = make_tracker(
        "App Builder",
        "inform",
        entities=[entity("product", "App Builder")],
        history=history("có bản free không", "ask_go_free", "action_answer_go_free"),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert "utter_go_free" in responses(dispatcher)


# --- issue 12, third round: unsure follow-ups, the target tier, the conversation's product ---------


def test_an_unsure_message_right_after_an_answer_is_its_follow_up(billing_db):
    tracker = make_tracker(
        "and for how long, roughly?",
        "nlu_fallback",
        token_value=token("demo-trial"),
        language="en",
        history=history("how many trial days remain?", "ask_trial", "action_answer_trial", "utter_trial_days_left"),
        confidence=0.4,
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert "utter_trial_days_left" in responses(dispatcher)
    assert "utter_default" not in responses(dispatcher)


def test_an_unsure_message_without_a_recent_answer_is_not_guessed(billing_db):
    old = history("còn mấy ngày dùng thử?", "ask_trial", "action_answer_trial", "utter_trial_days_left")
    for filler in ("chào bạn", "cảm ơn"):
        old += [
            {"event": "user", "text": filler, "parse_data": {"text": filler, "intent": {"name": "thank"}}},
            {"event": "action", "name": "utter_thank"},
        ]
    for events in ([], old):
        tracker = make_tracker("xyz abc", "nlu_fallback", history=events, confidence=0.3)
        dispatcher, _ = run(ActionAnswerFollowup(), tracker)
        assert [m.get("response") for m in dispatcher.messages] == ["utter_default"]


def test_extended_capacity_after_what_is_kept_is_its_retention_rule(billing_db):
    tracker = make_tracker(
        "còn phần dung lượng mua thêm?",
        "ask_extended_capacity",
        history=history("hạ gói rồi dữ liệu giữ được bao lâu", "ask_data_retention", "action_answer_data_retention"),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert "utter_extended_capacity" not in [m.get("response") for m in dispatcher.messages]
    assert "7" in rendered(dispatcher)


def test_a_follow_up_after_cancelling_a_downgrade_shows_the_schedule(billing_db):
    tracker = make_tracker(
        "vậy kỳ tới mình ở gói nào?",
        "ask_followup",
        token_value=token("demo-downgrade-scheduled"),
        history=history("bỏ lịch hạ gói", "cancel_downgrade", "action_cancel_downgrade"),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert any(name.startswith("utter_next_renewal") for name in responses(dispatcher))


def test_from_one_tier_to_another_is_decided_for_the_target(billing_db):
    dispatcher, _ = run(
        ActionAnswerCheckChange(),
        make_tracker(
            "có chuyển App Builder từ Standard xuống Starter được không",
            "check_change",
            token_value=token("demo-yearly"),
            entities=[entity("product", "App Builder"), entity("tier", "Standard"), entity("tier", "Starter")],
        ),
    )
    button = dispatcher.messages[-1]["buttons"][0]
    assert button["payload"] == '/request_downgrade{"product":"app_builder","tier":"starter"}'


def test_how_much_for_it_takes_the_product_the_conversation_just_named(billing_db):
    tracker = make_tracker(
        "what would Standard cost for it?",
        "check_change",
        token_value=token("demo-ow-trial-ended"),
        language="en",
        entities=[entity("tier", "Standard")],
        history=history(
            "is my Operations Workflow trial over?",
            "ask_trial",
            "action_answer_trial",
            entities=[entity("product", "Operations Workflow")],
        ),
    )
    dispatcher, _ = run(ActionAnswerCheckChange(), tracker)
    assert "utter_check_which_product" not in responses(dispatcher)
    assert "Operations Workflow" in rendered(dispatcher, "en")


def test_an_unsure_thanks_or_goodbye_after_an_answer_is_answered_politely(billing_db):
    tracker = make_tracker(
        "cheers, see ya",
        "nlu_fallback",
        language="en",
        history=history("how do I downgrade", "ask_downgrade_howto", "utter_downgrade_howto"),
        confidence=0.6,
    )
    tracker.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.6},
        {"name": "goodbye", "confidence": 0.45},
        {"name": "thank", "confidence": 0.4},
    ]
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_goodbye"]


def test_keeping_a_plan_after_the_schedule_is_decided_for_that_plan(billing_db):
    tracker = make_tracker(
        "giữ lại Premium được không",
        "ask_followup",
        token_value=token("demo-downgrade-scheduled"),
        entities=[entity("tier", "Premium")],
        history=history("gói kỳ tới của mình là gì", "ask_next_renewal", "action_answer_next_renewal"),
    )
    dispatcher, _ = run(ActionAnswerFollowup(), tracker)
    assert "utter_decision_summary" in responses(dispatcher)
