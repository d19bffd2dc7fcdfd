"""checkout_form from the chat: collect, check (blocked -> fix, no link), quote, renewal,
confirmation, VNPAY link; nothing is written before the "yes", and never for anonymous users."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from actions.checkout import ActionCheckoutSubmit, ValidateCheckoutForm
from tests.actions.conftest import history, make_tracker, rendered, responses, run, slot_events, token

FORM = "checkout_form"


@pytest.fixture(autouse=True)
def _vnpay(monkeypatch):
    monkeypatch.setenv("VNPAY_PAYMENT_URL", "http://localhost:8000/sandbox/vnpay/paymentv2/vpcpay.html")
    monkeypatch.setenv("VNPAY_RETURN_URL", "http://localhost:8000/vnpay/return")


def step(text, intent="inform", requested=None, slots=None, new_slots=None, token_value=None, language="vi"):
    all_slots = dict(slots or {})
    all_slots["requested_slot"] = requested
    tracker = make_tracker(
        text,
        intent,
        token_value=token_value,
        slots=all_slots,
        active_loop=FORM,
        new_slot_events=new_slots,
        language=language,
    )
    return run(ValidateCheckoutForm(), tracker)


def orders(url, workspace_id):
    from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
    from billing_core.service_layer import payments

    return payments.latest_orders(SqlAlchemyUnitOfWork(url), workspace_id, limit=50)


def test_anonymous_user_is_told_to_log_in_and_nothing_is_asked(billing_db):
    dispatcher, events = step(
        "Upgrade App Builder to Standard yearly for 10 users", intent="buy_upgrade", language="en"
    )
    assert responses(dispatcher) == ["utter_checkout_login"]
    assert slot_events(events)["requested_slot"] is None
    assert "log in" in rendered(dispatcher, "en")


def test_agents_cannot_pay_for_a_customer(billing_db):
    dispatcher, events = step(
        "nâng cấp workspace demo-monthly lên Standard", intent="buy_upgrade", token_value=token("*", role="agent")
    )
    assert "utter_checkout_agent" in responses(dispatcher)
    assert slot_events(events)["requested_slot"] is None


def test_blocked_change_is_explained_with_its_fix_and_no_link(billing_db):
    # demo-monthly pays Digital Workspace monthly: App Builder cannot be yearly before it.
    dispatcher, events = step(
        "Upgrade App Builder to Standard yearly for 10 users with 50 GB more storage",
        intent="buy_upgrade",
        token_value=token("demo-monthly"),
        language="en",
    )
    slots = slot_events(events)
    assert slots["checkout_status"] == "blocked" and slots["requested_slot"] is None
    assert "utter_decision_fixes" in responses(dispatcher)
    assert "utter_checkout_link" not in responses(dispatcher)
    assert "Digital Workspace" in rendered(dispatcher, "en")
    assert orders(billing_db, "demo-monthly") == []


def test_free_is_not_something_to_buy(billing_db):
    dispatcher, events = step(
        "gói Free", requested="tier", token_value=token("demo-monthly"), slots={"product": "digital_workspace"}
    )
    assert responses(dispatcher) == ["utter_invalid_paid_tier"]
    assert slot_events(events)["requested_slot"] == "tier"


def full_quote(billing_db, workspace="demo-monthly"):
    dispatcher, events = step(
        "nâng cấp Không gian làm việc số lên Standard theo tháng cho 5 người",
        intent="buy_upgrade",
        token_value=token(workspace),
    )
    return dispatcher, slot_events(events)


def test_itemised_quote_then_renewal_question(billing_db):
    dispatcher, slots = full_quote(billing_db)
    assert responses(dispatcher)[0] == "utter_quote"
    text = rendered(dispatcher)
    assert "₫" in text and "Tổng cộng" in text
    assert slots["checkout_status"] == "quoted" and slots["requested_slot"] == "renewal_mode"
    assert orders(billing_db, "demo-monthly") == []  # a quote writes nothing


def test_extended_capacity_named_in_the_request_is_quoted(billing_db):
    dispatcher, events = step(
        "nâng cấp Không gian làm việc số lên Standard theo tháng cho 5 người thêm 50GB",
        intent="buy_upgrade",
        token_value=token("demo-monthly"),
    )
    assert slot_events(events)["addons"] == {"storage": 50}
    assert "Dung lượng lưu trữ dữ liệu" in rendered(dispatcher)


def confirmed_state(slots, renewal="auto"):
    state = {
        k: slots.get(k)
        for k in ("product", "tier", "cycle", "seats", "addons", "checkout_status", "checkout_quote_key")
    }
    state.update(renewal_mode=renewal, checkout_confirmed=True)
    return state


def test_renewal_answer_then_confirmation_question(billing_db):
    _, slots = full_quote(billing_db)
    state = {k: v for k, v in slots.items() if k != "requested_slot"}
    dispatcher, events = step(
        "gia hạn tự động", requested="renewal_mode", token_value=token("demo-monthly"), slots=state
    )
    assert slot_events(events)["renewal_mode"] == "auto"
    assert slot_events(events)["requested_slot"] == "checkout_confirmed"
    assert dispatcher.messages == []  # the same quote is not repeated


def test_changing_an_answer_after_the_quote_requotes_and_asks_again(billing_db):
    _, slots = full_quote(billing_db)
    state = confirmed_state(slots)
    dispatcher, events = step(
        "à cho 8 người", requested="checkout_confirmed", token_value=token("demo-monthly"), slots=state
    )
    new = slot_events(events)
    assert new["seats"] == 8 and new["checkout_confirmed"] is None
    assert responses(dispatcher)[0] == "utter_quote"
    assert new["requested_slot"] == "checkout_confirmed"


def test_yes_returns_a_vnpay_link_and_asking_again_reuses_it(billing_db):
    _, slots = full_quote(billing_db)
    customer = token("demo-monthly")
    dispatcher, events = run(
        ActionCheckoutSubmit(), make_tracker("/affirm", "affirm", token_value=customer, slots=confirmed_state(slots))
    )
    assert responses(dispatcher) == ["utter_checkout_link"]
    button = dispatcher.messages[0]["buttons"][0]
    query = parse_qs(urlparse(button["url"]).query)
    assert query["vnp_Command"] == ["pay"] and "vnp_SecureHash" in query
    placed = orders(billing_db, "demo-monthly")
    assert len(placed) == 1 and placed[0].status.value == "pending"
    assert placed[0].renewal_mode.value == "auto"
    assert int(query["vnp_Amount"][0]) == placed[0].amount_vnd * 100
    assert slot_events(events)["product"] is None  # the form's answers are forgotten

    dispatcher, _ = run(
        ActionCheckoutSubmit(), make_tracker("/affirm", "affirm", token_value=customer, slots=confirmed_state(slots))
    )
    assert responses(dispatcher) == ["utter_checkout_reused", "utter_checkout_link"]
    assert dispatcher.messages[1]["buttons"][0]["url"] == button["url"]
    assert len(orders(billing_db, "demo-monthly")) == 1


def test_no_at_the_confirmation_writes_nothing(billing_db):
    _, slots = full_quote(billing_db)
    state = dict(confirmed_state(slots), checkout_confirmed=False)
    dispatcher, _ = run(
        ActionCheckoutSubmit(), make_tracker("/deny", "deny", token_value=token("demo-monthly"), slots=state)
    )
    assert responses(dispatcher) == ["utter_checkout_cancelled"]
    assert orders(billing_db, "demo-monthly") == []


def test_an_expired_token_at_the_confirmation_gets_no_link(billing_db):
    _, slots = full_quote(billing_db)
    dispatcher, _ = run(
        ActionCheckoutSubmit(),
        make_tracker("/affirm", "affirm", token_value=token("demo-monthly", minutes=-1), slots=confirmed_state(slots)),
    )
    assert responses(dispatcher) == ["utter_checkout_login"]
    assert orders(billing_db, "demo-monthly") == []


def test_open_order_for_the_same_product_is_handed_back(billing_db):
    # demo-pending-payment has an open order for Digital Workspace Standard, 4 users, monthly.
    dispatcher, events = step(
        "nâng cấp Không gian làm việc số lên Standard theo tháng cho 4 người",
        intent="buy_upgrade",
        token_value=token("demo-pending-payment"),
    )
    names = responses(dispatcher)
    assert "utter_checkout_link" in names, rendered(dispatcher)
    assert slot_events(events)["requested_slot"] is None
    assert len(orders(billing_db, "demo-pending-payment")) == 1


def test_unreachable_database_stops_the_checkout_politely(monkeypatch):
    monkeypatch.setenv("BILLING_DATABASE_URL", "postgresql://nobody:nothing@127.0.0.1:9/none")
    dispatcher, events = step(
        "nâng cấp Không gian làm việc số lên Standard theo tháng cho 5 người",
        intent="buy_upgrade",
        token_value=token("demo-monthly"),
    )
    assert responses(dispatcher) == ["utter_personal_unavailable"]
    assert slot_events(events)["checkout_status"] == "error"
    assert slot_events(events)["requested_slot"] is None


def test_english_quote(billing_db):
    dispatcher, _ = step(
        "upgrade Digital Workspace to Standard monthly for 5 users",
        intent="buy_upgrade",
        token_value=token("demo-monthly"),
        language="en",
    )
    text = rendered(dispatcher, "en")
    assert "Your quote" in text and "Total" in text and "VND" in text


def test_E_a_change_whose_credit_exceeds_its_price_waits_for_the_renewal(billing_db):
    """Issue 10 item E. It used to be applied at once for 0 ₫, forfeiting the rest of the credit;
    now the assistant says it applies from the next renewal so nothing paid is lost, and makes no order."""
    from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
    from billing_core.service_layer import services

    customer = token("demo-ow-trial-ended")
    dispatcher, events = step(
        "nâng cấp Không gian làm việc số lên Premium theo tháng cho 3 người", intent="buy_upgrade", token_value=customer
    )
    text = rendered(dispatcher)
    assert "kỳ gia hạn tiếp theo" in text and "không mất" in text, text
    assert orders(billing_db, "demo-ow-trial-ended") == []
    summary = services.workspace_summary(SqlAlchemyUnitOfWork(billing_db), "demo-ow-trial-ended")
    assert summary["subscriptions"][0]["tier"] == "standard"


# --- issue 12: blocked before the questions, purchases without a tier change, pending order first --
def test_a_blocked_change_is_said_before_asking_how_many_users(billing_db):
    dispatcher, events = step(
        "Nâng cấp Xây dựng ứng dụng lên Standard theo năm", intent="buy_upgrade", token_value=token("demo-monthly")
    )
    slots = slot_events(events)
    assert slots["checkout_status"] == "blocked" and slots["requested_slot"] is None
    assert "utter_decision_reasons" in responses(dispatcher)


def test_an_order_waiting_for_payment_is_explained_before_anything_else(billing_db):
    dispatcher, _ = step(
        "mua Quy trình vận hành Starter", intent="buy_upgrade", token_value=token("demo-pending-payment")
    )
    assert responses(dispatcher)[0] == "utter_checkout_pending_first"
    assert "DEMO" in rendered(dispatcher)


def test_more_users_on_the_current_plan_is_a_purchase_of_its_own(billing_db):
    dispatcher, events = step(
        "mua thêm 3 người dùng cho Không gian làm việc số, giữ nguyên gói",
        intent="buy_upgrade",
        token_value=token("demo-monthly"),
    )
    slots = slot_events(events)
    assert slots["tier"] == "starter" and slots["seats"] == 8  # 5 users now, 3 more
    assert "utter_extended_capacity" not in responses(dispatcher)


def test_keep_my_plan_answers_the_plan_question(billing_db):
    _, events = step(
        "keep my plan",
        requested="tier",
        token_value=token("demo-monthly"),
        language="en",
        slots={"product": "digital_workspace"},
    )
    assert slot_events(events)["tier"] == "starter"


def test_extended_capacity_alone_names_its_product_and_keeps_the_plan(billing_db):
    _, events = step("mua thêm 50 GB lưu trữ", intent="buy_upgrade", token_value=token("demo-monthly"))
    slots = slot_events(events)
    assert slots["product"] == "digital_workspace" and slots["tier"] == "starter"
    assert slots["addons"] == {"storage": 50}


def test_the_quote_offers_extended_capacity_and_the_confirmation_repeats_the_total(billing_db):
    from actions.forms import AskCheckoutConfirmed

    dispatcher, events = step(
        "Nâng cấp Không gian làm việc số lên Standard hàng tháng cho 5 người",
        intent="buy_upgrade",
        token_value=token("demo-monthly"),
    )
    assert "utter_checkout_offer_capacity" in responses(dispatcher)
    total = slot_events(events)["checkout_total"]
    assert total and total in rendered(dispatcher)
    asked, _ = run(AskCheckoutConfirmed(), make_tracker("", slots={"checkout_total": total}))
    assert total in rendered(asked)


# --- issue 10 N: a pending order that differs from the request can be cancelled from the chat ---
def _buttons(dispatcher):
    return [b for m in dispatcher.messages for b in m.get("buttons") or []]


def test_N_a_request_that_differs_from_the_pending_order_offers_to_cancel_it(billing_db):
    """demo-pending-payment waits to pay Standard monthly; asking for Standard yearly used to answer
    with that order's link and "applied as soon as paid", and paying it gave monthly."""
    dispatcher, events = step(
        "nâng cấp Không gian làm việc số lên Standard theo năm cho 4 người",
        intent="buy_upgrade",
        token_value=token("demo-pending-payment"),
    )
    assert "utter_pending_order_offer" in responses(dispatcher), responses(dispatcher)
    text = rendered(dispatcher)
    assert "khác với gói bạn vừa hỏi" in text and "năm" in text.split("khác với gói bạn vừa hỏi")[1], text
    assert any(b["payload"].startswith("/cancel_pending_order") for b in _buttons(dispatcher))
    assert slot_events(events)["checkout_status"] == "blocked"
    assert [o.status.value for o in orders(billing_db, "demo-pending-payment")] == ["pending"]  # nothing written


