"""THE one place with the words people read: Vietnamese (default) and English.

``render(code, params, lang, catalog)`` turns any reason, note, fix, quote line, retention
item, error or VNPAY response code into a short sentence for the chat widget. Parameters are
plain values and are formatted by their NAME, so callers never pre-format anything:

* ``product``, ``base``, ``addon`` -> product name from the catalog; ``addons``/``products`` lists
* ``tier``, ``scheduled_tier`` -> tier name; ``tiers`` list
* ``cycle``, ``*_cycle`` -> "hàng tháng"/"hàng năm" (vi), "monthly"/"yearly" (en); ``cycles`` list
* ``kind`` -> capacity name (and ``unit`` is added from it); ``kinds`` list
* ``feature`` / ``features`` -> feature names
* ``*_date`` -> 26/11/2026 (vi) or 26 Nov 2026 (en); ``*_at`` -> the same with the time
* ``*_vnd`` -> 1.200.000 ₫ (vi) or 1,200,000 VND (en); other whole numbers get digit grouping
* ``trial_days`` and ``min_paid_seats`` come from the catalog when the caller gives none.

The caller passes the catalog (this module never loads it: the catalog validates its rules
against these texts, so loading it from here would make an import cycle). Without one, names
show as their keys.
"""
from __future__ import annotations

import enum
import logging
import string
from datetime import date, datetime
from typing import Any, Dict, Iterable, Mapping, Optional

from billing_core.domain.clock import VIETNAM
from billing_core.domain.model import Outcome

log = logging.getLogger(__name__)

EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MISSING = "…"

