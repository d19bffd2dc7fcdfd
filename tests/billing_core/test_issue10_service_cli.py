"""Issue 10 I, J, K (service layer and command line) and issue 11's import cycle, each named for
its item."""

from __future__ import annotations

import ast
import io
import json
import re
from pathlib import Path

import pytest

from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork, dispose_engine
from billing_core.domain import errors, messages
from billing_core.domain.catalog import load_catalog
from billing_core.domain.rules import ChangeRequest
from billing_core.entrypoints import cli
from billing_core.service_layer import services
from tests.billing_core import test_cli
from tests.billing_core.factories import NOW
from tests.billing_core.test_cli import CHANGE, NOW_ARG, call

seeded_file, db = test_cli.seeded_file, test_cli.db  # the demo-database fixtures of the CLI tests

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()


# --- I -------------------------------------------------------------------------------------------
def test_I_cancel_scheduled_change_with_an_unknown_product_lists_the_real_products(db):
    with pytest.raises(errors.UnknownProductError) as raised:
        services.cancel_scheduled_change(SqlAlchemyUnitOfWork(db), "demo-downgrade-scheduled", "nope", NOW)
    assert raised.value.params["products"] == list(CATALOG.products)
    for lang in ("vi", "en"):
        text = messages.render_error(raised.value, lang, CATALOG)
        assert all(p.name.get(lang) in text for p in CATALOG.products.values()), text
        assert ": ." not in text and messages.MISSING not in text


# --- J -------------------------------------------------------------------------------------------
def _listed(text: str):
    """The values an error hint offers ("Bạn có thể chọn: A, B và C." / "Choose one of: A, B and C.")."""
    tail = re.split(r"chọn: |one of: ", text)[1].rstrip(".")
    return [v.strip() for v in re.split(r", | và | and ", tail) if v.strip()]


@pytest.mark.parametrize(
    "option, value, code",
    [
        ("--product", "nope", "UNKNOWN_PRODUCT"),
        ("--tier", "gold", "UNKNOWN_TIER"),
        ("--cycle", "weekly", "UNKNOWN_CYCLE"),
        ("--addon", "disk=10", "UNKNOWN_CAPACITY_KIND"),
    ],
)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_J_error_hints_list_only_values_the_cli_accepts(db, option, value, code, lang):
    args = [
        "check",
        "demo-monthly",
        "--product",
        "digital_workspace",
        "--tier",
        "premium",
        "--cycle",
        "monthly",
        *NOW_ARG,
    ]
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    status, out, _ = call(*args, "--json", "--lang", lang)
    error = json.loads(out)["error"]
    assert status == 2 and error["code"] == code
    offered = _listed(error["text"])
    assert len(offered) >= 2
    for choice in offered:  # every value the hint offers is accepted by the CLI
        retry = list(args)
        if option == "--addon":
            retry[retry.index(option) + 1] = f"{choice}=10"
        else:
            retry[retry.index(option) + 1] = choice
        status, out, err = call(*retry, "--json")
        assert status == 0, (choice, err)


@pytest.mark.parametrize(
    "product, tier, cycle, addon",
    [
        ("Không gian làm việc số", "Premium", "hàng năm", "Dung lượng lưu trữ dữ liệu"),
        ("khong gian lam viec so", "premium", "hang nam", "dung luong luu tru du lieu"),  # no diacritics
        ("Digital Workspace", "PREMIUM", "Yearly", "Data storage"),
        ("digital-workspace", " premium ", "yearly", "storage"),
    ],
)
def test_J_vietnamese_and_english_catalog_names_are_aliases_of_keys(db, product, tier, cycle, addon):
    by_key = services.check_change(
        SqlAlchemyUnitOfWork(db),
        "demo-monthly",
        ChangeRequest("digital_workspace", "premium", "yearly", None, {"storage": 10}),
        NOW,
    )
    by_name = services.check_change(
        SqlAlchemyUnitOfWork(db), "demo-monthly", ChangeRequest(product, tier, cycle, None, {addon: 10}), NOW
    )
    assert by_name.to_dict() == by_key.to_dict()
    status, out, err = call(
        "quote",
        "demo-monthly",
        "--product",
        product,
        "--tier",
        tier,
        "--cycle",
        cycle,
        "--addon",
        f"{addon}=10",
        "--json",
        *NOW_ARG,
    )
    assert status == 0, err
    assert json.loads(out)["quote"]["target"]["addons"] == {"storage": 10}