def test_N_cancelling_the_pending_order_then_ordering_what_was_asked(billing_db):
    from actions.checkout import ActionCancelPendingOrder

    customer = token("demo-pending-payment")
    slots = {"product": "digital_workspace", "tier": "standard", "cycle": "yearly", "seats": 4}
    tracker = make_tracker(
        "/cancel_pending_order",
        "cancel_pending_order",
        token_value=customer,
        slots=slots,
        entities=[{"entity": "product", "value": "digital_workspace"}],
    )
    dispatcher, _ = run(ActionCancelPendingOrder(), tracker)
    assert responses(dispatcher) == ["utter_pending_order_cancelled"]
    assert [o.status.value for o in orders(billing_db, "demo-pending-payment")] == ["cancelled"]
    again = [b for b in _buttons(dispatcher) if b["payload"].startswith("/buy_upgrade")]
    assert again and '"cycle": "yearly"' in again[0]["payload"] and '"tier": "standard"' in again[0]["payload"]
    # the customer follows the button: the yearly plan is quoted now, not the old monthly link
    dispatcher, events = step("/buy_upgrade", intent="buy_upgrade", token_value=customer, new_slots=slots)
    assert "utter_pending_order_offer" not in responses(dispatcher)
    assert slot_events(events).get("checkout_status") == "quoted", responses(dispatcher)


