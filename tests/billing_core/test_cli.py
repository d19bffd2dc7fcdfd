"""``python -m billing_core``: readable answers, JSON for programs, exit 2 and one translated line
for bad input. A few cases run as real subprocesses; the rest call ``cli.main`` in process."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork, create_schema, dispose_engine, get_engine
from billing_core.entrypoints import cli
from billing_core.migrations import head_revision
from billing_core.service_layer.demo import seed_demo
from tests.billing_core.factories import NOW
from tests.billing_core.test_services import snapshot

ROOT = Path(__file__).resolve().parents[2]
NOW_ARG = ["--now", NOW.isoformat()]


def run_cli(*args, url: str, cwd: Path):
    env = dict(os.environ, BILLING_DATABASE_URL=url, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "billing_core", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory):
    """The demo database, seeded once per module (tests get a copy of the file)."""
    path = tmp_path_factory.mktemp("cli") / "template.db"
    url = f"sqlite:///{path}"
    create_schema(url)
    seed_demo(SqlAlchemyUnitOfWork(url), NOW)
    dispose_engine(url)  # closes the connections: the WAL is checkpointed into the file
    return path


@pytest.fixture
def db(seeded_file, tmp_path, monkeypatch):
    """A seeded demo database of its own, named by BILLING_DATABASE_URL as the CLI reads it."""
    path = tmp_path / "billing.db"
    shutil.copyfile(seeded_file, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("BILLING_DATABASE_URL", url)
    yield url
    dispose_engine(url)


def call(*args):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# --- as a subprocess, from another directory --------------------------------------------------
def test_init_seed_and_check_as_a_program(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'billing.db'}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_cli("init-db", url=url, cwd=elsewhere)  # (idempotence: test_persistence)
    assert done.returncode == 0, done.stderr
    assert head_revision() in done.stdout  # the newest migration, whichever it is
    assert {"workspaces", "orders", "audit_log", "alembic_version"} <= set(inspect(get_engine(url)).get_table_names())
    dispose_engine(url)
    done = run_cli("seed-demo", "--json", url=url, cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["seeded"]) == 8
    done = run_cli(
        "check",
        "demo-monthly",
        "--product",
        "app_builder",
        "--tier",
        "standard",
        "--cycle",
        "yearly",
        "--json",
        url=url,
        cwd=elsewhere,
    )
    assert done.returncode == 0, done.stderr  # a blocked change is an answer
    answer = json.loads(done.stdout)
    assert (answer["allowed"], answer["effective"]) == (False, None)
    assert answer["reasons"][0]["code"] == "ADDON_CYCLE_LONGER_THAN_BASE"


def test_bad_input_as_a_program_is_one_line_without_traceback(tmp_path, db):
    for lang, prefix in (("vi", "Lỗi: "), ("en", "Error: ")):
        done = run_cli(
            "check",
            "demo-monthly",
            "--product",
            "digital_workspace",
            "--tier",
            "gold",
            "--lang",
            lang,
            url=db,
            cwd=tmp_path,
        )
        assert done.returncode == 2
        assert done.stdout == ""
        assert done.stderr.startswith(prefix) and done.stderr.count("\n") == 1
        assert "Traceback" not in done.stderr and "gold" in done.stderr


# --- in process ---------------------------------------------------------------------------------
def test_check_json_has_the_documented_fields(db):
    code, out, err = call(
        "check", "demo-monthly", "--product", "digital_workspace", "--tier", "standard", "--json", *NOW_ARG
    )
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert answer["allowed"] is True and answer["effective"] == "immediate"
    assert answer["effective_at"].startswith("2026-11-26")
    for item in answer["reasons"] + answer["fixes"]:
        assert {"code", "message_vi", "message_en"} <= set(item)
    assert answer["reasons"][0]["code"] == "UPGRADE_IMMEDIATE"
    code, out, _ = call(
        "check", "demo-yearly", "--product", "digital_workspace", "--tier", "starter", "--json", *NOW_ARG
    )
    answer = json.loads(out)
    assert (answer["allowed"], answer["effective"]) == (True, "next_cycle")


def test_blocked_check_in_words_vi_and_en(db):
    args = ["check", "demo-trial", "--product", "digital_workspace", "--tier", "free", *NOW_ARG]
    code, out, _ = call(*args)
    assert code == 0
    assert out.startswith("[CHƯA ĐƯỢC]") and "Cần làm trước:" in out and "  1. " in out
    code, out, _ = call(*args, "--lang", "en")
    assert code == 0 and out.startswith("[NOT ALLOWED]") and "Do this first:" in out
    code, out, _ = call(*args, "--json")
    assert [r["code"] for r in json.loads(out)["reasons"]][0] == "TRIAL_NOT_OVER"
    assert json.loads(out)["fixes"]


def test_quote_with_addons(db):
    code, out, _ = call(
        "quote",
        "demo-monthly",
        "--product",
        "digital_workspace",
        "--tier",
        "standard",
        "--addon",
        "storage=15",
        "--addon",
        "storage=10",
        "--addon",
        "docs=100",
        "--json",
        *NOW_ARG,
    )
    assert code == 0
    answer = json.loads(out)
    assert answer["quote"]["target"]["addons"] == {"storage": 30, "docs": 100}  # 25 GB -> 3 packs of 10
    assert answer["quote"]["total_vnd"] == sum(line["amount_vnd"] for line in answer["quote"]["lines"])
    assert all(line["message_vi"] and line["message_en"] for line in answer["quote"]["lines"])
    code, out, _ = call("quote", "demo-monthly", "--product", "digital_workspace", "--tier", "standard", *NOW_ARG)
    assert code == 0 and "Tổng cộng:" in out and "₫" in out
    code, out, _ = call(
        "quote",
        "demo-monthly",
        "--product",
        "app_builder",
        "--tier",
        "standard",
        "--cycle",
        "yearly",
        "--json",
        *NOW_ARG,
    )
    assert code == 0 and json.loads(out)["quote"] is None


def test_show_and_retention(db):
    code, out, _ = call("show", "demo-trial", *NOW_ARG)
    assert code == 0 and "Dùng thử" in out and "còn 18 ngày dùng thử" in out
    code, out, _ = call("show", "demo-downgrade-scheduled", "--lang", "en", *NOW_ARG)
    assert code == 0 and "Next renewal plan: Standard" in out
    assert "Data to be deleted:" in out and "OKR" in out
    code, out, _ = call("show", "demo-pending-payment", "--json", *NOW_ARG)
    assert json.loads(out)["pending_orders"][0]["tier"] == "standard"
    code, out, _ = call("retention", "demo-downgrade-scheduled", "--json", *NOW_ARG)
    items = json.loads(out)["items"]
    assert {i["target"] for i in items} == {"okr", "audit_log"} and all(i["message_vi"] for i in items)
    code, out, _ = call("retention", "demo-free", *NOW_ARG)
    assert code == 0 and out.strip() == "Không có dữ liệu nào sắp bị xóa."


def test_run_jobs_twice(db, monkeypatch):
    # One run-jobs runs every job, the payment jobs too: querydr goes to a closed port here.
    monkeypatch.setenv("VNPAY_API_URL", "http://127.0.0.1:9/merchant_webapi/api/transaction")
    code, out, _ = call("run-jobs", "--json", "--now", "2027-12-31T00:00:00+07:00")
    counts = json.loads(out)
    assert code == 0 and counts["trials_expired"] == 2 and counts["renewed"] > 0
    assert counts["orders_unresolved"] == 1  # the demo's pending order: VNPAY could not be asked
    code, out, _ = call("run-jobs", "--json", "--now", "2027-12-31T00:00:00+07:00")
    assert json.loads(out) == {
        "trials_expired": 0,
        "renewed": 0,
        "retention_executed": 0,
        "orders_closed": 0,
        "orders_unresolved": 1,
        "renewal_orders": 0,
    }
    code, out, _ = call("run-jobs", "--now", "2027-12-31T00:00:00+07:00")
    assert out.startswith("Đã chạy: 0 bản dùng thử hết hạn") and "Thanh toán: 0 đơn được chốt" in out


CHANGE = ["demo-monthly", "--product", "digital_workspace", "--tier", "standard"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["show", "nope"], "nope"),
        (["check", "demo-monthly", "--product", "dw", "--tier", "standard"], "dw"),
        (["check", *CHANGE, "--cycle", "weekly"], "weekly"),
        (["check", *CHANGE, "--seats", "0"], "0"),
        (["check", *CHANGE, "--seats", "-4"], "-4"),
        (["check", *CHANGE, "--seats", "many"], "many"),
        (["check", *CHANGE, "--seats", "1000000000"], "1000000000"),
        (["quote", *CHANGE, "--addon", "storage"], "storage"),
        (["quote", *CHANGE, "--addon", "disk=10"], "disk"),
        (["quote", *CHANGE, "--addon", "storage=-10"], "-10"),
        (["quote", *CHANGE, "--addon", "storage=99999999999"], "99999999999"),
        (["check", "demo-monthly", "--tier", "standard"], "--product"),
        (["frobnicate"], "frobnicate"),
        ([], "COMMAND"),
        (["check", *CHANGE, "--now", "soon"], "soon"),
    ],
)
@pytest.mark.parametrize("lang, prefix", [("vi", "Lỗi: "), ("en", "Error: ")])
def test_bad_input_exits_2_with_one_translated_line_and_writes_nothing(db, args, needle, lang, prefix):
    before = snapshot(db)
    code, out, err = call(*args, "--lang", lang)
    assert code == 2
    assert out == ""
    assert err.startswith(prefix) and err.count("\n") == 1 and needle in err
    assert snapshot(db) == before


def test_options_may_come_before_the_command(db):
    code, out, _ = call("--json", "--lang", "en", *NOW_ARG, "show", "demo-free")
    assert code == 0 and json.loads(out)["workspace_id"] == "demo-free"
    code, out, _ = call("--lang", "en", "show", "demo-free", *NOW_ARG)
    assert code == 0 and "Free edition" in out


def test_with_json_a_typed_error_is_printed_too(db):
    code, out, err = call("check", *CHANGE, "--seats", "0", "--json")
    assert code == 2 and err.startswith("Lỗi: ")
    error = json.loads(out)["error"]
    assert error["code"] == "INVALID_SEATS" and error["message_vi"] and error["message_en"]


def test_vietnamese_is_the_default_and_has_diacritics(db):
    code, _, err = call("show", "nope")
    assert code == 2 and err.startswith("Lỗi: ") and "không gian làm việc" in err.lower()


def test_a_database_without_tables_says_to_run_init_db(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLING_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    code, out, err = call("show", "demo-free", "--lang", "en")
    assert code == 1 and out == ""
    assert "init-db" in err and err.count("\n") == 1