MESSAGES: Dict[str, Dict[str, str]] = {
    # ---------------------------------------------------------------- blocking reasons
    "NO_CHANGE": {
        "vi": "{product} đang dùng đúng gói {tier} này rồi, không có gì để thay đổi.",
        "en": "{product} is already on this {tier} plan: there is nothing to change.",
    },
    "PAYMENT_PENDING": {
        "vi": "Đơn hàng {order_ref} cho {product} đang chờ thanh toán (hết hạn lúc {expires_at}).",
        "en": "Order {order_ref} for {product} is waiting for payment (it expires at {expires_at}).",
    },
    "ALREADY_SCHEDULED": {
        "vi": "Việc chuyển {product} sang gói {tier} đã được lên lịch ngày {effective_date} (mục Gói gia hạn tiếp theo).",
        "en": "Moving {product} to {tier} is already scheduled for {effective_date} (under Next renewal plan).",
    },
    "NO_FREE_EDITION": {
        "vi": "{product} không có bản Free: sau {trial_days} ngày dùng thử, bạn chỉ có thể nâng cấp lên gói trả phí.",
        "en": "{product} has no Free edition: after the {trial_days}-day trial the only move is an upgrade to a paid plan.",
    },
    "TIER_NOT_OFFERED": {
        "vi": "{product} không có gói {tier}; các gói hiện có: {tiers}.",
        "en": "{product} has no {tier} plan; its plans are: {tiers}.",
    },
    "TRIAL_NOT_OVER": {
        "vi": "{product} chỉ hạ xuống bản Free được sau khi hết {trial_days} ngày dùng thử. "
        "Thời gian dùng thử của bạn kết thúc ngày {trial_end_date} (còn {days_left} ngày).",
        "en": "{product} can move to Free only after the {trial_days}-day trial. "
        "Your trial ends on {trial_end_date} ({days_left} days left).",
    },
    "ADDON_REQUIRES_PAID_BASE": {
        "vi": "{addons} chỉ dùng được khi {base} là gói trả phí (bản dùng thử và bản Free không có chu kỳ thanh toán).",
        "en": "{addons} can only run alongside a paid {base} plan (trial and Free have no billing cycle).",
    },
    "YEARLY_TO_MONTHLY_ON_UPGRADE": {
        "vi": "{product} đang thanh toán theo năm: khi nâng cấp gói, bạn không thể chuyển sang thanh toán theo tháng.",
        "en": "{product} is billed yearly: an upgrade cannot switch it to monthly billing.",
    },
    "ADDON_CYCLE_LONGER_THAN_BASE": {
        "vi": "Chu kỳ thanh toán của {addon} ({addon_cycle}) không được dài hơn chu kỳ của {base} ({base_cycle}).",
        "en": "The billing cycle of {addon} ({addon_cycle}) cannot be longer than that of {base} ({base_cycle}).",
    },
    "MIN_SEATS": {
        "vi": "Gói trả phí cần tối thiểu {minimum} người dùng (bạn chọn {seats}).",
        "en": "A paid plan needs at least {minimum} users (you chose {seats}).",
    },
    "CAPACITY_LIMIT_EXCEEDED": {
        "vi": "{kind} đi theo gói {product}: hạn mức mở rộng hiện tại là {limit} {unit}, "
        "yêu cầu này sẽ nâng tổng lên {total} {unit}.",
        "en": "{kind} follows your {product} plan: its extended limit is {limit} {unit}, "
        "and this would bring the total to {total} {unit}.",
    },
    "CAPACITY_NEEDS_UPGRADE": {
        "vi": "Dung lượng mở rộng được mua kèm khi nâng cấp hoặc mua riêng, không mua kèm khi hạ gói {product}.",
        "en": "Extended capacity is bought with an upgrade or on its own, not with a downgrade of {product}.",
    },
    "UNSUPPORTED_CHANGE": {
        "vi": "Trợ lý chưa thể tự xử lý thay đổi này cho {product} (gói {tier}).",
        "en": "This change to {product} ({tier}) cannot be made here.",
    },
    # ---------------------------------------------------------------- allowed decisions
    "UPGRADE_IMMEDIATE": {
        "vi": "Có thể chuyển {product} sang gói {tier} ({cycle}, {seats} người dùng). "
        "Gói giải pháp được áp dụng ngay khi thanh toán thành công.",
        "en": "{product} can move to {tier} ({cycle}, {seats} users). The plan applies as soon as the payment succeeds.",
    },
    "DOWNGRADE_NEXT_CYCLE": {
        "vi": "Có thể hạ {product} xuống gói {tier}; gói mới áp dụng từ kỳ thanh toán tiếp theo ({effective_date}).",
        "en": "{product} can move down to {tier}; the new plan applies from the next billing cycle ({effective_date}).",
    },
    "FREE_IMMEDIATE": {
        "vi": "Có thể chuyển {product} xuống bản Free ngay, không cần thanh toán.",
        "en": "{product} can move to Free right away; there is nothing to pay.",
    },
    # ---------------------------------------------------------------- notes
    "CANCELS_SCHEDULED_CHANGE": {
        "vi": "Lần nâng cấp này hủy lịch hạ {product} xuống gói {scheduled_tier} ngày {effective_date}.",
        "en": "This upgrade cancels the move of {product} to {scheduled_tier} scheduled for {effective_date}.",
    },
    "REPLACES_SCHEDULED_CHANGE": {
        "vi": "Thay đổi này thay thế lịch hạ {product} xuống gói {scheduled_tier} ({scheduled_seats} người dùng) "
        "ngày {effective_date}.",
        "en": "This replaces the scheduled move of {product} to {scheduled_tier} ({scheduled_seats} users) "
        "on {effective_date}.",
    },
    "SHOWN_AS_NEXT_RENEWAL_PLAN": {
        "vi": "Chi tiết nằm trong mục Gói gia hạn tiếp theo (Thiết lập hệ thống > Đăng ký & Thanh toán).",
        "en": "You will find it under Next renewal plan (System settings > Subscription & Billing).",
    },
    "PAID_PERIOD_USED_IN_FULL": {
        "vi": "Bạn dùng hết kỳ đã thanh toán của {product} đến ngày {period_end_date}; phần đã trả không được hoàn lại.",
        "en": "You keep the period of {product} already paid until {period_end_date}; nothing is refunded.",
    },
    "CAPACITY_WILL_BE_REMOVED": {
        "vi": "{kind}: {amount} {unit} vượt hạn mức sẽ tự động bị xóa chậm nhất ngày {due_date} (từ cũ đến mới). "
        "Bạn có thể mua thêm hoặc xóa bớt dung lượng mở rộng trước ngày đó.",
        "en": "{kind}: {amount} {unit} above the limit will be deleted automatically no later than {due_date} "
        "(oldest first). You can buy more or delete some extended capacity before then.",
    },
    "FEATURE_DATA_WILL_BE_DELETED": {
        "vi": "Dữ liệu của các tính năng bị khóa ({features}) sẽ bị xóa khỏi hệ thống chậm nhất ngày {due_date}.",
        "en": "Data of the features that get locked ({features}) will be deleted no later than {due_date}.",
    },
    # ---------------------------------------------------------------- fixes
    "FIX_CHOOSE_DIFFERENT_PLAN": {
        "vi": "Chọn gói, chu kỳ hoặc số người dùng khác cho {product}.",
        "en": "Choose a different plan, cycle or number of users for {product}.",
    },
    "FIX_FINISH_PENDING_PAYMENT": {
        "vi": "Hoàn tất thanh toán đơn {order_ref} bằng liên kết VNPAY đã tạo.",
        "en": "Finish paying order {order_ref} with the VNPAY link already created.",
    },
    "FIX_WAIT_FOR_ORDER_EXPIRY": {
        "vi": "Hoặc đợi đơn hết hạn lúc {expires_at} rồi gửi lại yêu cầu.",
        "en": "Or wait until it expires at {expires_at}, then ask again.",
    },
    "FIX_NOTHING_TO_DO": {
        "vi": "Bạn không cần làm gì thêm: thay đổi tự áp dụng ngày {effective_date}.",
        "en": "Nothing more to do: the change applies on {effective_date}.",
    },
    "FIX_CANCEL_SCHEDULED_CHANGE": {
        "vi": "Hủy thay đổi đang chờ của {product} (mục Gói gia hạn tiếp theo) trước.",
        "en": "Cancel the scheduled change of {product} (Next renewal plan) first.",
    },
    "FIX_UPGRADE_TO_PAID_TIER": {
        "vi": "Nâng cấp {product} lên gói trả phí: {tiers}.",
        "en": "Upgrade {product} to a paid plan: {tiers}.",
    },
    "FIX_CHOOSE_OFFERED_TIER": {
        "vi": "Chọn một trong các gói của {product}: {tiers}.",
        "en": "Choose one of the {product} plans: {tiers}.",
    },
    "FIX_WAIT_UNTIL_TRIAL_END": {
        "vi": "Đợi hết thời gian dùng thử (ngày {trial_end_date}) rồi hạ {product} xuống bản Free.",
        "en": "Wait until the trial ends ({trial_end_date}), then move {product} to Free.",
    },
    "FIX_BUY_PAID_PLAN": {
        "vi": "Hoặc mua gói trả phí cho {product} ngay bây giờ.",
        "en": "Or buy a paid {product} plan now.",
    },
    "FIX_BUY_PAID_BASE_FIRST": {
        "vi": "Mua gói trả phí của {base} trước, sau đó mua gói này.",
        "en": "Buy a paid {base} plan first, then this one.",
    },
    "FIX_END_ADDON_FIRST": {
        "vi": "Kết thúc {addon} vào cuối kỳ thanh toán ({period_end_date}) trước: hãy liên hệ bộ phận hỗ trợ.",
        "en": "End {addon} at the end of its period ({period_end_date}) first: contact support.",
    },
    "FIX_KEEP_YEARLY": {
        "vi": "Giữ chu kỳ Hàng năm khi nâng cấp {product}.",
        "en": "Keep yearly billing when you upgrade {product}.",
    },
    "FIX_SWITCH_BASE_CYCLE_FIRST": {
        "vi": "Đổi chu kỳ thanh toán của {base} sang {cycle} trước, sau đó đổi các gói còn lại.",
        "en": "Switch {base} to {cycle} billing first, then change the other plans.",
    },
    "FIX_MOVE_ADDON_CYCLE_FIRST": {
        "vi": "Chuyển {addon} sang chu kỳ {cycle} trước.",
        "en": "Move {addon} to {cycle} billing first.",
    },
    "FIX_WAIT_FOR_ADDON_CHANGE": {
        "vi": "Đợi {addon} chuyển sang chu kỳ {cycle} như đã lên lịch (ngày {effective_date}), rồi đổi lại.",
        "en": "Wait until {addon} moves to {cycle} billing as scheduled ({effective_date}), then try again.",
    },
    "FIX_SET_MIN_SEATS": {
        "vi": "Chọn ít nhất {minimum} người dùng.",
        "en": "Choose at least {minimum} users.",
    },
    "FIX_REDUCE_CAPACITY": {
        "vi": "Mua thêm {kind} tối đa {max_amount} {unit}.",
        "en": "Buy at most {max_amount} {unit} of {kind}.",
    },
    "FIX_CHOOSE_HIGHER_TIER": {
        "vi": "Nâng {product} lên gói cao hơn để có hạn mức {kind} lớn hơn.",
        "en": "Move {product} to a higher plan with a larger {kind} limit.",
    },
    "FIX_BUY_PRODUCT_FOR_CAPACITY": {
        "vi": "Mua gói {product} trước: {kind} đi kèm gói này.",
        "en": "Buy {product} first: {kind} comes with that plan.",
    },
    "FIX_BUY_CAPACITY_SEPARATELY": {
        "vi": "Hạ gói {product} không kèm dung lượng mở rộng; nếu cần thêm, hãy mua riêng với gói hiện tại.",
        "en": "Downgrade {product} without extended capacity; buy capacity on its own with your current plan if needed.",
    },
    "FIX_CONTACT_SUPPORT": {
        "vi": "Hãy liên hệ bộ phận hỗ trợ (Liên hệ trợ giúp) để được xử lý.",
        "en": "Please contact support (Contact help) to have it handled.",
    },
    # ---------------------------------------------------------------- summaries
    "SUMMARY_IMMEDIATE": {
        "vi": "Được: {product} chuyển sang gói {tier}, áp dụng ngay khi thanh toán thành công.",
        "en": "Yes: {product} moves to {tier} as soon as the payment succeeds.",
    },
    "SUMMARY_IMMEDIATE_FREE": {
        "vi": "Được: {product} chuyển sang gói {tier} ngay.",
        "en": "Yes: {product} moves to {tier} right away.",
    },
    "SUMMARY_NEXT_CYCLE": {
        "vi": "Được: {product} chuyển sang gói {tier} từ kỳ thanh toán tiếp theo ({effective_date}).",
        "en": "Yes: {product} moves to {tier} from the next billing cycle ({effective_date}).",
    },
    "SUMMARY_BLOCKED": {
        "vi": "Chưa thể chuyển {product} sang gói {tier} như yêu cầu.",
        "en": "{product} cannot move to {tier} as asked.",
    },
    # ---------------------------------------------------------------- quotes
    "QUOTE_PLAN": {
        "vi": "{product} {tier}, {seats} người dùng × {unit_price_vnd} ({cycle})",
        "en": "{product} {tier}, {seats} users × {unit_price_vnd} ({cycle})",
    },
    "QUOTE_PLAN_FREE": {
        "vi": "{product} {tier}: miễn phí",
        "en": "{product} {tier}: free of charge",
    },
    "QUOTE_PLAN_PRORATED": {
        "vi": "{product} {tier}, {seats} người dùng, {days}/{period_days} ngày còn lại của kỳ (cả kỳ {full_price_vnd})",
        "en": "{product} {tier}, {seats} users, {days} of {period_days} days left in the period "
        "(full period {full_price_vnd})",
    },
    "QUOTE_PRORATION_CREDIT": {
        "vi": "Trừ phần chưa dùng của gói {tier} hiện tại ({days}/{period_days} ngày)",
        "en": "Credit for the unused part of the current {tier} plan ({days} of {period_days} days)",
    },
    "QUOTE_ADDON": {
        "vi": "Dung lượng mở rộng – {kind}: {amount} {unit} ({packs} gói × {pack_price_vnd}, {cycle})",
        "en": "Extended capacity – {kind}: {amount} {unit} ({packs} packs × {pack_price_vnd}, {cycle})",
    },
    "QUOTE_ADDON_PRORATED": {
        "vi": "Dung lượng mở rộng – {kind}: {amount} {unit} ({packs} gói × {pack_price_vnd}, "
        "{days}/{period_days} ngày còn lại)",
        "en": "Extended capacity – {kind}: {amount} {unit} ({packs} packs × {pack_price_vnd}, "
        "{days} of {period_days} days left)",
    },
    "QUOTE_PACKS_ROUNDED_UP": {
        "vi": "{kind} được bán theo gói {pack_size} {unit}: {requested} {unit} được làm tròn lên {amount} {unit}.",
        "en": "{kind} comes in packs of {pack_size} {unit}: {requested} {unit} is rounded up to {amount} {unit}.",
    },
    "QUOTE_CREDIT_CAPPED": {
        "vi": "Phần được trừ lớn hơn số tiền phải trả {credit_vnd}: đơn này miễn phí, phần chênh lệch không được hoàn tiền.",
        "en": "The credit exceeds the charge by {credit_vnd}: this order is free and the difference is not paid out.",
    },
    "QUOTE_SAMPLE_PRICES": {
        "vi": "Giá minh họa (giá mẫu), không phải bảng giá chính thức của Cleeksy.",
        "en": "Sample prices for illustration, not Cleeksy's official price list.",
    },
    "QUOTE_YEARLY_SAVINGS": {
        "vi": "Chọn Hàng năm tiết kiệm {savings_vnd} mỗi năm cho {seats} người dùng.",
        "en": "Paying yearly saves {savings_vnd} a year for {seats} users.",
    },
    "QUOTE_CHARGED_AT_RENEWAL": {
        "vi": "Số tiền này được tính khi gia hạn, ngày {renewal_date}.",
        "en": "This amount is charged at the renewal on {renewal_date}.",
    },
    # ---------------------------------------------------------------- retention preview
    "RETENTION_CAPACITY": {
        "vi": "{kind}: {amount} {unit} vượt hạn mức bị xóa chậm nhất ngày {due_date}",
        "en": "{kind}: {amount} {unit} above the limit deleted no later than {due_date}",
    },
    "RETENTION_FEATURE_DATA": {
        "vi": "Dữ liệu của tính năng {feature}: bị xóa chậm nhất ngày {due_date}",
        "en": "Data of {feature}: deleted no later than {due_date}",
    },
    # ---------------------------------------------------------------- errors
    "BILLING_ERROR": {
        "vi": "Không thể thực hiện yêu cầu này.",
        "en": "The request could not be completed.",
    },
    "CATALOG_INVALID": {
        "vi": "Tệp danh mục gói {file} không hợp lệ tại {entry}: {problem}",
        "en": "The catalog {file} is invalid at {entry}: {problem}",
    },
    "INVALID_REQUEST": {
        "vi": "Yêu cầu không hợp lệ.",
        "en": "The request is not valid.",
    },
    "UNKNOWN_PRODUCT": {
        "vi": "Không có gói giải pháp “{product}”. Bạn có thể chọn: {products}.",
        "en": "There is no product “{product}”. Choose one of: {products}.",
    },
    "UNKNOWN_TIER": {
        "vi": "Không có gói “{tier}”. Bạn có thể chọn: {tiers}.",
        "en": "There is no plan “{tier}”. Choose one of: {tiers}.",
    },
    "UNKNOWN_CYCLE": {
        "vi": "Không có chu kỳ thanh toán “{cycle}”. Bạn có thể chọn: {cycles}.",
        "en": "There is no billing cycle “{cycle}”. Choose one of: {cycles}.",
    },
    "INVALID_SEATS": {
        "vi": "Số người dùng “{seats}” không hợp lệ: hãy nhập số nguyên từ 1 đến {maximum}.",
        "en": "“{seats}” is not a valid number of users: enter a whole number from 1 to {maximum}.",
    },
    "UNKNOWN_CAPACITY_KIND": {
        "vi": "Không có loại dung lượng mở rộng “{kind}”. Bạn có thể chọn: {kinds}.",
        "en": "There is no extended capacity “{kind}”. Choose one of: {kinds}.",
    },
    "INVALID_CAPACITY_AMOUNT": {
        "vi": "{kind}: số lượng “{amount}” không hợp lệ, hãy nhập số nguyên dương, tối đa {maximum} {unit}.",
        "en": "“{amount}” is not a valid amount of {kind}: enter a positive whole number, at most {maximum} {unit}.",
    },
    "INVALID_RENEWAL_MODE": {
        "vi": "Cách gia hạn “{renewal_mode}” không hợp lệ: hãy chọn Gia hạn thủ công hoặc Gia hạn tự động.",
        "en": "“{renewal_mode}” is not a renewal mode: choose manual or automatic renewal.",
    },
    "WORKSPACE_NOT_FOUND": {
        "vi": "Không tìm thấy không gian làm việc “{workspace_id}”.",
        "en": "There is no workspace “{workspace_id}”.",
    },
    "ORDER_NOT_FOUND": {
        "vi": "Không tìm thấy đơn hàng “{order_ref}”.",
        "en": "There is no order “{order_ref}”.",
    },
    "CHANGE_NOT_ALLOWED": {
        "vi": "Thay đổi này cho {product} không được phép; hãy kiểm tra điều kiện đổi gói trước.",
        "en": "This change to {product} is not allowed; check the change first.",
    },
    "SURVEY_ANSWER_REQUIRED": {
        "vi": "Để hạ gói, vui lòng trả lời khảo sát trước.",
        "en": "To downgrade, please answer the survey first.",
    },
    "CONFIRMATION_REQUIRED": {
        "vi": "Để hạ gói, hãy tích ô “Tôi xác nhận hạ gói và không thể truy cập các tính năng nâng cao "
        "sau khi kết thúc chu kỳ thanh toán”.",
        "en": "To downgrade, tick “I confirm the downgrade and that I cannot access advanced features "
        "after the billing cycle ends”.",
    },
    "NO_SCHEDULED_CHANGE": {
        "vi": "{product} không có thay đổi nào đang chờ ở kỳ gia hạn tiếp theo.",
        "en": "{product} has no scheduled change to cancel.",
    },
    "CONCURRENT_UPDATE": {
        "vi": "Gói của không gian làm việc vừa được thay đổi ở nơi khác; chưa có gì được lưu. Vui lòng thử lại.",
        "en": "The workspace's plans changed elsewhere a moment ago; nothing was saved. Please try again.",
    },
    "PAYMENT_CONFIG_MISSING": {
        "vi": "Thanh toán VNPAY chưa được cấu hình ({missing}). Vui lòng liên hệ bộ phận hỗ trợ.",
        "en": "VNPAY payments are not configured ({missing}). Please contact support.",
    },
    "ORDER_NOT_PENDING": {
        "vi": "Đơn hàng {order_ref} không còn chờ thanh toán ({status}) nên không hủy được.",
        "en": "Order {order_ref} is no longer awaiting payment ({status}), so it cannot be cancelled.",
    },
    "PENDING_ORDER_DIFFERS": {
        "vi": "Đơn {order_ref} đang chờ thanh toán là {product} {tier} ({cycle}, {seats} người dùng, {amount_vnd}), "
        "khác với gói bạn vừa hỏi. Bạn có thể hủy đơn đó rồi đặt gói {requested_tier} ({requested_cycle}, "
        "{requested_seats} người dùng), hoặc thanh toán đơn đó trước {expires_at}.",
        "en": "Order {order_ref}, awaiting payment, is for {product} {tier} ({cycle}, {seats} users, {amount_vnd}), "
        "not what you just asked for. You can cancel it and order {requested_tier} ({requested_cycle}, "
        "{requested_seats} users) instead, or pay it before {expires_at}.",
    },
    "REFUND_DUE": {
        "vi": "Đơn {order_ref} ({status}) được VNPAY báo đã thanh toán {amount_vnd} lúc {paid_at}: "
        "bộ phận hỗ trợ cần hoàn tiền (mã giao dịch VNPAY {transaction_no}).",
        "en": "Order {order_ref} ({status}) was paid at VNPAY ({amount_vnd}, {paid_at}): "
        "support must refund it (VNPAY transaction {transaction_no}).",
    },
    # ---------------------------------------------------------------- VNPAY vnp_ResponseCode
    "VNPAY_RC_00": {
        "vi": "Giao dịch thành công. Gói giải pháp được áp dụng ngay; bạn có thể xem và tải hóa đơn.",
        "en": "Payment successful. The plan applies at once; you can view and download the invoice.",
    },
    "VNPAY_RC_07": {
        "vi": "Tiền đã bị trừ nhưng giao dịch bị nghi ngờ (gian lận, bất thường). Đừng thanh toán lại: "
        "hãy liên hệ bộ phận hỗ trợ kèm mã đơn hàng.",
        "en": "The money was debited but the transaction is flagged as suspicious. Do not pay again: "
        "contact support with the order reference.",
    },
    "VNPAY_RC_09": {
        "vi": "Thẻ/tài khoản chưa đăng ký dịch vụ Internet Banking. Hãy đăng ký với ngân hàng hoặc chọn cách thanh toán khác.",
        "en": "The card/account is not registered for internet banking. Register it with your bank or pay another way.",
    },
    "VNPAY_RC_10": {
        "vi": "Xác thực thông tin thẻ/tài khoản sai quá 3 lần. Hãy thử lại sau hoặc dùng thẻ khác.",
        "en": "Card/account details were entered wrongly more than 3 times. Try again later or use another card.",
    },
    "VNPAY_RC_11": {
        "vi": "Đã hết thời gian chờ thanh toán. Hãy tạo lại đơn hàng để thanh toán.",
        "en": "The payment window expired. Create the order again to pay.",
    },
    "VNPAY_RC_12": {
        "vi": "Thẻ/tài khoản đang bị khóa. Hãy liên hệ ngân hàng hoặc dùng thẻ khác.",
        "en": "The card/account is locked. Contact your bank or use another card.",
    },
    "VNPAY_RC_13": {
        "vi": "Mật khẩu xác thực giao dịch (OTP) không đúng. Hãy thanh toán lại.",
        "en": "The one-time password (OTP) was wrong. Please pay again.",
    },
    "VNPAY_RC_24": {
        "vi": "Bạn đã hủy giao dịch, chưa có khoản nào bị trừ. Bạn có thể thanh toán lại khi sẵn sàng.",
        "en": "You cancelled the payment; nothing was charged. You can pay again when ready.",
    },
    "VNPAY_RC_51": {
        "vi": "Tài khoản không đủ số dư. Hãy nạp thêm tiền hoặc dùng tài khoản khác rồi thanh toán lại.",
        "en": "Insufficient balance. Top up or use another account, then pay again.",
    },
    "VNPAY_RC_65": {
        "vi": "Tài khoản đã vượt hạn mức giao dịch trong ngày. Hãy thử lại vào ngày mai hoặc dùng tài khoản khác.",
        "en": "The account's daily limit was exceeded. Try again tomorrow or use another account.",
    },
    "VNPAY_RC_75": {
        "vi": "Ngân hàng thanh toán đang bảo trì. Hãy thử lại sau ít phút hoặc chọn ngân hàng khác.",
        "en": "The bank is under maintenance. Try again in a few minutes or choose another bank.",
    },
    "VNPAY_RC_79": {
        "vi": "Nhập sai mật khẩu thanh toán quá số lần quy định. Hãy thanh toán lại sau.",
        "en": "The payment password was entered wrongly too many times. Please pay again later.",
    },
    "VNPAY_RC_99": {
        "vi": "Cổng thanh toán báo lỗi khác. Hãy thử lại; nếu vẫn lỗi, liên hệ bộ phận hỗ trợ.",
        "en": "The payment gateway reported another error. Try again; if it persists, contact support.",
    },
    "VNPAY_RC_UNKNOWN": {
        "vi": "Cổng thanh toán trả về mã {response_code}. Hãy thử lại hoặc liên hệ bộ phận hỗ trợ.",
        "en": "The payment gateway answered with code {response_code}. Try again or contact support.",
    },
}