def test_N_nothing_to_cancel_and_nobody_else_can_cancel(billing_db):
    from actions.checkout import ActionCancelPendingOrder

    dispatcher, _ = run(
        ActionCancelPendingOrder(),
        make_tracker("hủy đơn chờ thanh toán", "cancel_pending_order", token_value=token("demo-monthly")),
    )
    assert responses(dispatcher) == ["utter_no_pending_order"]
    dispatcher, _ = run(
        ActionCancelPendingOrder(), make_tracker("cancel my pending order", "cancel_pending_order", language="en")
    )
    assert responses(dispatcher) == ["utter_checkout_login"]
    dispatcher, _ = run(
        ActionCancelPendingOrder(),
        make_tracker("hủy đơn", "cancel_pending_order", token_value=token("*", role="agent")),
    )
    assert responses(dispatcher) == ["utter_checkout_agent"]
    assert [o.status.value for o in orders(billing_db, "demo-pending-payment")] == ["pending"]


def test_a_typed_confirm_counts_as_the_button_and_a_negated_one_does_not(billing_db):
    _, slots = full_quote(billing_db)
    state = {k: v for k, v in slots.items() if k != "requested_slot"}
    state["renewal_mode"] = "auto"
    for text, intent, expected in (("confirm it", "ask_followup", True), ("xác nhận", "inform", True)):
        _, events = step(text, intent, requested="checkout_confirmed", token_value=token("demo-monthly"), slots=state)
        assert slot_events(events)["checkout_confirmed"] is expected
    dispatcher, events = step(
        "chưa xác nhận đâu", "inform", requested="checkout_confirmed", token_value=token("demo-monthly"), slots=state
    )
    assert slot_events(events).get("checkout_confirmed") is not True


