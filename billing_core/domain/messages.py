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
* ``{count|one|many}`` (English templates) -> "1 user" / "3 users": the number and its noun;
* ``{trial_end_text}`` -> "ngày 20/12/2026 (còn 3 ngày)", or on the last day "hôm nay, lúc 16:00"
  (from ``trial_end_date``, ``trial_end_at`` and ``days_left``);
* lists end with "và" / "and": "A, B và C"; ``{tiers_or}`` (a list to choose from): "A, B hoặc C".

The caller passes the catalog (this module never loads it: the catalog validates its rules
against these texts, so loading it from here would make an import cycle). Without one, names
show as their keys.
"""

from __future__ import annotations

import enum
import logging
import string
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Set

from billing_core.domain.clock import VIETNAM, as_utc, business_day
from billing_core.domain.model import Outcome

if TYPE_CHECKING:  # the catalog module imports this one (has_message)
    from billing_core.domain.catalog import Catalog
    from billing_core.domain.errors import BillingError
    from billing_core.domain.rules import Decision

log = logging.getLogger(__name__)

EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MISSING = "…"

MESSAGES: Dict[str, Dict[str, str]] = {
    # ---------------------------------------------------------------- blocking reasons
    "NO_CHANGE": {
        "vi": "Không có gì để thay đổi: gói, chu kỳ và số người dùng đều như hiện tại.",
        "en": "There is nothing to change: the plan, cycle and number of users are what you have now.",
    },
    "PAYMENT_PENDING": {
        "vi": "Đơn hàng {order_ref} cho {product} đang chờ thanh toán (hết hạn lúc {expires_at}).",
        "en": "Order {order_ref} for {product} is waiting for payment (it expires at {expires_at}).",
    },
    "ALREADY_SCHEDULED": {
        "vi": "Bạn không cần đặt lại. Muốn giữ gói hiện tại thay vì chuyển sang gói {tier}, hãy hủy lịch này (nhắn “hủy lịch hạ gói”).",
        "en": "There is no need to ask again. To keep your current plan instead of {tier}, cancel it (say “cancel the scheduled downgrade”).",
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
        "Thời gian dùng thử của bạn kết thúc {trial_end_text}.",
        "en": "{product} can move to Free only after the {trial_days}-day trial. Your trial ends {trial_end_text}.",
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
        "en": "A paid plan needs at least {minimum|user|users} (you chose {seats}).",
    },
    "CAPACITY_LIMIT_EXCEEDED": {
        "vi": "Hạn mức {kind} đi theo gói {product}: tối đa {limit} {unit} mở rộng, "
        "yêu cầu này sẽ nâng tổng lên {total} {unit}.",
        "en": "The limit for {kind} is set by your {product} plan: at most {limit} {unit} of extended capacity, "
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
    "KEEP_PLAN_WHILE_SCHEDULED": {
        "vi": "Tuy vậy, đã có lịch chuyển {product} sang gói {scheduled_tier} ({scheduled_cycle}, {scheduled_seats} người dùng) "
        "từ ngày {effective_date}.",
        "en": "But a move of {product} to {scheduled_tier} ({scheduled_cycle}, {scheduled_seats|user|users}) is scheduled "
        "for {effective_date}.",
    },
    # ---------------------------------------------------------------- allowed decisions
    "UPGRADE_IMMEDIATE": {
        "vi": "Gói mới: {tier}, {cycle}, {seats} người dùng.",
        "en": "New plan: {tier}, {cycle}, {seats|user|users}.",
    },
    "DOWNGRADE_NEXT_CYCLE": {
        "vi": "Đến ngày {effective_date}, bạn vẫn dùng gói {current_tier} đã thanh toán; sau đó là gói {tier} ({cycle}, {seats} người dùng).",
        "en": "Until {effective_date} you keep the {current_tier} plan already paid for; then {tier} ({cycle}, {seats|user|users}).",
    },
    "PLAN_CHANGE_NEXT_CYCLE": {
        "vi": "Gói vẫn là {tier}; chỉ chu kỳ thanh toán hoặc số người dùng thay đổi.",
        "en": "The plan stays {tier}; only the billing cycle or the number of users changes.",
    },
    "CHANGE_AT_RENEWAL_KEEPS_CREDIT": {
        "vi": "Phần chưa dùng của kỳ đã thanh toán ({credit_vnd}) nhiều hơn số tiền của gói mới, nên thay đổi được áp dụng từ kỳ "
        "gia hạn tiếp theo ({effective_date}): bạn dùng hết kỳ đã trả, không mất khoản nào.",
        "en": "The unused part of the period already paid for ({credit_vnd}) is more than the new plan would cost now, so the change "
        "applies from the next renewal ({effective_date}): you use the whole period you paid for and lose nothing.",
    },
    "FREE_IMMEDIATE": {
        "vi": "Bản Free miễn phí, không cần thanh toán.",
        "en": "The Free edition costs nothing; there is nothing to pay.",
    },
    # ---------------------------------------------------------------- notes
    "CANCELS_SCHEDULED_CHANGE": {
        "vi": "Lần nâng cấp này hủy lịch hạ {product} xuống gói {scheduled_tier} ngày {effective_date}.",
        "en": "This upgrade cancels the move of {product} to {scheduled_tier} scheduled for {effective_date}.",
    },
    "REPLACES_SCHEDULED_CHANGE": {
        "vi": "Thay đổi này thay thế lịch hạ {product} xuống gói {scheduled_tier} ({scheduled_seats} người dùng) "
        "ngày {effective_date}.",
        "en": "This replaces the scheduled move of {product} to {scheduled_tier} ({scheduled_seats|user|users}) "
        "on {effective_date}.",
    },
    "SHOWN_AS_NEXT_RENEWAL_PLAN": {
        "vi": "Chi tiết nằm trong mục Gói gia hạn tiếp theo (Thiết lập hệ thống > Đăng ký & Thanh toán).",
        "en": "You will find it under Next renewal plan (System settings > Subscription & Billing).",
    },
    "SCHEDULED_THROUGH_SUPPORT": {
        "vi": "Để đặt lịch thay đổi này, hãy liên hệ bộ phận hỗ trợ (Liên hệ trợ giúp); sau đó nó nằm trong mục "
        "Gói gia hạn tiếp theo.",
        "en": "To schedule this change, contact support (Contact help); it then shows under Next renewal plan.",
    },
    "PAID_PERIOD_USED_IN_FULL": {
        "vi": "Bạn dùng hết kỳ đã thanh toán của {product} đến ngày {period_end_date}; phần đã trả không được hoàn lại.",
        "en": "You keep the period of {product} already paid until {period_end_date}; nothing is refunded.",
    },
    "CAPACITY_WILL_BE_REMOVED": {
        "vi": "{kind}: {amount} {unit} vượt hạn mức của gói mới sẽ tự động bị xóa chậm nhất ngày {due_date} (từ cũ đến mới). "
        "Muốn giữ lại, hãy hủy lịch hạ gói hoặc chọn gói có hạn mức đủ lớn trước ngày đó.",
        "en": "{kind}: {amount} {unit} above the new plan's limit will be deleted automatically no later than {due_date} "
        "(oldest purchases first). To keep it, cancel the downgrade or choose a plan with a large enough limit before then.",
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
        "vi": "Nâng cấp {product} lên gói trả phí: {tiers_or}.",
        "en": "Upgrade {product} to a paid plan: {tiers_or}.",
    },
    "FIX_CHOOSE_OFFERED_TIER": {
        "vi": "Chọn một trong các gói của {product}: {tiers_or}.",
        "en": "Choose one of the {product} plans: {tiers_or}.",
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
        "vi": "Đợi {addon} chuyển sang chu kỳ {cycle} như đã lên lịch (ngày {effective_date}), rồi thử lại.",
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
    "FIX_BUY_PAID_PLAN_FOR_CAPACITY": {
        "vi": "Mua gói trả phí của {product} trước: {kind} chỉ đi kèm gói trả phí (không có ở bản dùng thử hay bản Free).",
        "en": "Buy a paid {product} plan first: {kind} comes only with a paid plan (not with a trial or the Free edition).",
    },
    "FIX_BUY_CAPACITY_SEPARATELY": {
        "vi": "Hạ gói {product} không kèm dung lượng mở rộng; nếu cần thêm, hãy mua riêng với gói hiện tại.",
        "en": "Downgrade {product} without extended capacity; buy capacity on its own with your current plan if needed.",
    },
    "FIX_CONTACT_SUPPORT": {
        "vi": "Nhắn “gặp nhân viên” ngay trong khung chat để nhân viên hỗ trợ xử lý giúp bạn.",
        "en": "Write “talk to a person” in the chat and a support agent will handle it for you.",
    },
    "FIX_CANCEL_SCHEDULED_TO_KEEP": {
        "vi": "Để giữ gói {tier}, hãy hủy lịch chuyển sang gói {scheduled_tier}: nhắn “hủy lịch hạ gói” cho trợ lý "
        "hoặc liên hệ bộ phận hỗ trợ.",
        "en": "To keep {tier}, cancel the scheduled move to {scheduled_tier}: say “cancel the scheduled downgrade” "
        "to the assistant, or contact support.",
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
    "SUMMARY_PLAN_CHANGE_NEXT_CYCLE": {
        "vi": "Được: {product} đổi sang thanh toán {cycle}, {seats} người dùng từ kỳ thanh toán tiếp theo ({effective_date}).",
        "en": "Yes: {product} changes to {cycle} billing with {seats|user|users} from the next billing cycle ({effective_date}).",
    },
    "SUMMARY_SEATS_NEXT_CYCLE": {
        "vi": "Được: {product} còn {seats} người dùng từ kỳ thanh toán tiếp theo ({effective_date}).",
        "en": "Yes: {product} goes to {seats|user|users} from the next billing cycle ({effective_date}).",
    },
    "SUMMARY_CYCLE_NEXT_CYCLE": {
        "vi": "Được: {product} chuyển sang thanh toán {cycle} từ kỳ thanh toán tiếp theo ({effective_date}).",
        "en": "Yes: {product} moves to {cycle} billing from the next billing cycle ({effective_date}).",
    },
    "SUMMARY_BLOCKED": {
        "vi": "Chưa thể chuyển {product} sang gói {tier} như yêu cầu.",
        "en": "{product} cannot move to {tier} as asked.",
    },
    "SUMMARY_ALREADY_SCHEDULED": {
        "vi": "Đã lên lịch: {product} chuyển sang gói {tier} từ ngày {effective_date}.",
        "en": "Already scheduled: {product} moves to {tier} on {effective_date}.",
    },
    "SUMMARY_NOTHING_TO_CHANGE": {
        "vi": "{product} đang dùng gói {tier}.",
        "en": "{product} is on {tier}.",
    },
    "SUMMARY_KEEPS_CREDIT": {
        "vi": "Được: {product} chuyển sang gói {tier} từ kỳ gia hạn tiếp theo ({effective_date}), để bạn không mất phần đã trả.",
        "en": "Yes: {product} moves to {tier} from the next renewal ({effective_date}), so you lose nothing you paid.",
    },
    # ---------------------------------------------------------------- quotes
    "QUOTE_PLAN": {
        "vi": "{product} {tier}, {seats} người dùng × {unit_price_vnd} ({cycle})",
        "en": "{product} {tier}, {seats|user|users} × {unit_price_vnd} ({cycle})",
    },
    "QUOTE_PLAN_FREE": {
        "vi": "{product} {tier}: miễn phí",
        "en": "{product} {tier}: free of charge",
    },
    "QUOTE_PLAN_PRORATED": {
        "vi": "{product} {tier}, {seats} người dùng, {days}/{period_days} ngày còn lại của kỳ (cả kỳ {full_price_vnd})",
        "en": "{product} {tier}, {seats|user|users}, {days} of {period_days} days left in the period "
        "(full period {full_price_vnd})",
    },
    "QUOTE_PRORATION_CREDIT": {
        "vi": "Trừ phần chưa dùng của gói {tier} hiện tại ({days}/{period_days} ngày)",
        "en": "Credit for the unused part of the current {tier} plan ({days} of {period_days} days)",
    },
    "QUOTE_ADDON": {
        "vi": "Dung lượng mở rộng – {kind}: {amount} {unit} ({packs} gói × {pack_price_vnd}, {cycle})",
        "en": "Extended capacity – {kind}: {amount} {unit} ({packs|pack|packs} × {pack_price_vnd}, {cycle})",
    },
    "QUOTE_ADDON_PRORATED": {
        "vi": "Dung lượng mở rộng – {kind}: {amount} {unit} ({packs} gói × {pack_price_vnd} {cycle}, "
        "{days}/{period_days} ngày còn lại của kỳ {product})",
        "en": "Extended capacity – {kind}: {amount} {unit} ({packs|pack|packs} × {pack_price_vnd} {cycle}, "
        "{days} of {period_days} days left in the {product} period)",
    },
    "QUOTE_ADDON_NEW_PERIOD": {
        "vi": "Dung lượng mở rộng đang có – {kind}: {amount} {unit} cho kỳ mới ({packs} gói × {pack_price_vnd}, {cycle})",
        "en": "Extended capacity you already have – {kind}: {amount} {unit} for the new period ({packs|pack|packs} × {pack_price_vnd}, {cycle})",
    },
    "QUOTE_ADDON_CREDIT": {
        "vi": "Trừ phần chưa dùng của {kind} đang có ({days}/{period_days} ngày)",
        "en": "Credit for the unused part of your {kind} ({days} of {period_days} days)",
    },
    "QUOTE_PACKS_ROUNDED_UP": {
        "vi": "{kind} được bán theo gói {pack_size} {unit}: {requested} {unit} được làm tròn lên {amount} {unit}.",
        "en": "{kind} comes in packs of {pack_size} {unit}: {requested} {unit} is rounded up to {amount} {unit}.",
    },
    "QUOTE_CREDIT_CAPPED": {
        "vi": "Số tiền được trừ vượt số tiền phải trả; đơn này miễn phí và phần dư {credit_vnd} không được hoàn lại.",
        "en": "The credit is larger than the charge: this order is free and the remaining {credit_vnd} is not paid out.",
    },
    "QUOTE_SAMPLE_PRICES": {
        "vi": "Giá minh họa (giá mẫu), không phải bảng giá chính thức của Cleeksy.",
        "en": "Sample prices for illustration, not Cleeksy's official price list.",
    },
    "QUOTE_YEARLY_SAVINGS": {
        "vi": "Chọn Hàng năm tiết kiệm {savings_vnd} mỗi năm cho {seats} người dùng.",
        "en": "Paying yearly saves {savings_vnd} a year for {seats|user|users}.",
    },
    "QUOTE_CHARGED_AT_RENEWAL": {
        "vi": "Số tiền này được tính khi gia hạn, ngày {renewal_date}.",
        "en": "This amount is charged at the renewal on {renewal_date}.",
    },
    "QUOTE_CREDIT_KEPT_UNTIL_RENEWAL": {
        "vi": "Bạn dùng hết kỳ đã thanh toán của {product} đến ngày {period_end_date}, không mất phần nào đã trả.",
        "en": "You use the whole period of {product} already paid for, until {period_end_date}; nothing you paid is lost.",
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


def placeholders(code: str, lang: str) -> Set[str]:
    """The parameter names the template of ``code`` needs (``{n|one|many}`` needs ``n``)."""
    derived = {"trial_end_text": "trial_end_date"}
    names = {name.split("|")[0] for _, name, _, _ in string.Formatter().parse(MESSAGES[code][lang]) if name}
    names = {name[:-3] if name.endswith("_or") else name for name in names}
    return {derived.get(name, name) for name in names}


def label(group: str, key: Any, lang: str = "vi") -> str:
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


def _as_datetime(value: object) -> Optional[datetime]:
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


def format_date(value: object, lang: str = "vi") -> str:
    moment = _as_datetime(value)
    if moment is None:
        return str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and "T" not in value and " " not in value:
        day = moment.date()  # already a calendar day
    else:
        day = business_day(moment)  # an instant (naive = UTC): its day in Vietnam
    moment = datetime(day.year, day.month, day.day)
    if normalize_lang(lang) == "en":
        return f"{moment.day} {EN_MONTHS[moment.month - 1]} {moment.year}"
    return moment.strftime("%d/%m/%Y")


def format_datetime(value: object, lang: str = "vi") -> str:
    moment = _as_datetime(value)
    if moment is None:
        return str(value)
    if isinstance(value, str) and "T" not in value and " " not in value:
        return format_date(value, lang)
    moment = as_utc(moment).astimezone(VIETNAM)
    if normalize_lang(lang) == "en":
        return f"{format_date(moment, 'en')}, {moment:%H:%M}"
    return f"{moment:%H:%M} {format_date(moment, 'vi')}"


def _join(items: Iterable[str], lang: str, choice: bool = False) -> str:
    """ "A", "A và B", "A, B và C" (en: "A, B and C"); a choice: "A, B hoặc C" (en: "or")."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    english = normalize_lang(lang) == "en"
    last = (" or " if english else " hoặc ") if choice else (" and " if english else " và ")
    return ", ".join(items[:-1]) + last + items[-1]