VNPAY_RESPONSE_CODES = ("00", "07", "09", "10", "11", "12", "13", "24", "51", "65", "75", "79", "99")

# Short labels (not sentences) for summaries and tables.
LABELS: Dict[str, Dict[str, Dict[str, str]]] = {
    "cycle": {
        "monthly": {"vi": "hàng tháng", "en": "monthly"},
        "yearly": {"vi": "hàng năm", "en": "yearly"},
        "none": {"vi": "không có chu kỳ", "en": "no billing cycle"},
    },
    "status": {
        "trial": {"vi": "Dùng thử", "en": "Trial"},
        "active": {"vi": "Đang hoạt động", "en": "Active"},
        "expired": {"vi": "Hết hạn", "en": "Expired"},
        "free": {"vi": "Bản Free", "en": "Free edition"},
    },
    "renewal_mode": {
        "manual": {"vi": "Gia hạn thủ công", "en": "Manual renewal"},
        "auto": {"vi": "Gia hạn tự động", "en": "Auto renewal"},
    },
    "order_status": {
        "pending": {"vi": "chờ thanh toán", "en": "awaiting payment"},
        "paid": {"vi": "đã thanh toán", "en": "paid"},
        "failed": {"vi": "thanh toán không thành công", "en": "payment failed"},
        "expired": {"vi": "đã hết hạn", "en": "expired"},
        "cancelled": {"vi": "đã hủy", "en": "cancelled"},
    },
}


