// Real-browser scenarios for the help center, the chat widget and the agent console.
// Headless Chromium from Debian (/usr/bin/chromium) driven by playwright-core (npm, from
// frontend/node_modules). Run by tests/browser/test_browser.py:
//   WEB_URL=http://localhost:18000 SHOT_DIR=test-output/screenshots node tests/browser/scenarios.mjs <scenario>
// Each scenario exits 0 on success; a failed check throws (exit 1) after saving a screenshot.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "..", "frontend", "package.json"));
const { chromium } = require("playwright-core");

const WEB_URL = (process.env.WEB_URL || "http://localhost:8000").replace(/\/$/, "");
const SHOT_DIR = process.env.SHOT_DIR || join(here, "..", "..", "test-output", "screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const REPLY_TIMEOUT = 60000;
mkdirSync(SHOT_DIR, { recursive: true });

async function launch() {
  // playwright-core gives every launch a fresh temporary profile (user data dir)
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOT_DIR, `${name}.png`), fullPage: false });
}

// An anonymous visitor's token request is answered 401 by design; everything else is a problem.
const EXPECTED = [/status of 401/, /favicon/];

function watchForProblems(page, problems) {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("dialog", async (dialog) => { problems.push(`dialog opened: ${dialog.message()}`); await dialog.dismiss(); });
  page.on("console", (message) => {
    if (message.type() === "error" && !EXPECTED.some((re) => re.test(message.text()))) {
      problems.push(`console: ${message.text()}`);
    }
  });
}

async function loginCustomer(page, workspaceId) {
  await page.selectOption("#demo-workspace", workspaceId);
  await page.click("#demo-login-customer");
  await page.waitForFunction((id) => document.getElementById("demo-who").textContent.includes(id), workspaceId);
}

// Open the widget and start a new conversation (the user's conversation lives on the server,
// so a scenario run twice against the same stack would otherwise continue the last one).
async function openWidget(page) {
  if (await page.isVisible("#hdw-launcher")) await page.click("#hdw-launcher");
  await page.waitForSelector("#hdw-panel", { state: "visible" });
  await page.waitForSelector('#helpdesk-widget[data-session="ready"]', { timeout: 30000 });
  await page.click("#hdw-restart");
  await page.click("#hdw-confirm-yes"); // "Trò chuyện mới" asks before clearing
  await page.waitForSelector("#helpdesk-widget[data-restarted]");
  await page.waitForTimeout(500);
}

const botCount = (page) => page.locator("#hdw-log li.hdw-bot").count();

// Send a message and wait until the bot has answered with something matching `until`.
async function ask(page, text, until) {
  const before = await botCount(page);
  await page.evaluate(() => {
    window.__typingSeen = false;
    const typing = document.getElementById("hdw-typing");
    new MutationObserver(() => { if (!typing.hidden) window.__typingSeen = true; })
      .observe(typing, { attributes: true, attributeFilter: ["hidden"] });
  });
  await page.fill("#hdw-input", text);
  await page.press("#hdw-input", "Enter");
  return waitForBot(page, before, until);
}

async function waitForBot(page, before, until) {
  await page.waitForFunction(
    ([count, source, flags]) => {
      const bots = [...document.querySelectorAll("#hdw-log li.hdw-bot")].slice(count);
      return bots.some((li) => new RegExp(source, flags).test(li.textContent));
    },
    [before, until.source, until.flags],
    { timeout: REPLY_TIMEOUT },
  );
  await page.waitForTimeout(800); // let the rest of a multi-part answer arrive
  const texts = await page.locator("#hdw-log li.hdw-bot").allTextContents();
  return texts.slice(before).join("\n");
}

async function clickButton(page, title) {
  const before = await botCount(page);
  await page.locator("#hdw-log li.hdw-bot").last().locator("button.hdw-button", { hasText: title }).first().click();
  return before;
}

