"""``python -m billing_core``: the command line agents, scripts and ``make run`` rely on.

    init-db | seed-demo | show WS | check WS --product P --tier T [--cycle C] [--seats N]
    quote WS ... [--addon KIND=AMOUNT ...] | retention WS | run-jobs

The database comes from ``BILLING_DATABASE_URL``. ``--json`` prints one JSON object; ``--lang vi|en``
chooses the language of the human output (Vietnamese by default). A blocked change is an answer
(exit 0). Bad input exits 2 with one line in the chosen language; a database that is not ready
exits 1 the same way. ``--now`` (ISO 8601) pretends it is another moment, for tests and what-ifs.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence, TextIO

from billing_core.domain import errors, messages
from billing_core.service_layer import services
from billing_core.domain.catalog import load_catalog

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2

# Layout words of the human output (the sentences themselves come from billing_core.domain.messages).
TEXT = {
    "vi": {
        "allowed": "ĐƯỢC PHÉP", "blocked": "CHƯA ĐƯỢC", "reasons": "Lý do", "fixes": "Cần làm trước",
        "total": "Tổng cộng", "quote_none": "Không có báo giá vì thay đổi này chưa được phép.",
        "retention_none": "Không có dữ liệu nào sắp bị xóa.", "retention": "Dữ liệu sẽ bị xóa",
        "plans": "Gói đang dùng", "seats": "người dùng", "trial_left": "còn {days} ngày dùng thử",
        "ends": "hết hạn {date}", "renews": "gia hạn {date}", "next_plan": "Gói gia hạn tiếp theo",
        "capacity": "Dung lượng mở rộng", "pending": "Đơn hàng chờ thanh toán", "limit": "tối đa",
        "expires": "hết hạn lúc {at}", "init_db": "Cơ sở dữ liệu đã sẵn sàng (phiên bản {revision}).",
        "seeded": "Đã tạo lại {count} không gian làm việc mẫu: {ids}",
        "jobs": "Đã chạy: {trials_expired} bản dùng thử hết hạn, {renewed} kỳ được gia hạn, "
                "{retention_executed} lần xóa dữ liệu.",
        "error": "Lỗi", "db_not_ready": "Cơ sở dữ liệu chưa sẵn sàng ({detail}). Hãy chạy: python -m billing_core init-db",
        "bad_addon": "--addon phải có dạng LOẠI=SỐ_LƯỢNG, ví dụ storage=50 (nhận được: {value})",
        "bad_now": "--now phải là thời điểm ISO 8601, ví dụ 2026-11-26T09:00:00+07:00 (nhận được: {value})",
        "usage": "Cách dùng sai: {detail}",
    },
    "en": {
        "allowed": "ALLOWED", "blocked": "NOT ALLOWED", "reasons": "Reasons", "fixes": "Do this first",
        "total": "Total", "quote_none": "No quote: this change is not allowed yet.",
        "retention_none": "Nothing is scheduled for deletion.", "retention": "Data to be deleted",
        "plans": "Plans", "seats": "users", "trial_left": "{days} trial days left",
        "ends": "ends {date}", "renews": "renews {date}", "next_plan": "Next renewal plan",
        "capacity": "Extended capacity", "pending": "Orders awaiting payment", "limit": "limit",
        "expires": "expires at {at}", "init_db": "The database is ready (revision {revision}).",
        "seeded": "Recreated {count} demo workspaces: {ids}",
        "jobs": "Ran: {trials_expired} trials expired, {renewed} periods renewed, "
                "{retention_executed} deletions carried out.",
        "error": "Error", "db_not_ready": "The database is not ready ({detail}). Run: python -m billing_core init-db",
        "bad_addon": "--addon must look like KIND=AMOUNT, e.g. storage=50 (got: {value})",
        "bad_now": "--now must be an ISO 8601 moment, e.g. 2026-11-26T09:00:00+07:00 (got: {value})",
        "usage": "Wrong usage: {detail}",
    },
}


class UsageError(Exception):
    """A command line that cannot be understood (exit 2)."""

    def __init__(self, message: str, localized: bool = False):
        super().__init__(message)
        self.localized = localized  # argparse's own messages are English: they get a prefix


class _Parser(argparse.ArgumentParser):
    # argparse would print its usage and an English message; we want one line in the user's language.
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _common(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: options may come before or after the command (a sub-parser default would
    # otherwise overwrite what the main parser read).
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object")
    parser.add_argument("--lang", default=argparse.SUPPRESS, help="vi (default) or en, for the human output")
    parser.add_argument("--now", default=argparse.SUPPRESS, help="ISO 8601 moment to use instead of now")


def _change_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workspace")
    parser.add_argument("--product", required=True)
    parser.add_argument("--tier", required=True)
    # Values are checked by the domain (typed, translated errors), not by argparse choices.
    parser.add_argument("--cycle")
    parser.add_argument("--seats")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m billing_core", description="Cleeksy billing core")
    _common(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    for name, help_text in (("init-db", "create or upgrade the schema (Alembic upgrade head)"),
                            ("seed-demo", "recreate the demo workspaces"),
                            ("run-jobs", "expire trials, renew, run due retention")):
        _common(commands.add_parser(name, help=help_text))
    for name, help_text in (("show", "a workspace's plans, capacity, orders and retention"),
                            ("retention", "what will be deleted, how much, when")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("workspace")
        _common(sub)
    check = commands.add_parser("check", help="may the workspace make this change?")
    _change_options(check)
    _common(check)
    quote = commands.add_parser("quote", help="the decision and the price of a change")
    _change_options(quote)
    quote.add_argument("--addon", action="append", default=[], metavar="KIND=AMOUNT")
    _common(quote)
    return parser


# --- argument conversion ------------------------------------------------------------------
def _lang_from(argv: Sequence[str]) -> str:
    """The language, found before parsing so that even a parse error speaks it."""
    for index, arg in enumerate(argv):
        if arg == "--lang" and index + 1 < len(argv):
            return messages.normalize_lang(argv[index + 1])
        if arg.startswith("--lang="):
            return messages.normalize_lang(arg.split("=", 1)[1])
    return "vi"


def _parse_int(value: Optional[str]) -> Any:
    """An int when the text is one; otherwise the text, for the domain to refuse with its message."""
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return value


def _parse_addons(values: List[str], lang: str) -> Dict[str, Any]:
    addons: Dict[str, Any] = {}
    for value in values:
        kind, sep, amount = value.partition("=")
        kind = kind.strip()
        if not sep or not kind or not amount.strip():
            raise UsageError(TEXT[lang]["bad_addon"].format(value=value), localized=True)
        amount_value, previous = _parse_int(amount), addons.get(kind)
        both_numbers = isinstance(previous, int) and isinstance(amount_value, int)
        addons[kind] = previous + amount_value if both_numbers else amount_value  # repeated kinds add up
    return addons


def _parse_now(value: Optional[str], lang: str) -> Optional[datetime]:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(TEXT[lang]["bad_now"].format(value=value), localized=True) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _request(args, lang: str):
    from billing_core.domain.rules import ChangeRequest

    return ChangeRequest(
        product=args.product.strip(), tier=args.tier.strip(),
        cycle=args.cycle.strip() if args.cycle else None, seats=_parse_int(args.seats),
        addons=_parse_addons(getattr(args, "addon", []) or [], lang),
    )


# --- rendering ------------------------------------------------------------------------------
def _both(code: str, params: Dict[str, Any], catalog) -> Dict[str, Any]:
    return {"code": code, "params": services.jsonable(params), **messages.render_both(code, params, catalog)}


def decision_json(workspace_id: str, decision, catalog) -> Dict[str, Any]:
    data = decision.to_dict()
    return {
        "workspace_id": workspace_id,
        "allowed": decision.allowed,
        "outcome": data["outcome"],
        "effective": data["effective"],
        "effective_at": data["effective_at"],
        "rule_id": decision.rule_id,
        "target": data["target"],
        "reasons": [_both(r.code, r.params, catalog) for r in decision.reasons],
        "fixes": [_both(f.code, f.params, catalog) for f in decision.fixes],
    }


def _decision_lines(decision, lang: str, catalog) -> List[str]:
    text = TEXT[lang]
    shown = messages.render_decision(decision, lang, catalog)
    lines = [f"[{text['allowed'] if decision.allowed else text['blocked']}] {shown['summary']}"]
    if shown["reasons"]:
        lines.append(f"{text['reasons']}:")
        lines += [f"  - {reason['message']}" for reason in shown["reasons"]]
    if shown["fixes"]:
        lines.append(f"{text['fixes']}:")
        lines += [f"  {number}. {fix}" for number, fix in enumerate(shown["fixes"], 1)]
    return lines


def _quote_json(quote, catalog) -> Dict[str, Any]:
    data = quote.to_dict()
    data["lines"] = [{**line.to_dict(), **messages.render_both(line.code, line.params, catalog)}
                     for line in quote.lines]
    data["notes"] = [_both(note.code, note.params, catalog) for note in quote.notes]
    return data


def _quote_lines(quote, lang: str, catalog) -> List[str]:
    lines = []
    for line in quote.lines:
        lines.append(f"  {messages.render(line.code, line.params, lang, catalog)}: "
                     f"{messages.format_vnd(line.amount_vnd, lang)}")
    lines.append(f"{TEXT[lang]['total']}: {messages.format_vnd(quote.total_vnd, lang)}")
    lines += [f"  * {messages.render(note.code, note.params, lang, catalog)}" for note in quote.notes]
    return lines


def _retention_item_text(item, lang: str, catalog) -> str:
    """A RetentionItem, or its dict form from the workspace summary, in words."""
    data = item if isinstance(item, dict) else item.to_dict()
    due_date = data["due_at"]  # the full instant: messages shows its date in Vietnam
    if data["kind"] == "capacity":
        return messages.render("RETENTION_CAPACITY",
                               {"kind": data["target"], "amount": data["amount"], "due_date": due_date}, lang, catalog)
    return messages.render("RETENTION_FEATURE_DATA", {"feature": data["target"], "due_date": due_date}, lang, catalog)


def _retention_json(items, catalog) -> List[Dict[str, Any]]:
    return [{**item.to_dict(), "message_vi": _retention_item_text(item, "vi", catalog),
             "message_en": _retention_item_text(item, "en", catalog)} for item in items]


def _summary_lines(summary: Dict[str, Any], lang: str, catalog) -> List[str]:
    text = TEXT[lang]
    lines = [f"{summary['name']} ({summary['workspace_id']})", f"{text['plans']}:"]
    for sub in summary["subscriptions"]:
        name = f"{catalog.product_name(sub['product'], lang)} {catalog.tier_name(sub['tier'], lang)}"
        parts = [messages.label("status", sub["status"], lang)]
        if sub["cycle"]:
            parts.append(messages.label("cycle", sub["cycle"], lang))
        parts.append(f"{sub['seats']} {text['seats']}")
        if sub["trial_days_left"] is not None:
            parts.append(text["trial_left"].format(days=sub["trial_days_left"]))
        if sub["status"] == "active" and sub["period_end"]:
            parts.append(text["renews"].format(date=messages.format_date(sub["period_end"], lang)))
            parts.append(messages.label("renewal_mode", sub["renewal_mode"], lang))
        elif sub["period_end"]:
            parts.append(text["ends"].format(date=messages.format_date(sub["period_end"], lang)))
        lines.append(f"  - {name}: " + ", ".join(parts))
        if sub["downgrade_scheduled"]:
            plan = sub["next_renewal_plan"]
            lines.append(f"    {text['next_plan']}: {catalog.tier_name(plan['tier'], lang)}, "
                         f"{messages.label('cycle', plan['cycle'] or 'none', lang)}, {plan['seats']} {text['seats']}"
                         f" ({messages.format_date(plan['effective_at'], lang)})")
    if summary["capacity"]:
        lines.append(f"{text['capacity']}:")
        for item in summary["capacity"]:
            kind = catalog.capacity[item["kind"]]
            lines.append(f"  - {kind.name.get(lang)}: +{messages.format_number(item['extra_total'], lang)} "
                         f"{kind.unit.get(lang)} ({text['limit']} {messages.format_number(item['limit'], lang)} "
                         f"{kind.unit.get(lang)})")
    if summary["pending_orders"]:
        lines.append(f"{text['pending']}:")
        for order in summary["pending_orders"]:
            lines.append(f"  - {order['txn_ref']}: {catalog.product_name(order['product'], lang)} "
                         f"{catalog.tier_name(order['tier'], lang)}, "
                         f"{messages.format_vnd(order['amount_vnd'], lang)}, "
                         + text["expires"].format(at=messages.format_datetime(order["expires_at"], lang)))
    if summary["retention"]:
        lines.append(f"{text['retention']}:")
        lines += [f"  - {_retention_item_text(item, lang, catalog)}" for item in summary["retention"]]
    return lines


# --- commands -------------------------------------------------------------------------------
def _uow():
    from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork

    return SqlAlchemyUnitOfWork()


def run(args, lang: str, out: TextIO) -> int:
    now = _parse_now(getattr(args, "now", None), lang)
    text = TEXT[lang]

    def emit(data: Any, lines: List[str]) -> None:
        if getattr(args, "json", False):
            out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        else:
            out.write("\n".join(lines) + "\n")

    if args.command == "init-db":
        from billing_core.migrations import current_revision, upgrade_head

        upgrade_head()
        revision = current_revision()
        emit({"ok": True, "revision": revision}, [text["init_db"].format(revision=revision)])
        return EXIT_OK

    if args.command == "seed-demo":
        from billing_core.service_layer.demo import seed_demo

        ids = seed_demo(_uow(), now)
        emit({"seeded": ids}, [text["seeded"].format(count=len(ids), ids=", ".join(ids))])
        return EXIT_OK

    if args.command == "run-jobs":
        counts = services.run_jobs(_uow(), now)
        emit(counts, [text["jobs"].format(**counts)])
        return EXIT_OK

    catalog = load_catalog()
    if args.command == "show":
        summary = services.workspace_summary(_uow(), args.workspace, now, catalog)
        emit(summary, _summary_lines(summary, lang, catalog))
        return EXIT_OK

    if args.command == "retention":
        items = services.retention_preview(_uow(), args.workspace, now, catalog)
        lines = [f"{text['retention']}:"] + [f"  - {_retention_item_text(i, lang, catalog)}" for i in items] \
            if items else [text["retention_none"]]
        emit({"workspace_id": args.workspace, "items": _retention_json(items, catalog)}, lines)
        return EXIT_OK

    request = _request(args, lang)
    if args.command == "check":
        decision = services.check_change(_uow(), args.workspace, request, now, catalog)
        emit(decision_json(args.workspace, decision, catalog), _decision_lines(decision, lang, catalog))
        return EXIT_OK

    decision, quote = services.quote_change(_uow(), args.workspace, request, now, catalog)
    data = decision_json(args.workspace, decision, catalog)
    data["quote"] = _quote_json(quote, catalog) if quote is not None else None
    lines = _decision_lines(decision, lang, catalog)
    lines += _quote_lines(quote, lang, catalog) if quote is not None else [text["quote_none"]]
    emit(data, lines)
    return EXIT_OK


# argparse speaks English; these are the messages a user can provoke, in Vietnamese.
_ARGPARSE_VI = (
    (re.compile(r"the following arguments are required: (.*)"), "thiếu tham số bắt buộc: {0}"),
    (re.compile(r"argument COMMAND: invalid choice: '([^']*)'.*"),
     "không có lệnh '{0}' (các lệnh: init-db, seed-demo, show, check, quote, retention, run-jobs)"),
    (re.compile(r"unrecognized arguments: (.*)"), "tham số không hợp lệ: {0}"),
    (re.compile(r"argument (\S+): expected one argument"), "tham số {0} cần một giá trị"),
)


def _usage_text(message: str, lang: str) -> str:
    if lang == "vi":
        for pattern, template in _ARGPARSE_VI:
            match = pattern.fullmatch(message)
            if match:
                message = template.format(*match.groups())
                break
    return TEXT[lang]["usage"].format(detail=message)


def _fail(out_err: TextIO, lang: str, message: str, code: int) -> int:
    out_err.write(f"{TEXT[lang]['error']}: {message}\n")
    return code


def main(argv: Optional[Sequence[str]] = None, out: TextIO = None, err: TextIO = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out, err = out or sys.stdout, err or sys.stderr
    lang = _lang_from(argv)
    try:
        args = build_parser().parse_args(argv)
        return run(args, lang, out)
    except UsageError as problem:
        message = str(problem) if problem.localized else _usage_text(str(problem), lang)
        return _fail(err, lang, message, EXIT_BAD_INPUT)
    except errors.CatalogError as problem:
        return _fail(err, lang, str(problem), EXIT_FAILURE)
    except errors.BillingError as problem:
        if "--json" in argv:  # programs get the typed error too (stderr keeps the one line)
            out.write(json.dumps({"error": problem.to_dict()}, ensure_ascii=False) + "\n")
        return _fail(err, lang, problem.message(lang), EXIT_BAD_INPUT)
    except Exception as problem:  # the database, mostly: one line, no traceback
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(problem, SQLAlchemyError):
            detail = str(getattr(problem, "orig", None) or problem).splitlines()[0][:200]
            return _fail(err, lang, TEXT[lang]["db_not_ready"].format(detail=detail), EXIT_FAILURE)
        raise