# --- K -------------------------------------------------------------------------------------------
def test_K_help_lists_every_option_and_its_valid_values(capsys):
    for command in ("check", "quote"):
        with pytest.raises(SystemExit) as done:
            cli.main([command, "--help"])
        assert done.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        for option in ("--product", "--tier", "--cycle", "--seats", "--addon", "--json", "--lang", "--now"):
            assert option in text, option
        for key in [*CATALOG.products, *CATALOG.tiers, *CATALOG.cycles, *CATALOG.capacity]:
            assert key in text, key
        assert "vi" in text and "en" in text and "+07:00" in text
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert all(command in text for command in cli.COMMANDS)


@pytest.mark.parametrize(
    "args, code",
    [
        (["frobnicate"], "USAGE_ERROR"),
        ([], "USAGE_ERROR"),
        (["check", "demo-monthly", "--tier", "standard"], "USAGE_ERROR"),
        (["quote", *CHANGE, "--addon", "storage"], "USAGE_ERROR"),
        (["show", "demo-free", "--now", "soon"], "USAGE_ERROR"),
        (["show", "demo-free", "--lang", "fr"], "USAGE_ERROR"),
    ],
)
def test_K_json_usage_errors_are_json(db, args, code):
    status, out, err = call(*args, "--json")
    assert status == 2 and err.count("\n") == 1
    error = json.loads(out)["error"]
    assert error["code"] == code and error["message_vi"] and error["message_en"]


def test_K_json_on_an_empty_database_is_json(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLING_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    for args in (["show", "demo-free"], ["check", *CHANGE], ["run-jobs"]):
        status, out, err = call(*args, "--json")
        assert status == 1 and json.loads(out)["error"]["code"] == "DATABASE_NOT_READY", args
        assert "init-db" in err
    dispose_engine(f"sqlite:///{tmp_path / 'empty.db'}")


def test_K_check_takes_addon(db):
    status, out, err = call("check", *CHANGE, "--addon", "storage=15", "--addon", "docs=100", "--json", *NOW_ARG)
    assert status == 0, err
    assert json.loads(out)["target"]["addons"] == {"storage": 20, "docs": 100}


@pytest.mark.parametrize(
    "option, value",
    [
        ("--seats", "5_000"),
        ("--seats", "٣"),
        ("--seats", "+5"),
        ("--seats", "５"),
        ("--addon", "storage=1_0"),
        ("--addon", "storage=١٠"),
    ],
)
def test_K_integers_are_plain_ascii_digits(db, option, value):
    status, out, err = call("check", *CHANGE, option, value, "--json")
    assert status == 2
    assert json.loads(out)["error"]["code"] in ("INVALID_SEATS", "INVALID_CAPACITY_AMOUNT")
    assert value.split("=")[-1] in err


def test_K_now_without_a_zone_is_vietnam_time_and_the_output_says_so(db):
    _, naive, _ = call("show", "demo-trial", "--now", "2026-12-01T06:30:00")
    _, aware, _ = call("show", "demo-trial", "--now", "2026-12-01T06:30:00+07:00")
    first, rest = naive.split("\n", 1)
    assert "giờ Việt Nam" in first and "+07:00" in first
    assert rest == aware
    _, out, _ = call("show", "demo-trial", "--now", "2026-12-01T06:30:00", "--json", "--lang", "en")
    data = json.loads(out)
    assert data["as_of"] == "2026-11-30T23:30:00+00:00" and "Vietnam time" in data["now_note"]


def test_K_unknown_lang_is_refused(db):
    for value in ("fr", "english", ""):
        status, out, err = call("show", "demo-free", "--lang", value)
        assert status == 2 and out == "" and "--lang" in err and "vi" in err and "en" in err
    assert call("show", "demo-free", "--lang", "EN")[0] == 0


@pytest.mark.parametrize(
    "url, code",
    [
        ("nonsense", "DATABASE_URL_INVALID"),
        ("nosuchdialect://x/y", "DATABASE_URL_INVALID"),
        ("postgresql+psycopg2://nobody@127.0.0.1:9/none", "DATABASE_UNREACHABLE"),
    ],
)
def test_K_a_bad_database_url_is_told_so(monkeypatch, url, code):
    monkeypatch.setenv("BILLING_DATABASE_URL", url)
    status, out, err = call("show", "demo-free", "--json")
    assert status == 1 and json.loads(out)["error"]["code"] == code
    assert "init-db" not in err and "BILLING_DATABASE_URL" in err and err.count("\n") == 1


# --- issue 11: no import cycle in billing_core -------------------------------------------------------
def _imports():
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (ROOT / "billing_core").rglob("*.py")
    }
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):  # type-checking-only imports do not run
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []
        deps = set()
        for node in ast.walk(tree):  # module level AND inside functions: both run
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in modules and d not in (name, "billing_core")}
    return graph