def _plural(count: Any, one: str, many: str, lang: str) -> str:
    number = format_number(count, lang) if isinstance(count, int) and not isinstance(count, bool) else str(count)
    return f"{number} {one if count == 1 else many}"


_TRIAL_END = {
    "vi": {"days": "ngày {date} (còn {days} ngày)", "today": "hôm nay, lúc {time}", "ended": "ngày {date}"},
    "en": {"days": "on {date} ({days} left)", "today": "today at {time}", "ended": "on {date}"},
}


def _trial_end_text(raw: Mapping[str, Any], lang: str) -> str:
    """When a trial ends, in words: never "(còn 0 ngày)" on its last day."""
    texts = _TRIAL_END[lang]
    end_date = format_date(raw.get("trial_end_date"), lang)
    days = raw.get("days_left")
    moment = _as_datetime(raw.get("trial_end_at"))
    if days == 0 and moment is not None:
        return texts["today"].format(time=f"{as_utc(moment).astimezone(VIETNAM):%H:%M}")
    if isinstance(days, int) and days > 0:
        count = _plural(days, "day", "days", lang) if lang == "en" else format_number(days, lang)
        return texts["days"].format(date=end_date, days=count)
    return texts["ended"].format(date=end_date)


def _list_items(name: str, value: Any, lang: str, catalog: Optional["Catalog"]) -> Optional[List[str]]:
    """The shown names of a list parameter (``addons``, ``tiers``, ...), or None for a single value."""
    if name in ("addons", "products"):
        return [catalog.product_name(v, lang) if catalog else str(v) for v in value]
    if name == "tiers":
        return [catalog.tier_name(v, lang) if catalog else str(v) for v in value]
    if name == "cycles":
        return [label("cycle", v, lang) for v in value]
    if name == "kinds":
        return [catalog.capacity[v].name.get(lang) if catalog and v in catalog.capacity else str(v) for v in value]
    if name in ("feature", "features"):
        values = [value] if name == "feature" else list(value)
        return [catalog.features[v].name.get(lang) if catalog and v in catalog.features else str(v) for v in values]
    return None