# --------------------------------------------------------------------------------------------
def normalize_lang(lang: Optional[str]) -> str:
    """``en`` (or en-US, EN) -> "en"; anything else, unknown or missing -> "vi"."""
    return "en" if isinstance(lang, str) and lang.lower().startswith("en") else "vi"


def has_message(code: str) -> bool:
    entry = MESSAGES.get(code)
    return bool(entry and entry.get("vi", "").strip() and entry.get("en", "").strip())


def placeholders(code: str, lang: str) -> set:
    """The parameter names the template of ``code`` needs."""
    return {name for _, name, _, _ in string.Formatter().parse(MESSAGES[code][lang]) if name}


def label(group: str, key, lang: str = "vi") -> str:
    if isinstance(key, enum.Enum):  # Cycle, Status, RenewalMode
        key = key.value
    entry = LABELS.get(group, {}).get(key)
    return entry[normalize_lang(lang)] if entry else str(key)


def format_vnd(amount: int, lang: str = "vi") -> str:
    if normalize_lang(lang) == "en":
        return f"{amount:,} VND"
    return f"{amount:,}".replace(",", ".") + " ₫"


def format_number(value: int, lang: str = "vi") -> str:
    text = f"{value:,}"
    return text if normalize_lang(lang) == "en" else text.replace(",", ".")