def test_billing_core_has_no_import_cycle():
    graph, seen, stack, cycles = _imports(), set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node) :] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for dep in sorted(graph[node]):
            visit(dep)
        stack.pop()

    for module in sorted(graph):
        visit(module)
    assert cycles == []
    assert "billing_core.domain.messages" not in graph["billing_core.domain.errors"]
    assert "billing_core.domain.catalog" not in graph["billing_core.domain.messages"]


def test_one_cli_one_run_jobs():
    text = (ROOT / "billing_core" / "service_layer" / "payments.py").read_text(encoding="utf-8")
    assert "def main(" not in text and "__main__" not in text
    assert "run-jobs" in io.StringIO(" ".join(cli.COMMANDS)).read()


def test_J_aliases_fold_merge_and_never_guess():
    import dataclasses

    from billing_core.domain import aliases
    from billing_core.domain.model import Cycle

    merged = aliases.canonical_request(
        CATALOG,
        ChangeRequest(
            "Digital Workspace",
            "premium",
            Cycle.YEARLY,
            5,
            {"storage": 10, "Data storage": 20, "DUNG LƯỢNG LƯU TRỮ DỮ LIỆU": 5},
        ),
    )
    assert (merged.product, merged.cycle, merged.addons) == ("digital_workspace", "yearly", {"storage": 35})
    kept = aliases.canonical_request(
        CATALOG, ChangeRequest("dw", "gold", "weekly", 5, {"storage": 10, "disk": 1, "Data storage": "5_0"})
    )
    assert (kept.product, kept.tier, kept.cycle) == ("dw", "gold", "weekly")  # for the rules to refuse
    assert kept.addons == {"storage": "5_0", "disk": 1}  # the bad amount is kept, not added up
    # a name two products share is no alias: the key must be used
    dw = CATALOG.products["digital_workspace"]
    twin = dataclasses.replace(CATALOG.products["app_builder"], name=dw.name)
    shared = dataclasses.replace(CATALOG, products={**CATALOG.products, "app_builder": twin})
    assert aliases.canonical_key(shared, "product", dw.name.vi) == dw.name.vi
    assert aliases.canonical_key(shared, "product", "app builder") == "app_builder"  # the key still works


