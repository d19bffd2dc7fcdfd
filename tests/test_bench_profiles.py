"""The benchmarks measure what customers do: the embedded profile starts with settings the stack
accepts, and each simulated customer is a conversation of its own."""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from pathlib import Path

from aiohttp import web

from helpdesk.channel import bind
from helpdesk.identity import DEMO_SECRET, verify_token
from helpdesk.settings import HelpdeskSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_users  # noqa: E402
import profiles  # noqa: E402


def test_the_embedded_profile_has_settings_the_stack_accepts(tmp_path):
    env = profiles.embedded_env(f"sqlite:///{tmp_path / 'billing.db'}")
    settings = HelpdeskSettings.from_env(env)  # raises SettingsError on a profile that cannot start
    assert settings.is_demo


def test_each_simulated_customer_is_a_conversation_of_their_own():
    token = profiles.customer_tokens(DEMO_SECRET)
    first, second = token("demo-monthly", "user-1"), token("demo-monthly", "user-2")
    assert token("demo-monthly", "user-1") == first  # the same customer keeps their token
    assert verify_token(first, DEMO_SECRET).workspace_id == verify_token(second, DEMO_SECRET).workspace_id
    one, _ = bind({"token": first}, "session-1", DEMO_SECRET)
    two, _ = bind({"token": second}, "session-2", DEMO_SECRET)
    assert one != two


def _fake_assistant_ramp(tmp_path, monkeypatch, arrivals, start, step, hold=2.0, warmup=1.0, max_steps=2):
    """bench_users' ramp against a REST endpoint that answers in 2 ms, with a think time of 1 s."""
    monkeypatch.setattr(bench_users, "THINK", 1.0)

    async def answer(request):
        body = await request.json()
        await asyncio.sleep(0.002)
        return web.json_response([{"recipient_id": body["sender"], "text": "ok"}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", answer)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    running = profiles.Running("fake", f"http://127.0.0.1:{port}", lambda *_: "token", dict, lambda: None, tmp_path)
    args = argparse.Namespace(
        arrivals=arrivals, start=start, step=step, hold=hold, warmup=warmup, max_users=start + step, max_steps=max_steps
    )
    try:
        steps = bench_users.ramp(running, "fake", running.url, args, "t")
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
    return steps


def test_a_joined_ramp_adds_users_to_those_still_chatting(tmp_path, monkeypatch):
    """A step of the (default) joined ramp opens the conversations of the users it adds, not of all
    of them; every message it sent is counted, answered or not."""
    steps = _fake_assistant_ramp(tmp_path, monkeypatch, "join", start=40, step=20)
    assert [s.users for s in steps] == [40, 60]
    for step in steps:
        assert step.held and len(step.latencies) == len(step.sent_at) and step.pending == 0
        assert step.newcomers == 20, step.newcomers  # grown, not counted, to the first step less one


def test_a_fresh_step_opens_every_conversation_at_once(tmp_path, monkeypatch):
    """The crowd mode: every user of a step is new, and its second messages come while the last
    users still arrive, so its busiest seconds carry well over its users' steady rate (about 1.5x)."""
    [step] = _fake_assistant_ramp(tmp_path, monkeypatch, "fresh", start=250, step=250, warmup=0.0, max_steps=1)
    assert step.newcomers == step.users == 250 and len(step.latencies) == len(step.sent_at)
    assert step.peak_rate > 1.25 * step.users / 1.0, step.peak_rate