def _as_datetime(value) -> Optional[datetime]:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def format_date(value, lang: str = "vi") -> str:
    moment = _as_datetime(value)
    if moment is None:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(VIETNAM)
    if normalize_lang(lang) == "en":
        return f"{moment.day} {EN_MONTHS[moment.month - 1]} {moment.year}"
    return moment.strftime("%d/%m/%Y")


def format_datetime(value, lang: str = "vi") -> str:
    moment = _as_datetime(value)
    if moment is None:
        return str(value)
    if isinstance(value, str) and "T" not in value and " " not in value:
        return format_date(moment, lang)
    if moment.tzinfo is not None:
        moment = moment.astimezone(VIETNAM)
    if normalize_lang(lang) == "en":
        return f"{format_date(moment, 'en')}, {moment:%H:%M}"
    return f"{moment:%H:%M} {format_date(moment, 'vi')}"


CONJUNCTION = {"vi": "và", "en": "and"}


def _join(items: Iterable[str], lang: str) -> str:
    """"A", "A và B", "A, B và C" (vi); "A and B", "A, B and C" (en)."""
    values = list(items)
    if len(values) < 2:
        return "".join(values)
    return f"{', '.join(values[:-1])} {CONJUNCTION[normalize_lang(lang)]} {values[-1]}"