def test_a_cycle_alone_is_the_same_plan_on_that_cycle(billing_db):
    # demo-ow-trial-ended: Digital Workspace on a paid plan, monthly
    _, events = step(
        "chuyển Không gian làm việc số qua trả hàng năm giúp mình",
        intent="buy_upgrade",
        token_value=token("demo-ow-trial-ended"),
    )
    slots = slot_events(events)
    current = plan_of(billing_db, "demo-ow-trial-ended", "digital_workspace")
    assert slots["product"] == "digital_workspace" and slots["cycle"] == "yearly"
    assert slots["tier"] == current["tier"]
    assert slots["seats"] == "keep" and slots["requested_slot"] == "renewal_mode"  # the users stay


def test_buying_right_after_a_decision_takes_what_it_was_about(billing_db):
    earlier = history("App Builder lên Standard được không?", "check_change", "action_answer_check_change")
    tracker = make_tracker(
        "được, đặt mua cho mình", "buy_upgrade", token_value=token("demo-monthly"), active_loop=FORM, history=earlier
    )
    tracker.slots["requested_slot"] = None
    _, events = run(ValidateCheckoutForm(), tracker)
    slots = slot_events(events)
    assert slots["product"] == "app_builder" and slots["tier"] == "standard"


def plan_of(url, workspace_id, product):
    import billing_core as bc

    summary = bc.workspace_summary(bc.SqlAlchemyUnitOfWork(url), workspace_id)
    return next(s for s in summary["subscriptions"] if s["product"] == product)