def _format_param(name: str, value: Any, lang: str, catalog: Optional["Catalog"]) -> str:
    if value is None:
        return MISSING
    items = _list_items(name, value, lang, catalog)
    if items is not None:
        return _join(items, lang)
    if name in ("product", "base", "addon"):
        return catalog.product_name(value, lang) if catalog else str(value)
    if name == "tier" or name.endswith("_tier"):
        return catalog.tier_name(value, lang) if catalog else str(value)
    if name == "cycle" or name.endswith("_cycle"):
        return label("cycle", value, lang)
    if name == "kind":
        kind = catalog.capacity.get(value) if catalog else None
        return kind.name.get(lang) if kind else str(value)
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


class _Params(Dict[str, str]):
    """Formats each value on demand; a missing one shows as "…" (logged) rather than crashing."""

    def __init__(self, raw: Mapping[str, Any], lang: str, catalog: Optional["Catalog"], code: str) -> None:
        super().__init__()
        self.raw, self.lang, self.catalog, self.code = raw, lang, catalog, code

    def __missing__(self, name: str) -> str:
        if "|" in name:  # {count|one|many}
            count, _, forms = name.partition("|")
            one, _, many = forms.partition("|")
            if count in self.raw:
                return _plural(self.raw[count], one, many or one, self.lang)
        if name == "trial_end_text" and "trial_end_date" in self.raw:
            return _trial_end_text(self.raw, self.lang)
        if name.endswith("_or") and self.raw.get(name[:-3]) is not None:  # a list to choose from: "A, B hoặc C"
            items = _list_items(name[:-3], self.raw[name[:-3]], self.lang, self.catalog)
            if items is not None:
                return _join(items, self.lang, choice=True)
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


