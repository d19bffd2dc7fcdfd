"""``python -m billing_core``: the command line agents, scripts and ``make run`` rely on.

    init-db | seed-demo | show WS | check WS --product P --tier T [--cycle C] [--seats N]
    [--addon KIND=AMOUNT ...] | quote WS ... | retention WS | run-jobs

The database comes from ``BILLING_DATABASE_URL``. ``--json`` prints one JSON object, errors
included (``{"error": {code, params, text, message_vi, message_en}}``); ``--lang vi|en`` chooses the
language of the human output (Vietnamese by default; anything else is refused). Products, tiers,
cycles and capacity kinds are catalog keys or their Vietnamese/English names. Numbers are plain
ASCII digits. A blocked change is an answer (exit 0). Bad input exits 2 with one line in the chosen
language; a database that cannot be reached or is not ready exits 1 the same way. ``--now``
(ISO 8601) pretends it is another moment, for tests and what-ifs; without a zone it is Vietnam time
(and the output says so).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence, TextIO, Tuple, Union

from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from billing_core.adapters import vnpay
from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
from billing_core.domain import errors, messages, retention
from billing_core.domain.catalog import Catalog, load_catalog
from billing_core.domain.clock import VIETNAM
from billing_core.domain.quotes import Quote
from billing_core.domain.rules import ChangeRequest, Decision
from billing_core.migrations import current_revision, upgrade_head
from billing_core.service_layer import jobs, services, views
from billing_core.service_layer.demo import seed_demo

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2

# Layout words of the human output (the sentences themselves come from billing_core.domain.messages).
TEXT = {
    "vi": {
        "allowed": "ĐƯỢC PHÉP",
        "blocked": "CHƯA ĐƯỢC",
        "reasons": "Lý do",
        "fixes": "Cần làm trước",
        "total": "Tổng cộng",
        "quote_none": "Không có báo giá vì thay đổi này chưa được phép.",
        "retention_none": "Không có dữ liệu nào sắp bị xóa.",
        "retention": "Dữ liệu sẽ bị xóa",
        "plans": "Gói đang dùng",
        "seats": "người dùng",
        "trial_left": "còn {days} ngày dùng thử",
        "ends": "hết hạn {date}",
        "renews": "gia hạn {date}",
        "next_plan": "Gói gia hạn tiếp theo",
        "capacity": "Dung lượng mở rộng",
        "pending": "Đơn hàng chờ thanh toán",
        "refunds": "Cần hoàn tiền",
        "limit": "tối đa",
        "expires": "hết hạn lúc {at}",
        "init_db": "Cơ sở dữ liệu đã sẵn sàng (phiên bản {revision}).",
        "seeded": "Đã tạo lại {count} không gian làm việc mẫu: {ids}",
        "jobs": "Đã chạy: {trials_expired} bản dùng thử hết hạn, {renewed} kỳ được gia hạn, "
        "{retention_executed} lần xóa dữ liệu.",
        "jobs_payments": "Thanh toán: {orders_closed} đơn được chốt, {orders_unresolved} đơn chưa rõ kết quả, "
        "{renewal_orders} đơn gia hạn mới.",
        "error": "Lỗi",
        "db_not_ready": "Cơ sở dữ liệu chưa sẵn sàng ({detail}). Hãy chạy: python -m billing_core init-db",
        "db_bad_url": "BILLING_DATABASE_URL không phải địa chỉ cơ sở dữ liệu hợp lệ ({detail}).",
        "db_unreachable": "Không kết nối được cơ sở dữ liệu ở BILLING_DATABASE_URL ({detail}).",
        "bad_lang": "--lang chỉ nhận vi hoặc en (nhận được: {value})",
        "bad_config": "Chưa chạy công việc nào: cấu hình VNPAY không dùng được ({value})",
        "now_assumed": "Lưu ý: --now {value} không có múi giờ, được hiểu là giờ Việt Nam ({moment}).",
        "bad_addon": "--addon phải có dạng LOẠI=SỐ_LƯỢNG, ví dụ storage=50 (nhận được: {value})",
        "bad_now": "--now phải là thời điểm ISO 8601, ví dụ 2026-11-26T09:00:00+07:00 (nhận được: {value})",
        "usage": "Cách dùng sai: {detail}",
    },
    "en": {
        "allowed": "ALLOWED",
        "blocked": "NOT ALLOWED",
        "reasons": "Reasons",
        "fixes": "Do this first",
        "total": "Total",
        "quote_none": "No quote: this change is not allowed yet.",
        "retention_none": "Nothing is scheduled for deletion.",
        "retention": "Data to be deleted",
        "plans": "Plans",
        "seats": "users",
        "trial_left": "{days} trial days left",
        "ends": "ends {date}",
        "renews": "renews {date}",
        "next_plan": "Next renewal plan",
        "capacity": "Extended capacity",
        "pending": "Orders awaiting payment",
        "refunds": "Refunds due",
        "limit": "limit",
        "expires": "expires at {at}",
        "init_db": "The database is ready (revision {revision}).",
        "seeded": "Recreated {count} demo workspaces: {ids}",
        "jobs": "Ran: {trials_expired} trials expired, {renewed} periods renewed, "
        "{retention_executed} deletions carried out.",
        "jobs_payments": "Payments: {orders_closed} orders closed, {orders_unresolved} orders still unresolved, "
        "{renewal_orders} renewal orders opened.",
        "error": "Error",
        "db_not_ready": "The database is not ready ({detail}). Run: python -m billing_core init-db",
        "db_bad_url": "BILLING_DATABASE_URL is not a valid database URL ({detail}).",
        "db_unreachable": "Cannot connect to the database at BILLING_DATABASE_URL ({detail}).",
        "bad_lang": "--lang accepts vi or en only (got: {value})",
        "bad_config": "No job was run: the VNPAY settings are not usable ({value})",
        "now_assumed": "Note: --now {value} has no time zone and is read as Vietnam time ({moment}).",
        "bad_addon": "--addon must look like KIND=AMOUNT, e.g. storage=50 (got: {value})",
        "bad_now": "--now must be an ISO 8601 moment, e.g. 2026-11-26T09:00:00+07:00 (got: {value})",
        "usage": "Wrong usage: {detail}",
    },
}


LANGS = ("vi", "en")


class UsageError(Exception):
    """A command line that cannot be understood (exit 2). ``key``/``value`` name a text of TEXT;
    without a key the message is argparse's (English, translated by ``_usage_text``)."""

    def __init__(self, message: str, key: Optional[str] = None, value: Any = None):
        super().__init__(message)
        self.key, self.value = key, value

    def text(self, lang: str) -> str:
        if self.key is not None:
            return TEXT[lang][self.key].format(value=self.value)
        return _usage_text(str(self), lang)