const scenarios = {
  // Open the page, log in as a demo customer, ask without diacritics why they cannot go Free.
  async customer_asks_why_not_free(browser) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = [];
    watchForProblems(page, problems);
    await page.goto(`${WEB_URL}/`);
    assert.match(await page.title(), /Chuyển đổi gói giải pháp/);
    assert.ok(await page.isVisible("text=Không thể hạ xuống bản Free"));
    await shot(page, "01-help-center");

    await loginCustomer(page, "demo-trial");
    await openWidget(page);
    assert.match(await page.textContent("#hdw-identity"), /demo-trial/);
    await shot(page, "02-widget-logged-in-demo-trial");

    const question = "sao toi ko ha xuong free dc";
    const answer = await ask(page, question, /demo-trial/);
    assert.equal(await page.locator("#hdw-log li.hdw-user p").last().textContent(), question);
    assert.ok(await page.evaluate(() => window.__typingSeen), "the typing indicator was shown while waiting");
    assert.match(answer, /Free/, `a Free answer, got: ${answer}`);
    assert.match(answer, /dùng thử/, `the personal reason (trial not over), got: ${answer}`);
    await shot(page, "03-personal-answer-go-free");

    // numbered steps render as an ordered list
    const steps = await ask(page, "cach nang cap goi nhu the nao", /Đăng ký & Thanh toán|Thanh toán/);
    assert.ok(steps.length > 0);
    assert.ok(await page.locator("#hdw-log li.hdw-bot ol li").count() >= 3, "upgrade steps shown as a numbered list");
    await shot(page, "04-numbered-steps");

    // the conversation survives a reload: same session id, transcript shown again
    const sessionBefore = await page.evaluate(() => localStorage.getItem("cleeksy.helpdesk.session_id"));
    await page.reload();
    await page.waitForSelector('#helpdesk-widget[data-session="ready"]', { timeout: 30000 });
    assert.ok(await page.isVisible("#hdw-panel"), "the widget stays open after a reload");
    const sessionAfter = await page.evaluate(() => localStorage.getItem("cleeksy.helpdesk.session_id"));
    assert.equal(sessionAfter, sessionBefore);
    const userLines = await page.locator("#hdw-log li.hdw-user p").allTextContents();
    assert.ok(userLines.includes(question), "the earlier question is still shown after the reload");
    await shot(page, "05-after-reload");

    // user text is text: markup typed by the user is shown, never run or rendered
    const hostile = '<img src=x onerror="alert(1)"><b>đậm</b><script>alert(2)</script>';
    await ask(page, hostile, /./);
    assert.equal(await page.locator("#hdw-log li.hdw-user p").last().textContent(), hostile);
    assert.equal(await page.locator("#hdw-log img").count(), 0);
    assert.equal(await page.locator("#hdw-log b").count(), 0);
    await shot(page, "06-markup-shown-as-text");

    // bot strings are text too: only http(s) links become anchors, markup stays visible text
    const links = await page.evaluate(() => {
      window.cleeksyHelpdesk.receive({
        text: "Xem [trang](javascript:alert(3)) hoặc https://example.com/huong-dan. <b>không đậm</b>\n1. Bước một\n2. Bước hai",
        quick_replies: [{ title: "Nút lạ", payload: "javascript:alert(4)" }, { title: "Mở", payload: "https://example.com/pay" }],
      });
      const last = [...document.querySelectorAll("#hdw-log li.hdw-bot")].pop();
      return {
        hrefs: [...last.querySelectorAll("a")].map((a) => [a.getAttribute("href"), a.target]),
        bold: last.querySelectorAll("b").length,
        steps: last.querySelectorAll("ol li").length,
        buttons: [...last.querySelectorAll("button")].map((b) => b.textContent),
        text: last.textContent,
      };
    });
    assert.deepEqual(links.hrefs, [["https://example.com/huong-dan", "_blank"], ["https://example.com/pay", "_blank"]]);
    assert.equal(links.bold, 0);
    assert.equal(links.steps, 2);
    assert.deepEqual(links.buttons, ["Nút lạ"]);
    assert.match(links.text, /<b>không đậm<\/b>/);
    assert.match(links.text, /\[trang\]\(javascript:alert\(3\)\)/);
    assert.deepEqual(problems, []);
  },

  // Ask for an upgrade link and follow it through the local VNPAY stand-in back to the return page.
  async customer_pays_an_upgrade_through_vnpay(browser) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = [];
    watchForProblems(page, problems);
    await page.goto(`${WEB_URL}/`);
    await loginCustomer(page, "demo-monthly");
    await openWidget(page);
    let reply = await ask(page, "toi muon nang cap khong gian lam viec so len goi standard theo thang cho 5 nguoi",
      /./);
    // answer whatever the checkout form still needs, by its buttons, until the pay link arrives
    for (let turn = 0; turn < 8; turn += 1) {
      if (await page.locator("#hdw-log a.hdw-link-button").count()) break;
      const last = page.locator("#hdw-log li.hdw-bot").last();
      const titles = await last.locator("button.hdw-button").allTextContents();
      const choice = ["Gia hạn thủ công", "Xác nhận", "Standard", "Không gian làm việc số", "Hàng tháng", "Giữ nguyên"]
        .find((title) => titles.some((t) => t.includes(title)));
      if (!choice) throw new Error(`stuck in checkout; last answer: ${reply}; buttons: ${titles}`);
      const before = await clickButton(page, choice);
      reply = await waitForBot(page, before, /./);
    }
    const link = page.locator("#hdw-log a.hdw-link-button").last();
    await link.waitFor({ timeout: REPLY_TIMEOUT });
    assert.equal(await link.getAttribute("target"), "_blank");
    assert.match(await link.getAttribute("rel"), /noopener/);
    assert.match(await link.getAttribute("href"), /^https?:\/\/.*vnp_SecureHash=/);
    await shot(page, "07-pay-link-in-chat");

    const [vnpay] = await Promise.all([context.waitForEvent("page"), link.click()]);
    await vnpay.waitForLoadState();
    assert.ok(vnpay !== page, "the pay link opened in a new tab");
    await vnpay.waitForSelector('button[name="outcome"][value="00"]');
    await shot(vnpay, "08-vnpay-stand-in");
    await Promise.all([vnpay.waitForURL(/\/vnpay\/return/), vnpay.click('button[name="outcome"][value="00"]')]);
    await vnpay.waitForSelector("h1");
    assert.match(await vnpay.textContent("h1"), /Thanh toán thành công/);
    await shot(vnpay, "09-vnpay-return-paid");

    await page.bringToFront();
    const status = await ask(page, "thanh toan cua toi thanh cong chua", /thành công|đã thanh toán|Đã thanh toán/);
    assert.match(status, /thành công|đã thanh toán/i);
    await shot(page, "10-payment-status-in-chat");
    assert.deepEqual(problems, []);
  },

  // Log in as an agent, triage demo-monthly, see the blocked App Builder yearly change with its fix.
  async agent_triages_demo_monthly(browser) {
    // first a customer of demo-free rates an answer and asks for a person: the console must show both
    const customer = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await customer.goto(`${WEB_URL}/`);
    await loginCustomer(customer, "demo-free");
    await openWidget(customer);
    await ask(customer, "sao toi ko ha xuong free dc", /hữu ích/);
    const beforeThanks = await clickButton(customer, "Có");
    await waitForBot(customer, beforeThanks, /./);
    await ask(customer, "cho toi gap nhan vien", /nhân viên/);
    await shot(customer, "11a-customer-asks-for-a-person");
    await customer.close();

    const page = await browser.newPage({ viewport: { width: 1366, height: 1000 } });
    const problems = [];
    watchForProblems(page, problems);
    await page.goto(`${WEB_URL}/`);
    await Promise.all([page.waitForURL(/\/agent/), page.click("#demo-login-agent")]);
    await page.waitForSelector("#ag-lookup", { state: "visible" });
    await page.fill("#ag-workspace", "demo-monthly");
    await page.click("#ag-lookup-form button[type=submit]");
    await page.waitForSelector("#ag-workspace-view", { state: "visible" });
    const row = page.locator('#ag-changes-body tr[data-product="app_builder"][data-tier="standard"][data-cycle="yearly"]');
    assert.equal(await row.getAttribute("data-outcome"), "BLOCKED");
    const rowText = await row.textContent();
    assert.match(rowText, /Bị chặn/);
    assert.match(rowText, /Không gian làm việc số/, "the fix names the base product whose cycle must change first");
    await row.scrollIntoViewIfNeeded();
    await shot(page, "11-agent-change-matrix-blocked-app-builder-yearly");
    await page.locator("#ag-subscriptions").scrollIntoViewIfNeeded();
    await shot(page, "12-agent-subscriptions");

    await page.selectOption("#ag-t-product", "app_builder");
    await page.selectOption("#ag-t-tier", "standard");
    await page.selectOption("#ag-t-cycle", "yearly");
    await page.selectOption("#ag-t-seen", "blocked");
    await page.click("#ag-triage-form button[type=submit]");
    await page.waitForSelector("#ag-triage-result", { state: "visible" });
    assert.equal(await page.getAttribute("body", "data-triage"), "BLOCKED");
    const reply = await page.inputValue("#ag-triage-reply");
    const fix = await page.locator("#ag-triage-fixes li").first().textContent();
    assert.ok(fix && reply.includes(fix), "the ready-to-send reply carries the fix");
    assert.match(await page.textContent("#ag-triage-assessment"), /^Khớp/);
    await page.locator("#ag-triage").scrollIntoViewIfNeeded();
    await shot(page, "13-agent-triage-reply");
    const handoff = page.locator("#ag-handoffs-body tr", { hasText: "demo-free" }).first();
    await handoff.waitFor();
    assert.match(await handoff.locator("td").nth(3).textContent(), /Khách hỏi/, "the handoff has a readable summary");
    const rated = await page.locator("#ag-feedback-body tr").allTextContents();
    assert.ok(rated.some((row) => /\d+%/.test(row)), `a helpful rate per topic is shown: ${rated}`);
    await page.locator("#ag-handoffs").scrollIntoViewIfNeeded();
    await shot(page, "14-agent-handoffs-and-feedback");
    assert.deepEqual(problems, []);
  },

  // A customer who opens the console sees no agent data.
  async customer_cannot_use_the_console(browser) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${WEB_URL}/`);
    await loginCustomer(page, "demo-monthly");
    await page.goto(`${WEB_URL}/agent`);
    await page.waitForFunction(() => !document.getElementById("ag-auth").textContent.includes("Đang kiểm tra"));
    assert.match(await page.textContent("#ag-auth"), /khách hàng/);
    assert.ok(await page.isHidden("#ag-lookup"));
    assert.ok(await page.isHidden("#ag-workspace-view"));
    await shot(page, "15-customer-refused-by-console");
  },

  // The page and the widget at a phone width (375 px).
  async phone_width(browser) {
    const context = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true,
      deviceScaleFactor: 2 });
    const page = await context.newPage();
    await page.goto(`${WEB_URL}/`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow}px)`);
    await shot(page, "phone-01-help-center");
    await loginCustomer(page, "demo-ow-trial-ended");
    await openWidget(page);
    const box = await page.locator("#hdw-panel").boundingBox();
    assert.ok(box.width >= 370 && box.width <= 376, `the open widget fills the phone width (${box.width})`);
    assert.ok(await page.isVisible("#hdw-input"));
    await ask(page, "sao toi ko ha xuong free dc", /demo-ow-trial-ended/);
    await shot(page, "phone-02-chat-answer");
    await page.goto(`${WEB_URL}/agent`);
    await shot(page, "phone-03-console-refused");
    const consoleOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(consoleOverflow <= 0, `console has no horizontal scrolling (overflow ${consoleOverflow}px)`);
  },
};