def _format_param(name: str, value: Any, lang: str, catalog) -> str:
    if value is None:
        return MISSING
    if name in ("product", "base", "addon"):
        return catalog.product_name(value, lang) if catalog else str(value)
    if name in ("addons", "products"):
        return _join((catalog.product_name(v, lang) if catalog else str(v) for v in value), lang)
    if name in ("tier", "scheduled_tier"):
        return catalog.tier_name(value, lang) if catalog else str(value)
    if name == "tiers":
        return _join((catalog.tier_name(v, lang) if catalog else str(v) for v in value), lang)
    if name == "cycle" or name.endswith("_cycle"):
        return label("cycle", value, lang)
    if name == "cycles":
        return _join((label("cycle", v, lang) for v in value), lang)
    if name == "kind":
        kind = catalog.capacity.get(value) if catalog else None
        return kind.name.get(lang) if kind else str(value)
    if name == "kinds":
        return _join((catalog.capacity[v].name.get(lang) if catalog and v in catalog.capacity else str(v)
                      for v in value), lang)
    if name in ("feature", "features"):
        values = [value] if name == "feature" else list(value)
        return _join((catalog.features[v].name.get(lang) if catalog and v in catalog.features else str(v)
                      for v in values), lang)
    if name == "renewal_mode":
        return label("renewal_mode", value, lang)
    if name == "status":  # an order's status (the only {status} of the texts)
        return label("order_status", value, lang)
    if name.endswith("_date"):
        return format_date(value, lang)
    if name.endswith("_at"):
        return format_datetime(value, lang)
    if name.endswith("_vnd") and isinstance(value, int):
        return format_vnd(value, lang)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return format_number(value, lang)
    if isinstance(value, (list, tuple)):
        return _join((str(v) for v in value), lang)
    return str(value)