def render(
    code: str,
    params: Optional[Mapping[str, Any]] = None,
    lang: Optional[str] = "vi",
    catalog: Optional["Catalog"] = None,
) -> str:
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


def render_decision(decision: "Decision", lang: str = "vi", catalog: Optional["Catalog"] = None) -> Dict[str, Any]:
    """A decision as the adapters show it: {summary, reasons: [{code, message}], fixes: [str]}."""
    lang = normalize_lang(lang)
    target = decision.target
    summary_params = {
        "product": target.product,
        "tier": target.tier,
        "seats": target.seats,
        "cycle": target.cycle.value if target.cycle else "none",
    }
    first = decision.reasons[0].code if decision.reasons else ""
    if decision.outcome is Outcome.BLOCKED:
        summary_code = (
            "SUMMARY_NOTHING_TO_CHANGE" if first in ("NO_CHANGE", "KEEP_PLAN_WHILE_SCHEDULED") else "SUMMARY_BLOCKED"
        )
    elif decision.outcome is Outcome.NEXT_CYCLE:
        summary_code = {
            "ALREADY_SCHEDULED": "SUMMARY_ALREADY_SCHEDULED",
            "CHANGE_AT_RENEWAL_KEEPS_CREDIT": "SUMMARY_KEEPS_CREDIT",
            "PLAN_CHANGE_NEXT_CYCLE": "SUMMARY_PLAN_CHANGE_NEXT_CYCLE",
        }.get(first, "SUMMARY_NEXT_CYCLE")
        summary_params["effective_date"] = (
            business_day(decision.effective_at).isoformat() if decision.effective_at else None
        )
        current = decision.current
        if summary_code == "SUMMARY_PLAN_CHANGE_NEXT_CYCLE" and current is not None:
            if current.cycle == target.cycle:
                summary_code = "SUMMARY_SEATS_NEXT_CYCLE"  # only the number of users changes
            elif current.seats == target.seats:
                summary_code = "SUMMARY_CYCLE_NEXT_CYCLE"  # only the billing cycle changes
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


def render_both(
    code: str, params: Optional[Mapping[str, Any]] = None, catalog: Optional["Catalog"] = None
) -> Dict[str, str]:
    """{"message_vi": ..., "message_en": ...} (the CLI's --json shape)."""
    return {"message_vi": render(code, params, "vi", catalog), "message_en": render(code, params, "en", catalog)}


def render_error(error: "BillingError", lang: str = "vi", catalog: Optional["Catalog"] = None) -> str:
    """The text of a ``BillingError`` (its ``code`` and ``params``) in ``lang``."""
    return render(error.code, error.params, lang, catalog)


def join_list(items: Iterable[str], lang: str = "vi", choice: bool = False) -> str:
    """Names in a sentence: "A, B và C"; ``choice`` for a list to pick from: "A, B hoặc C"."""
    return _join(items, normalize_lang(lang), choice=choice)