// --- issue 12: accessibility, hand-off, console, return page -------------------------------------
const DESKTOP = { width: 1366, height: 800 };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

async function agentPage(browser, viewport) {
  const context = await browser.newContext(viewport.viewport ? viewport : { viewport });
  const page = await context.newPage();
  await page.goto(`${WEB_URL}/agent`);
  await page.waitForSelector("#ag-auth");
  if (await page.isVisible("#ag-demo-login")) {
    await Promise.all([page.waitForNavigation(), page.click("#ag-demo-login")]);
  }
  await page.waitForSelector("#ag-lookup", { state: "visible" });
  return page;
}

const insidePanel = (page) => page.evaluate(() => document.getElementById("hdw-panel").contains(document.activeElement));

const scenarios12 = {
  // Keyboard only and screen-reader roles at desktop width: open with Enter, Tab stays inside,
  // Escape closes and gives focus back, roles and live regions, greeting with suggestions,
  // timestamps, one bubble per answer, a long answer opened at its start, "Trò chuyện mới" asks.
  async widget_keyboard_and_roles(browser) {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    const problems = [];
    watchForProblems(page, problems);
    await page.goto(`${WEB_URL}/`);
    assert.ok(await page.isHidden("#demo-logout"), "a visitor is not offered 'Đăng xuất'");
    await page.focus("#hdw-launcher");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#hdw-panel", { state: "visible" });
    assert.equal(await page.evaluate(() => document.activeElement.id), "hdw-input", "focus goes to the message box");
    const roles = await page.evaluate(() => ({
      dialog: document.getElementById("hdw-panel").getAttribute("role"),
      modal: document.getElementById("hdw-panel").getAttribute("aria-modal"),
      log: document.getElementById("hdw-log").getAttribute("role"),
      status: document.getElementById("hdw-status").getAttribute("role"),
      announcer: document.getElementById("hdw-announcer").getAttribute("aria-live"),
      greeting: document.querySelector("#hdw-log li.hdw-bot .hdw-who").textContent,
      suggestions: [...document.querySelectorAll("#hdw-log li.hdw-bot .hdw-buttons button")].map((b) => b.textContent),
      time: document.querySelector("#hdw-log li time") && document.querySelector("#hdw-log li time").dateTime,
    }));
    assert.equal(roles.dialog, "dialog");
    assert.equal(roles.modal, "true");
    assert.equal(roles.log, "log");
    assert.equal(roles.status, "status");
    assert.equal(roles.announcer, "polite");
    assert.equal(roles.greeting, "Trợ lý: ", "a screen reader hears who speaks");
    assert.ok(roles.suggestions.length >= 3 && roles.suggestions.includes("Gặp nhân viên hỗ trợ"), `suggestions: ${roles.suggestions}`);
    assert.ok(roles.time, "messages carry a timestamp");
    await shot(page, "a11y-01-greeting-with-suggestions");

    // Tab and Shift+Tab never leave the open dialog
    for (let i = 0; i < 14; i += 1) {
      await page.keyboard.press("Tab");
      assert.ok(await insidePanel(page), `Tab ${i + 1} left the chat`);
    }
    for (let i = 0; i < 5; i += 1) {
      await page.keyboard.press("Shift+Tab");
      assert.ok(await insidePanel(page), "Shift+Tab left the chat");
    }

    // ask by keyboard; the typing status is announced; the user's message is labelled
    await page.focus("#hdw-input");
    const before = await botCount(page);
    await page.keyboard.type("cach nang cap goi nhu the nao");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => /soạn câu trả lời/.test(document.getElementById("hdw-announcer").textContent));
    await waitForBot(page, before, /Thanh toán|nâng cấp/);
    assert.equal(await page.locator("#hdw-log li.hdw-user .hdw-who").last().textContent(), "Bạn: ");
    // older buttons leave the tab order; the latest answer's stay in it
    const tabbable = await page.evaluate(() => {
      const lis = [...document.querySelectorAll("#hdw-log li")];
      return lis.map((li) => [...li.querySelectorAll(".hdw-buttons > *")].map((b) => b.getAttribute("tabindex")));
    });
    assert.ok(tabbable[0].every((t) => t === "-1"), `the greeting's buttons left the tab order: ${JSON.stringify(tabbable)}`);
    await shot(page, "a11y-02-keyboard-answer");

    // a long answer of several parts: one bubble, opened at its start; "–" sub-items are a list
    await page.evaluate(() => {
      const w = window.cleeksyHelpdesk;
      const at = new Date().toISOString();
      w.receive({ text: "Đây là câu trả lời dài cho bạn.", at });
      const steps = Array.from({ length: 14 }, (_, i) => `${i + 1}. Bước số ${i + 1} của hướng dẫn\n– chi tiết a của bước ${i + 1}\n– chi tiết b`).join("\n");
      w.receive({ text: steps, at });
      w.receive({ text: "Cuối cùng: xong.", at, quick_replies: [{ title: "Có", payload: "/affirm" }] });
    });
    const layout = await page.evaluate(() => {
      const log = document.getElementById("hdw-log");
      const last = log.lastElementChild;
      return {
        parts: last.querySelectorAll(".hdw-text").length,
        nested: last.querySelectorAll("ol > li > ul > li").length,
        startVisible: last.offsetTop - log.offsetTop >= log.scrollTop - 1 && last.offsetTop - log.offsetTop <= log.scrollTop + 40,
        atBottom: Math.abs(log.scrollHeight - log.clientHeight - log.scrollTop) < 2,
        bubbles: [...log.querySelectorAll("li.hdw-bot")].length,
      };
    });
    assert.equal(layout.parts, 3, "the three parts of one answer share one bubble");
    assert.equal(layout.nested, 28, "the '–' sub-items are lists inside their steps");
    assert.ok(layout.startVisible && !layout.atBottom, `a long answer opens at its start: ${JSON.stringify(layout)}`);
    await shot(page, "a11y-03-long-answer-at-its-start");

    // Escape closes and gives the focus back to the launcher
    await page.focus("#hdw-input");
    await page.keyboard.press("Escape");
    assert.ok(await page.isHidden("#hdw-panel"));
    assert.equal(await page.evaluate(() => document.activeElement.id), "hdw-launcher");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#hdw-panel", { state: "visible" });

    // "Trò chuyện mới" asks first; Cancel keeps everything
    const count = await page.locator("#hdw-log li").count();
    await page.click("#hdw-restart");
    await page.waitForSelector("#hdw-confirm", { state: "visible" });
    assert.equal(await page.getAttribute("#hdw-confirm", "role"), "alertdialog");
    await shot(page, "a11y-04-restart-asks-first");
    await page.keyboard.press("Escape");
    assert.ok(await page.isHidden("#hdw-confirm"));
    assert.ok(await page.isVisible("#hdw-panel"), "Escape closed only the question");
    assert.equal(await page.locator("#hdw-log li").count(), count, "nothing was cleared");
    await page.click("#hdw-restart");
    await page.click("#hdw-confirm-yes");
    await page.waitForFunction(() => document.querySelectorAll("#hdw-log li").length === 1);

    // the demo selector keeps its choice after a reload; "Đăng xuất" shows once logged in
    await loginCustomer(page, "demo-yearly");
    assert.ok(await page.isVisible("#demo-logout"));
    await page.reload();
    await page.waitForSelector('#helpdesk-widget[data-session="ready"]', { timeout: 30000 });
    assert.equal(await page.inputValue("#demo-workspace"), "demo-yearly", "the selector kept the workspace");
    assert.deepEqual(problems, []);
  },

  // A person takes over: the customer (phone) asks, the agent (desktop) takes it from the queue,
  // replies, the customer sees it live in the same widget, answers back, the agent hands back to
  // the bot; another device of the customer shows the whole conversation.
  async handoff_end_to_end(browser) {
    const customerContext = await browser.newContext(PHONE);
    const customer = await customerContext.newPage();
    const problems = [];
    watchForProblems(customer, problems);
    await customer.goto(`${WEB_URL}/`);
    await loginCustomer(customer, "demo-trial");
    await openWidget(customer);
    await ask(customer, "sao toi ko ha xuong free dc", /demo-trial|Free/);
    const handed = await ask(customer, "cho toi gap nhan vien", /nhân viên/);
    assert.match(handed, /phút/, `the expected wait is given: ${handed}`);
    assert.doesNotMatch(handed, /Liên hệ trợ giúp/);
    await customer.waitForSelector("#hdw-handoff", { state: "visible" });
    assert.match(await customer.textContent("#hdw-handoff"), /Đang chờ nhân viên/);
    await shot(customer, "handoff-01-customer-waiting-phone");
    // asking again does not queue the customer twice
    await ask(customer, "gap nguoi that", /đã có trong hàng chờ|nhân viên/).catch(() => {});

    // the agent's computer is set to another time zone: the console still shows Vietnam time
    const agent = await agentPage(browser, { viewport: DESKTOP, timezoneId: "America/Los_Angeles" });
    const rows = agent.locator("#ag-handoffs-body tr", { hasText: "demo-trial" });
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1, "the customer appears once in the queue");
    assert.match(await agent.textContent("#ag-handoffs-count"), /đang chờ/, "the waiting count is announced");
    const summary = await rows.first().locator("td").nth(3).textContent();
    assert.match(summary, /Khách hỏi.*sao toi ko ha xuong free dc/s);
    assert.match(summary, /Trợ lý đã trả lời/);
    assert.match(summary, /Chẩn đoán.*Không gian làm việc số/s);
    await shot(agent, "handoff-02-agent-queue");
    await rows.first().locator("button", { hasText: "Nhận" }).click();
    await agent.waitForSelector('#ag-conversation[data-status="taken"]');
    await customer.waitForFunction(() => /đang trò chuyện với nhân viên/.test(document.getElementById("hdw-handoff").textContent));

    const reply = "Chào bạn, mình là Lan ở Cleeksy. Bạn đang dùng thử nên chưa hạ xuống Free được; hết dùng thử mình hỗ trợ tiếp nhé.";
    await agent.fill("#ag-reply-text", reply);
    await agent.click("#ag-reply-send");
    await customer.waitForFunction((text) => [...document.querySelectorAll("#hdw-log li.hdw-agent")]
      .some((li) => li.textContent.includes(text)), reply, { timeout: 15000 });
    assert.match(await customer.locator("#hdw-log li.hdw-agent .hdw-who").last().textContent(), /Nhân viên hỗ trợ/);
    await shot(customer, "handoff-03-customer-sees-the-reply-live-phone");

    await customer.fill("#hdw-input", "cam on ban, vay minh doi");
    await customer.press("#hdw-input", "Enter");
    await customer.waitForFunction(() => /Đã gửi cho nhân viên/.test(document.getElementById("hdw-announcer").textContent));
    await agent.waitForFunction(() => [...document.querySelectorAll("#ag-conversation-log li")]
      .some((li) => li.textContent.includes("cam on ban, vay minh doi")), null, { timeout: 15000 });
    assert.ok(await customer.isHidden("#hdw-typing"), "no bot typing while a person holds the conversation");
    const said = await agent.locator("#ag-conversation-log li", { hasText: "cam on ban, vay minh doi" }).last().textContent();
    const [, hour, minute] = said.match(/(\d{1,2}):(\d{2}):\d{2}/) || [];
    const vietnamNow = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "Asia/Ho_Chi_Minh" })
      .format(new Date()).split(":").map(Number);
    const minutesApart = Math.abs((Number(hour) * 60 + Number(minute)) - (vietnamNow[0] * 60 + vietnamNow[1]));
    assert.ok(minutesApart <= 2 || minutesApart >= 24 * 60 - 2, `the console shows Vietnam time: ${said}`);
    await shot(agent, "handoff-04-agent-conversation");

    // another device of the same customer: the whole conversation is there
    const otherDevice = await browser.newContext({ viewport: DESKTOP });
    const second = await otherDevice.newPage();
    await second.goto(`${WEB_URL}/`);
    await loginCustomer(second, "demo-trial");
    if (await second.isVisible("#hdw-launcher")) await second.click("#hdw-launcher");
    await second.waitForFunction((text) => [...document.querySelectorAll("#hdw-log li.hdw-agent")]
      .some((li) => li.textContent.includes(text)), reply);
    assert.ok((await second.locator("#hdw-log li.hdw-user p").allTextContents()).some((t) => t.includes("sao toi ko ha xuong free dc")));
    await shot(second, "handoff-05-history-on-another-device");
    await otherDevice.close();

    await agent.click("#ag-handback");
    await agent.waitForSelector('#ag-conversation[data-status="returned"]');
    await customer.waitForSelector("#hdw-handoff", { state: "hidden", timeout: 15000 });
    const back = await ask(customer, "goi cua toi la goi gi", /demo-trial|gói/i);
    assert.ok(back.length > 0, "the bot answers again after the hand-back");
    await shot(customer, "handoff-06-back-to-the-bot-phone");
    assert.equal(await agent.locator("#ag-handoffs-body tr", { hasText: "demo-trial" }).count(), 0, "the queue is empty again");
    assert.deepEqual(problems, []);
  },

  // Console: greeting and no "…sang gói Standard" to a Standard customer, no "liên hệ bộ phận hỗ
  // trợ", no internal rule names, the note cleared for the next workspace, feedback by name, reload
  // keeps the workspace; on a phone the Reasons and Fixes are on screen (stacked).
  async console_fixes(browser) {
    const page = await agentPage(browser, DESKTOP);
    const problems = [];
    watchForProblems(page, problems);
    await page.fill("#ag-workspace", "demo-yearly");
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/agent/api/workspaces/demo-yearly")),
      page.click("#ag-lookup-form button[type=submit]"),
    ]);
    const view = await answer.json();
    await page.waitForSelector("#ag-workspace-view", { state: "visible" });
    // the catalog's names, as the API gives them (tests/web holds the API to the catalog), never a key
    assert.ok(view.summary.subscriptions.length, "demo-yearly has plans");
    for (const sub of view.summary.subscriptions) {
      const card = await page.locator(`#ag-subscription-cards .card[data-product="${sub.product}"]`).textContent();
      assert.ok(card.includes(sub.product_name) && card.includes(`Gói: ${sub.tier_name} `), `tier by name: ${card}`);
      if (sub.cycle) assert.ok(card.includes(`Chu kỳ: ${sub.cycle_name} `), `cycle by name: ${card}`);
    }
    const yearly = view.cycles.find((c) => c.cycle === "yearly").name;
    const tierNames = view.products.find((p) => p.product === "digital_workspace").tier_names;
    const matrixRow = page.locator('#ag-changes-body tr[data-product="digital_workspace"][data-tier="standard"][data-cycle="yearly"]');
    assert.equal(await matrixRow.locator("td").nth(1).textContent(), tierNames.standard);
    assert.equal(await matrixRow.locator("td").nth(2).textContent(), yearly);
    await page.selectOption("#ag-t-product", "digital_workspace");
    assert.equal(await page.locator('#ag-t-tier option[value="standard"]').textContent(), tierNames.standard);
    assert.equal(await page.locator('#ag-t-cycle option[value="yearly"]').textContent(), yearly);
    await page.selectOption("#ag-t-tier", "standard");
    await page.selectOption("#ag-t-cycle", "yearly");
    await page.selectOption("#ag-t-seen", "blocked");
    await page.fill("#ag-t-note", "ghi chú của demo-yearly");
    await page.click("#ag-triage-form button[type=submit]");
    await page.waitForSelector("#ag-triage-result", { state: "visible" });
    const reply = await page.inputValue("#ag-triage-reply");
    assert.match(reply, /^Chào bạn/);
    assert.doesNotMatch(reply, /sang gói Standard/);
    assert.doesNotMatch(await page.textContent("#ag-triage-summary"), /sang gói Standard/);
    assert.doesNotMatch(reply, /liên hệ bộ phận hỗ trợ/i);
    const shown = await page.textContent("#ag-triage-result");
    assert.doesNotMatch(shown, /\b[a-z]+_[a-z_]+\b/, `no internal rule name: ${shown}`);
    await page.locator("#ag-triage").scrollIntoViewIfNeeded();
    await shot(page, "console-01-triage-standard-customer");

    assert.match(page.url(), /#ws=demo-yearly/);
    await page.reload();
    await page.waitForSelector("#ag-workspace-view", { state: "visible" });
    assert.equal(await page.getAttribute("body", "data-workspace"), "demo-yearly", "reload keeps the open workspace");
    await page.fill("#ag-t-note", "ghi chú cũ");
    await page.fill("#ag-workspace", "demo-monthly");
    await page.click("#ag-lookup-form button[type=submit]");
    await page.waitForFunction(() => document.body.dataset.workspace === "demo-monthly");
    assert.equal(await page.inputValue("#ag-t-note"), "", "the previous workspace's note is cleared");
    const topics = await page.locator("#ag-feedback-body tr td:first-child").allTextContents();
    assert.ok(topics.every((t) => !/_/.test(t)), `topics by name: ${topics}`);
    await page.locator("#ag-feedback").scrollIntoViewIfNeeded();
    await shot(page, "console-02-feedback-by-name");

    const phone = await agentPage(browser, PHONE);
    await phone.goto(`${WEB_URL}/agent#ws=demo-monthly`);
    await phone.waitForSelector("#ag-workspace-view", { state: "visible" });
    const row = phone.locator('#ag-changes-body tr[data-product="app_builder"][data-tier="standard"][data-cycle="yearly"]');
    await row.scrollIntoViewIfNeeded();
    for (const column of [4, 5]) {
      const box = await row.locator("td").nth(column).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 391, `column ${column} on screen: ${JSON.stringify(box)}`);
    }
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on the phone (${overflow}px)`);
    await shot(phone, "console-03-phone-reasons-and-fixes-stacked");
    assert.deepEqual(problems, []);
  },

  // The VNPAY return page: branded, a way back to the chat, no wider than a 390 px phone.
  async return_page_on_a_phone(browser) {
    const context = await browser.newContext(PHONE);
    const page = await context.newPage();
    await page.goto(`${WEB_URL}/vnpay/return?vnp_TxnRef=NO-SUCH-ORDER-0000000000&vnp_ResponseCode=00&vnp_SecureHash=00`);
    assert.match(await page.textContent(".brand"), /Cleeksy/);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the page fits the phone (${width}px)`);
    await shot(page, "return-01-phone");
    await Promise.all([page.waitForURL(/chat=open/), page.click("#back-to-chat")]);
    await page.waitForSelector("#hdw-panel", { state: "visible" });
    await shot(page, "return-02-back-in-the-chat-phone");
  },
};
Object.assign(scenarios, scenarios12);