class _Params(dict):
    """Formats each value on demand; a missing one shows as "…" (logged) rather than crashing."""

    def __init__(self, raw: Mapping[str, Any], lang: str, catalog, code: str):
        super().__init__()
        self.raw, self.lang, self.catalog, self.code = raw, lang, catalog, code

    def __missing__(self, name: str) -> str:
        if name in self.raw:
            return _format_param(name, self.raw[name], self.lang, self.catalog)
        if name == "unit" and "kind" in self.raw and self.catalog and self.raw["kind"] in self.catalog.capacity:
            return self.catalog.capacity[self.raw["kind"]].unit.get(self.lang)
        if name == "trial_days" and self.catalog:
            return str(self.catalog.trial_days)
        if name == "min_paid_seats" and self.catalog:
            return str(self.catalog.min_paid_seats)
        log.warning("message %s: no value for {%s}", self.code, name)
        return MISSING


def render(code: str, params: Optional[Mapping[str, Any]] = None, lang: Optional[str] = "vi", catalog=None) -> str:
    """The text of ``code`` in ``lang`` (unknown language -> Vietnamese)."""
    lang = normalize_lang(lang)
    entry = MESSAGES.get(code)
    if entry is None:
        log.warning("message code %s has no text", code)
        return code
    return entry[lang].format_map(_Params(params or {}, lang, catalog, code))