class _Parser(argparse.ArgumentParser):
    # argparse would print its usage and an English message; we want one line in the user's language.
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _help(text: str) -> str:
    return text.replace("%", "%%")  # argparse formats help with %


def _names(keys_and_names: Iterable[Tuple[str, Tuple[str, ...]]]) -> str:
    return ", ".join(f"{key} ({' / '.join(dict.fromkeys(names))})" if names else key for key, names in keys_and_names)


def _common(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: options may come before or after the command (a sub-parser default would
    # otherwise overwrite what the main parser read).
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help='print one JSON object (errors too, as {"error": {...}})',
    )
    parser.add_argument(
        "--lang", default=argparse.SUPPRESS, metavar="{vi,en}", help="language of the human output: vi (default) or en"
    )
    parser.add_argument(
        "--now",
        default=argparse.SUPPRESS,
        metavar="ISO8601",
        help=_help(
            "pretend it is this moment, e.g. 2026-11-26T09:00:00+07:00; without a zone it is Vietnam time (+07:00)"
        ),
    )


def _change_options(parser: argparse.ArgumentParser, catalog: Optional[Catalog]) -> None:
    # Values are checked by the domain (typed, translated errors), not by argparse choices, so
    # that names in either language are accepted and a refusal lists what is accepted.
    if catalog is not None:
        products = _names((k, (p.name.vi, p.name.en)) for k, p in catalog.products.items())
        tiers = _names((k, ()) for k in catalog.tiers)
        cycles = _names((k, tuple(messages.LABELS["cycle"].get(k, {}).values())) for k in catalog.cycles)
        kinds = _names((k, (c.name.vi, c.name.en)) for k, c in catalog.capacity.items())
        units = ", ".join(f"{k} in {c.unit.en}, packs of {c.pack_size}" for k, c in catalog.capacity.items())
        seats = f"1 to {catalog.max_seats}; a paid plan needs at least {catalog.min_paid_seats}"
    else:  # a broken catalog: the command will say so; the help still lists the options
        products = tiers = cycles = kinds = units = seats = "see billing_core/catalog.yaml"
    parser.add_argument("workspace", help="workspace id, e.g. demo-monthly")
    parser.add_argument("--product", required=True, help=_help(f"product, its key or name: {products}"))
    parser.add_argument("--tier", required=True, help=_help(f"tier: {tiers} (each product offers its own)"))
    parser.add_argument("--cycle", help=_help(f"billing cycle: {cycles}; default: the current one"))
    parser.add_argument(
        "--seats", metavar="N", help=_help(f"number of users, digits only: {seats}; default: the current number")
    )
    parser.add_argument(
        "--addon",
        action="append",
        default=[],
        metavar="KIND=AMOUNT",
        help=_help(
            f"extended capacity bought with the change (repeatable, amounts add up); "
            f"KIND: {kinds}; AMOUNT in digits ({units}; rounded up to whole packs)"
        ),
    )


COMMANDS = ("init-db", "seed-demo", "show", "check", "quote", "retention", "run-jobs")


def build_parser(catalog: Optional[Catalog] = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m billing_core",
        description="Cleeksy billing core. The database is BILLING_DATABASE_URL (default: SQLite under var/).",
    )
    _common(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    for name, help_text in (
        ("init-db", "create or upgrade the schema (Alembic upgrade head)"),
        ("seed-demo", "recreate the demo workspaces"),
        (
            "run-jobs",
            "run every periodic job once: reconcile pending payments, expire trials, "
            "renew, run due retention, open auto-renewal orders",
        ),
    ):
        _common(commands.add_parser(name, help=help_text, description=help_text))
    for name, help_text in (
        ("show", "a workspace's plans, capacity, orders and retention"),
        ("retention", "what will be deleted, how much, when"),
    ):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("workspace", help="workspace id, e.g. demo-monthly")
        _common(sub)
    for name, help_text in (
        ("check", "may the workspace make this change, when does it apply, and if not, why?"),
        ("quote", "the decision and the price of a change"),
    ):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _change_options(sub, catalog)
        _common(sub)
    return parser


# --- argument conversion ------------------------------------------------------------------
def _lang_from(argv: Sequence[str]) -> Tuple[str, Optional[str]]:
    """The language, found before parsing so that even a parse error speaks it; and the value
    given when it is not a language we speak (refused, in Vietnamese)."""
    for index, arg in enumerate(argv):
        value = None
        if arg == "--lang" and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith("--lang="):
            value = arg.split("=", 1)[1]
        if value is not None:
            lang = value.strip().lower()
            return (lang, None) if lang in LANGS else ("vi", value)
    return "vi", None


_DIGITS = re.compile(r"[0-9]+")


def _parse_int(value: Optional[str]) -> Any:
    """An int when the text is plain ASCII digits; otherwise the text, for the domain to refuse
    with its message (``int()`` would take "5_000", "٣" or " 7 ")."""
    if value is None:
        return None
    text = value.strip()
    return int(text) if _DIGITS.fullmatch(text) else value


def _parse_addons(values: List[str]) -> Dict[str, Any]:
    addons: Dict[str, Any] = {}
    for value in values:
        kind, sep, amount = value.partition("=")
        kind = kind.strip()
        if not sep or not kind or not amount.strip():
            raise UsageError(value, "bad_addon", value)
        amount_value, previous = _parse_int(amount), addons.get(kind)
        both_numbers = isinstance(previous, int) and isinstance(amount_value, int)
        addons[kind] = previous + amount_value if both_numbers else amount_value  # repeated kinds add up
    return addons


def _parse_now(value: Optional[str]) -> Tuple[Optional[datetime], bool]:
    """The moment, and whether it had no zone (then it is Vietnam time, and the output says so)."""
    if value is None:
        return None, False
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(value, "bad_now", value) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=VIETNAM), True
    return moment, False


def _request(args: argparse.Namespace) -> ChangeRequest:
    return ChangeRequest(
        product=args.product.strip(),
        tier=args.tier.strip(),
        cycle=args.cycle.strip() if args.cycle else None,
        seats=_parse_int(args.seats),
        addons=_parse_addons(getattr(args, "addon", []) or []),
    )


# --- rendering ------------------------------------------------------------------------------
def _decision_lines(decision: Decision, lang: str, catalog: Catalog) -> List[str]:
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


def _quote_json(quote: Quote, catalog: Catalog, lang: str) -> Dict[str, Any]:
    data = quote.to_dict()
    data["lines"] = [
        {**views.message_json(line.code, line.params, catalog, lang), **line.to_dict()} for line in quote.lines
    ]
    data["notes"] = [views.message_json(note.code, note.params, catalog, lang) for note in quote.notes]
    return data


def _quote_lines(quote: Quote, lang: str, catalog: Catalog) -> List[str]:
    lines = []
    for line in quote.lines:
        lines.append(
            f"  {messages.render(line.code, line.params, lang, catalog)}: {messages.format_vnd(line.amount_vnd, lang)}"
        )
    lines.append(f"{TEXT[lang]['total']}: {messages.format_vnd(quote.total_vnd, lang)}")
    lines += [f"  * {messages.render(note.code, note.params, lang, catalog)}" for note in quote.notes]
    return lines


def _retention_item_text(item: Union[retention.RetentionItem, Dict[str, Any]], lang: str, catalog: Catalog) -> str:
    """A RetentionItem, or its dict form from the workspace summary, in words."""
    data = item if isinstance(item, dict) else item.to_dict()
    due_date = data["due_at"]  # the full instant: messages shows its date in Vietnam
    if data["kind"] == "capacity":
        return messages.render(
            "RETENTION_CAPACITY",
            {"kind": data["target"], "amount": data["amount"], "due_date": due_date},
            lang,
            catalog,
        )
    return messages.render("RETENTION_FEATURE_DATA", {"feature": data["target"], "due_date": due_date}, lang, catalog)


def _retention_json(items: List[retention.RetentionItem], catalog: Catalog) -> List[Dict[str, Any]]:
    return [
        {
            **item.to_dict(),
            "message_vi": _retention_item_text(item, "vi", catalog),
            "message_en": _retention_item_text(item, "en", catalog),
        }
        for item in items
    ]


def _summary_lines(summary: Dict[str, Any], lang: str, catalog: Catalog) -> List[str]:
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
            lines.append(
                f"    {text['next_plan']}: {catalog.tier_name(plan['tier'], lang)}, "
                f"{messages.label('cycle', plan['cycle'] or 'none', lang)}, {plan['seats']} {text['seats']}"
                f" ({messages.format_date(plan['effective_at'], lang)})"
            )
    if summary["capacity"]:
        lines.append(f"{text['capacity']}:")
        for item in summary["capacity"]:
            kind = catalog.capacity[item["kind"]]
            lines.append(
                f"  - {kind.name.get(lang)}: +{messages.format_number(item['extra_total'], lang)} "
                f"{kind.unit.get(lang)} ({text['limit']} {messages.format_number(item['limit'], lang)} "
                f"{kind.unit.get(lang)})"
            )
    if summary["pending_orders"]:
        lines.append(f"{text['pending']}:")
        for order in summary["pending_orders"]:
            lines.append(
                f"  - {order['txn_ref']}: {catalog.product_name(order['product'], lang)} "
                f"{catalog.tier_name(order['tier'], lang)}, "
                f"{messages.format_vnd(order['amount_vnd'], lang)}, "
                + text["expires"].format(at=messages.format_datetime(order["expires_at"], lang))
            )
    if summary.get("refunds_due"):
        lines.append(f"{text['refunds']}:")
        for refund in summary["refunds_due"]:
            lines.append(f"  - {messages.render('REFUND_DUE', refund, lang, catalog)}")
    if summary["retention"]:
        lines.append(f"{text['retention']}:")
        lines += [f"  - {_retention_item_text(item, lang, catalog)}" for item in summary["retention"]]
    return lines


# --- commands -------------------------------------------------------------------------------
def run(args: argparse.Namespace, lang: str, out: TextIO) -> int:
    now, assumed_zone = _parse_now(getattr(args, "now", None))
    text = TEXT[lang]
    note = (
        text["now_assumed"].format(value=args.now, moment=now.isoformat()) if assumed_zone and now is not None else None
    )

    def emit(data: Dict[str, Any], lines: List[str]) -> None:
        if getattr(args, "json", False):
            out.write(json.dumps({**data, "now_note": note} if note else data, ensure_ascii=False, indent=2) + "\n")
        else:
            out.write("\n".join(([note] if note else []) + lines) + "\n")

    if args.command == "init-db":
        upgrade_head()
        revision = current_revision()
        emit({"ok": True, "revision": revision}, [text["init_db"].format(revision=revision)])
        return EXIT_OK

    if args.command == "seed-demo":
        ids = seed_demo(SqlAlchemyUnitOfWork(), now)
        emit({"seeded": ids}, [text["seeded"].format(count=len(ids), ids=", ".join(ids))])
        return EXIT_OK

    catalog = load_catalog()
    if args.command == "run-jobs":
        try:
            config = vnpay.VnpayConfig.from_env()
        except vnpay.ConfigError as problem:
            raise UsageError(str(problem), "bad_config", str(problem)) from None
        counts = jobs.run_jobs(SqlAlchemyUnitOfWork(), config, now, catalog)
        emit(counts, [text["jobs"].format(**counts), text["jobs_payments"].format(**counts)])
        return EXIT_OK

    if args.command == "show":
        summary = services.workspace_summary(SqlAlchemyUnitOfWork(), args.workspace, now, catalog)
        emit(summary, _summary_lines(summary, lang, catalog))
        return EXIT_OK

    if args.command == "retention":
        items = services.retention_preview(SqlAlchemyUnitOfWork(), args.workspace, now, catalog)
        lines = (
            [f"{text['retention']}:"] + [f"  - {_retention_item_text(i, lang, catalog)}" for i in items]
            if items
            else [text["retention_none"]]
        )
        emit({"workspace_id": args.workspace, "items": _retention_json(items, catalog)}, lines)
        return EXIT_OK

    request = _request(args)
    if args.command == "check":
        decision = services.check_change(SqlAlchemyUnitOfWork(), args.workspace, request, now, catalog)
        emit(views.decision_json(decision, catalog, lang, args.workspace), _decision_lines(decision, lang, catalog))
        return EXIT_OK

    decision, quote = services.quote_change(SqlAlchemyUnitOfWork(), args.workspace, request, now, catalog)
    data = views.decision_json(decision, catalog, lang, args.workspace)
    data["quote"] = _quote_json(quote, catalog, lang) if quote is not None else None
    lines = _decision_lines(decision, lang, catalog)
    lines += _quote_lines(quote, lang, catalog) if quote is not None else [text["quote_none"]]
    emit(data, lines)
    return EXIT_OK


# argparse speaks English; these are the messages a user can provoke, in Vietnamese.
_ARGPARSE_VI = (
    (re.compile(r"the following arguments are required: (.*)"), "thiếu tham số bắt buộc: {0}"),
    (
        re.compile(r"argument COMMAND: invalid choice: '([^']*)'.*"),
        "không có lệnh '{0}' (các lệnh: " + ", ".join(COMMANDS) + ")",
    ),
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


def _database_problem(problem: BaseException) -> Tuple[str, str]:
    """(error code, TEXT key) for a failure to reach or use the database."""
    if isinstance(problem, (ArgumentError, NoSuchModuleError)):
        return "DATABASE_URL_INVALID", "db_bad_url"
    detail = str(getattr(problem, "orig", None) or problem).lower()
    missing_table = "no such table" in detail or ("relation" in detail and "does not exist" in detail)
    if isinstance(problem, OperationalError) and not missing_table:
        return "DATABASE_UNREACHABLE", "db_unreachable"
    return "DATABASE_NOT_READY", "db_not_ready"


def _first_line(problem: BaseException) -> str:
    return (str(getattr(problem, "orig", None) or problem).splitlines() or [type(problem).__name__])[0][:200]


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out, err = out or sys.stdout, err or sys.stderr
    lang, bad_lang = _lang_from(argv)
    json_mode = "--json" in argv
    try:
        catalog: Optional[Catalog] = load_catalog()
    except errors.CatalogError:
        catalog = None  # the command says so (exit 1) when it needs the catalog; --help still works

    def fail(code: str, texts: Dict[str, str], params: Dict[str, Any], exit_code: int) -> int:
        if json_mode:  # programs get the error as JSON too (stderr keeps the one line)
            error = {
                "code": code,
                "params": params,
                "text": texts[lang],
                "message_vi": texts["vi"],
                "message_en": texts["en"],
            }
            out.write(json.dumps({"error": error}, ensure_ascii=False) + "\n")
        err.write(f"{TEXT[lang]['error']}: {texts[lang]}\n")
        return exit_code

    try:
        if bad_lang is not None:
            raise UsageError(bad_lang, "bad_lang", bad_lang)
        args = build_parser(catalog).parse_args(argv)
        return run(args, lang, out)
    except UsageError as problem:
        return fail(
            "USAGE_ERROR", {code: problem.text(code) for code in LANGS}, {"detail": str(problem)}, EXIT_BAD_INPUT
        )
    except errors.CatalogError as problem:
        return fail(problem.code, {code: str(problem) for code in LANGS}, problem.params, EXIT_FAILURE)
    except errors.BillingError as problem:
        shown = views.error_json(problem, catalog, lang)
        return fail(
            problem.code, {"vi": shown["message_vi"], "en": shown["message_en"]}, shown["params"], EXIT_BAD_INPUT
        )
    except SQLAlchemyError as problem:  # the database: one line, no traceback
        code, key = _database_problem(problem)
        detail = _first_line(problem)
        return fail(code, {c: TEXT[c][key].format(detail=detail) for c in LANGS}, {"detail": detail}, EXIT_FAILURE)