// --- issue 12: a rating given under an older answer (docs/decisions.md §22) -----------------------
const PROMPT = /Thông tin này có hữu ích/;
const THANKS = "Cleeksy chân thành cảm ơn ý kiến đóng góp của bạn!";

// The console's "was this helpful?" row of a topic, read again from the server.
async function consoleCounts(page, topic) {
  await page.reload();
  await page.waitForSelector("#ag-feedback", { state: "visible" });
  const row = page.locator(`#ag-feedback-body tr[data-topic="${topic}"]`);
  if (!(await row.count())) return { name: null, helpful: 0, notHelpful: 0 };
  const cells = await row.locator("td").allTextContents();
  return { name: cells[0], helpful: Number(cells[1]), notHelpful: Number(cells[2]) };
}

const ratingScenarios = {
  // Three answers, then the customer scrolls up and clicks "Có" under the FIRST one: the console
  // counts it for that answer's topic, the reply is the thanks alone; clicking it again replaces
  // the rating, never counts it twice; "Không" on it moves it to "not helpful" and offers a person.
  async customer_rates_an_older_answer(browser) {
    const agent = await agentPage(browser, DESKTOP);
    const before = await consoleCounts(agent, "extended_capacity");

    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    const problems = [];
    watchForProblems(page, problems);
    await page.goto(`${WEB_URL}/`);
    await loginCustomer(page, "demo-yearly");
    await openWidget(page);
    await ask(page, "dung luong mo rong gom nhung loai nao", PROMPT);
    await ask(page, "thanh toan theo nam hay theo thang", PROMPT);
    await ask(page, "thanh toan qua VNPAY nhu the nao", PROMPT);
    const prompts = page.locator("#hdw-log li.hdw-bot").filter({ hasText: PROMPT });
    assert.equal(await prompts.count(), 3, "one prompt per answer");
    const oldest = prompts.first();
    const rate = async (title, until) => {
      await oldest.scrollIntoViewIfNeeded();
      const from = await botCount(page);
      await oldest.locator("button.hdw-button", { hasText: title }).click(); // out of the tab order, still clickable
      await waitForBot(page, from, until);
      return (await page.locator("#hdw-log li.hdw-bot").allTextContents()).slice(from);
    };

    const thanks = await rate("Có", /cảm ơn ý kiến đóng góp/);
    assert.equal(thanks.length, 1, `one reply: ${thanks}`);
    assert.ok(thanks[0].includes(THANKS) && !/hỗ trợ thêm gì|Xin lỗi|chưa hiểu/.test(thanks[0]), `only the thanks: ${thanks}`);
    await shot(page, "rating-01-older-answer-rated");
    let now = await consoleCounts(agent, "extended_capacity");
    assert.equal(now.name, "Dung lượng mở rộng", "the console names the topic");
    assert.deepEqual([now.helpful, now.notHelpful], [before.helpful + 1, before.notHelpful]);

    await rate("Có", /cảm ơn ý kiến đóng góp/);
    now = await consoleCounts(agent, "extended_capacity");
    assert.deepEqual([now.helpful, now.notHelpful], [before.helpful + 1, before.notHelpful], "clicked twice: counted once");

    const sorry = await rate("Không", /gặp nhân viên/i);
    assert.match(sorry.join("\n"), /Xin lỗi vì câu trả lời chưa giúp được bạn/);
    now = await consoleCounts(agent, "extended_capacity");
    assert.deepEqual([now.helpful, now.notHelpful], [before.helpful, before.notHelpful + 1], "the new rating replaced the first");
    await agent.locator("#ag-feedback").scrollIntoViewIfNeeded();
    await shot(agent, "rating-02-console-counts-the-older-answer");
    assert.deepEqual(problems, []);
  },
};
Object.assign(scenarios, ratingScenarios);

const name = process.argv[2];
if (!scenarios[name]) {
  console.error(`unknown scenario ${name}; one of: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
const browser = await launch();
try {
  await scenarios[name](browser);
  console.log(`ok ${name}`);
} catch (error) {
  const pages = browser.contexts().flatMap((c) => c.pages());
  for (const [i, page] of pages.entries()) {
    await page.screenshot({ path: join(SHOT_DIR, `FAILED-${name}-${i}.png`) }).catch(() => {});
  }
  console.error(error && error.stack ? error.stack : error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