def vnpay_response_text(response_code: str, lang: str = "vi") -> str:
    """Meaning of a VNPAY ``vnp_ResponseCode`` and what to do next."""
    code = f"VNPAY_RC_{response_code}"
    if code in MESSAGES:
        return render(code, {}, lang)
    return render("VNPAY_RC_UNKNOWN", {"response_code": str(response_code)}, lang)


def render_decision(decision, lang: str = "vi", catalog=None) -> Dict[str, Any]:
    """A decision as the adapters show it: {summary, reasons: [{code, message}], fixes: [str]}."""
    lang = normalize_lang(lang)
    target = decision.target
    summary_params = {"product": target.product, "tier": target.tier}
    if decision.outcome is Outcome.BLOCKED:
        summary_code = "SUMMARY_BLOCKED"
    elif decision.outcome is Outcome.NEXT_CYCLE:
        summary_code = "SUMMARY_NEXT_CYCLE"
        summary_params["effective_date"] = decision.effective_at.date().isoformat() if decision.effective_at else None
    else:
        summary_code = "SUMMARY_IMMEDIATE" if target.paid else "SUMMARY_IMMEDIATE_FREE"
    return {
        "summary": render(summary_code, summary_params, lang, catalog),
        "reasons": [
            {"code": reason.code, "message": render(reason.code, reason.params, lang, catalog)}
            for reason in decision.reasons
        ],
        "fixes": [render(fix.code, fix.params, lang, catalog) for fix in decision.fixes],
    }


def render_both(code: str, params: Optional[Mapping[str, Any]] = None, catalog=None) -> Dict[str, str]:
    """{"message_vi": ..., "message_en": ...} (the CLI's --json shape)."""
    return {"message_vi": render(code, params, "vi", catalog), "message_en": render(code, params, "en", catalog)}


def render_error(error, lang: str = "vi", catalog=None) -> str:
    """The text of a ``BillingError`` (its ``code`` and ``params``) in ``lang``."""
    return render(error.code, error.params, lang, catalog)
