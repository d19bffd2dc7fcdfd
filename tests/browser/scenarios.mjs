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
    assert.equal(await page.locator("#hdw-log li.hdw-user").last().textContent(), question);
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
    const userLines = await page.locator("#hdw-log li.hdw-user").allTextContents();
    assert.ok(userLines.includes(question), "the earlier question is still shown after the reload");
    await shot(page, "05-after-reload");

    // user text is text: markup typed by the user is shown, never run or rendered
    const hostile = '<img src=x onerror="alert(1)"><b>đậm</b><script>alert(2)</script>';
    await ask(page, hostile, /./);
    assert.equal(await page.locator("#hdw-log li.hdw-user").last().textContent(), hostile);
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
    assert.ok((await handoff.locator("td").nth(2).textContent()).trim().length > 0, "the handoff has a summary");
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