def test_jobs_lock_each_workspace_they_change_and_retry_a_lost_race(monkeypatch):
    """The row lock is what keeps two job runners apart on PostgreSQL (SQLite has the version
    column only): every workspace a job may change is loaded for update, and a lost race is run
    again on the new state."""
    from billing_core.adapters.unit_of_work import FakeRepository, FakeUnitOfWork
    from billing_core.service_layer import common
    from tests.billing_core import factories as f

    uow = FakeUnitOfWork()
    ws = f.workspace("ws-jobs")
    f.trial(ws, "digital_workspace")
    with uow:
        uow.workspaces.add(ws)
        uow.commit()
    loads, real_get = [], FakeRepository.get

    def get(self, workspace_id, for_update=False):
        loads.append((workspace_id, for_update))
        return real_get(self, workspace_id, for_update)

    monkeypatch.setattr(FakeRepository, "get", get)
    runs = []

    def job(workspace):
        runs.append(workspace.id)
        if len(runs) == 1:
            raise errors.ConcurrentUpdateError()  # another runner saved this workspace first
        return [{"workspace_id": workspace.id}]

    assert common.each_workspace(uow, job) == [{"workspace_id": "ws-jobs"}]
    assert runs == ["ws-jobs", "ws-jobs"] and loads == [("ws-jobs", True), ("ws-jobs", True)]
    runs.clear()

    def always_loses(workspace):
        runs.append(workspace.id)
        raise errors.ConcurrentUpdateError()

    with pytest.raises(errors.ConcurrentUpdateError):
        common.each_workspace(uow, always_loses)
    assert runs == ["ws-jobs"] * common.CHANGE_ATTEMPTS
    runs.clear()
    with pytest.raises(errors.ConcurrentUpdateError):
        common.each_workspace(uow, always_loses, attempts=1)
    assert runs == ["ws-jobs"]


def test_workspace_ids_are_checked_at_the_boundary():
    from billing_core.service_layer import common

    assert common.check_workspace_id("x" * common.MAX_WORKSPACE_ID_LENGTH) == "x" * 64
    for bad in ("x" * 65, "   ", "", None, 42):
        with pytest.raises(errors.WorkspaceNotFoundError):
            common.check_workspace_id(bad)


def test_one_json_shape_of_a_decision_and_an_error(db):
    from billing_core.service_layer import views

    decision = services.check_change(
        SqlAlchemyUnitOfWork(db), "demo-trial", ChangeRequest("digital_workspace", "free"), NOW
    )
    for lang in ("vi", "en"):
        view = views.decision_json(decision, CATALOG, lang, "demo-trial")
        assert json.loads(json.dumps(view)) == view  # JSON types only
        assert (view["workspace_id"], view["allowed"], view["outcome"], view["rule_id"]) == (
            "demo-trial",
            False,
            "BLOCKED",
            decision.rule_id,
        )
        assert view["target"]["product"] == "digital_workspace" and view["effective"] is None
        shown = messages.render_decision(decision, lang, CATALOG)
        assert view["summary"] == shown["summary"] == view[f"summary_{lang}"]
        assert [r["text"] for r in view["reasons"]] == [r["message"] for r in shown["reasons"]]
        assert [f["text"] for f in view["fixes"]] == shown["fixes"] and view["fixes"]
        for item in view["reasons"] + view["fixes"]:
            assert item["text"] == item[f"message_{lang}"] and item["message_vi"] != item["message_en"]
            assert "Không gian làm việc số" in item["message_vi"] or "{" not in item["message_vi"]
        assert "workspace_id" not in views.decision_json(decision, CATALOG, lang)
        error = views.error_json(errors.UnknownTierError({"tier": "gold", "tiers": ["free", "premium"]}), CATALOG, lang)
        assert error["code"] == "UNKNOWN_TIER" and error["params"] == {"tier": "gold", "tiers": ["free", "premium"]}
        assert error["text"] == error[f"message_{lang}"] and "Premium" in error["text"]
