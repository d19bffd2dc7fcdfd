// The agent console: every value from the API is rendered with textContent.
import { tokens, apiGet, apiPost, demoLogin, readConfig } from "./session.js";

const $ = (id) => document.getElementById(id);

// Product, tier and cycle names come from the API (the catalog's names): a key without a name shows as itself.
const OUTCOME_NAMES = { IMMEDIATE: "Được phép ngay", NEXT_CYCLE: "Áp dụng kỳ sau", BLOCKED: "Bị chặn" };
const STATUS_NAMES = { pending: "Chờ thanh toán", paid: "Đã thanh toán", failed: "Thất bại", expired: "Hết hạn" };

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function cell(row, content, label) {
  const td = el("td");
  if (label) td.dataset.label = label;
  if (content instanceof Node) td.appendChild(content);
  else td.textContent = content === undefined || content === null ? "" : String(content);
  row.appendChild(td);
  return td;
}

function list(tag, items) {
  const node = el(tag, null, "plain");
  for (const item of items) node.appendChild(el("li", item.text || item.code));
  return node;
}

function badge(outcome) {
  return el("span", OUTCOME_NAMES[outcome] || outcome, `badge badge-${outcome}`);
}

const named = (name, key) => name || key || "";
const cycleLabel = (item) => (item.cycle ? named(item.cycle_name, item.cycle) : "—");
// Vietnam time, whatever the agent's computer is set to: the days and times the customer sees in
// the widget and the billing calendar (docs/decisions.md: Vietnam calendar days).
const VIETNAM = "Asia/Ho_Chi_Minh";
const formatDate = (value) => (value ? new Date(value).toLocaleString("vi-VN", { timeZone: VIETNAM }) : "");
const formatDay = (value) => (value ? new Date(value).toLocaleDateString("vi-VN", { timeZone: VIETNAM }) : "");

function showError(id, message) {
  const node = $(id);
  node.textContent = message;
  node.hidden = !message;
}

let current = null;

function renderSubscriptions(data) {
  const cards = $("ag-subscription-cards");
  cards.replaceChildren();
  const summary = data.summary || {};
  const subs = summary.subscriptions || [];
  if (!subs.length) cards.appendChild(el("p", "Không gian làm việc này chưa có gói nào.", "muted"));
  for (const sub of subs) {
    const card = el("div", null, "card");
    card.dataset.product = sub.product;
    card.appendChild(el("b", named(sub.product_name, sub.product)));
    const lines = [
      `Gói: ${named(sub.tier_name, sub.tier)} · ${named(sub.status_name, sub.status)}`,
      `Chu kỳ: ${cycleLabel(sub)} · ${sub.seats} người dùng`,
      `Kỳ hiện tại đến: ${sub.period_end ? formatDay(sub.period_end) : "không thời hạn"}`,
    ];
    if (sub.cycle) lines.push(`Gia hạn: ${sub.renewal_mode === "auto" ? "tự động" : "thủ công"}`);
    const next = sub.next_renewal_plan;
    if (next) {
      const scheduled = sub.downgrade_scheduled ? " (đã hẹn hạ gói)" : "";
      const nextCycle = next.cycle ? ` ${named(next.cycle_name, next.cycle)}` : "";
      lines.push(`Gói gia hạn tiếp theo: ${named(next.tier_name, next.tier)}${nextCycle}${scheduled}`);
    }
    if (sub.trial_days_left !== undefined && sub.trial_days_left !== null) lines.push(`Còn ${sub.trial_days_left} ngày dùng thử`);
    for (const line of lines) card.appendChild(el("div", line));
    cards.appendChild(card);
  }
}

function renderChanges(data) {
  const body = $("ag-changes-body");
  body.replaceChildren();
  for (const change of data.changes) {
    const row = el("tr");
    row.dataset.product = change.product;
    row.dataset.tier = change.tier;
    row.dataset.cycle = change.cycle || "";
    row.dataset.outcome = change.outcome;
    cell(row, named(change.product_name, change.product), "Gói");
    cell(row, named(change.tier_name, change.tier), "Chuyển sang");
    cell(row, cycleLabel(change), "Chu kỳ");
    if (change.rule_id === "no_change") cell(row, el("span", "Gói hiện tại", "badge"), "Kết quả");
    else cell(row, badge(change.outcome), "Kết quả");
    cell(row, list("ul", change.reasons || []), "Lý do");
    cell(row, list("ol", change.fixes || []), "Cách khắc phục");
    body.appendChild(row);
  }
}

function renderRetention(data) {
  const box = $("ag-retention-body");
  box.replaceChildren();
  if (!data.retention.length) {
    box.appendChild(el("p", "Không có dữ liệu nào sắp bị xóa.", "muted"));
    return;
  }
  const ul = el("ul", null, "plain");
  for (const item of data.retention) {
    ul.appendChild(el("li", item.text || `${item.kind} ${item.target} ${item.amount}`));
  }
  box.appendChild(ul);
}

function renderOrders(data) {
  const body = $("ag-orders-body");
  body.replaceChildren();
  if (!data.orders.length) {
    const row = el("tr");
    const td = cell(row, "Chưa có đơn hàng nào.");
    td.colSpan = 6;
    body.appendChild(row);
  }
  for (const order of data.orders) {
    const row = el("tr");
    cell(row, order.txn_ref);
    const plan = [named(order.product_name, order.product), named(order.tier_name, order.tier)];
    if (order.cycle) plan.push(named(order.cycle_name, order.cycle));
    cell(row, plan.join(" "));
    cell(row, Number(order.amount_vnd || 0).toLocaleString("vi-VN"));
    cell(row, STATUS_NAMES[order.status] || order.status);
    cell(row, order.response_code ? `${order.response_code}: ${order.response_text || ""}` : "—");
    cell(row, formatDate(order.paid_at || order.created_at));
    body.appendChild(row);
  }
}

function option(value, name) {
  const node = el("option", named(name, value));
  node.value = value;
  return node;
}

// the triage form offers what the catalog has: its products, the chosen product's tiers, its cycles
function fillTierChoices() {
  const product = (current.products || []).find((p) => p.product === $("ag-t-product").value);
  const tierSelect = $("ag-t-tier");
  const chosen = tierSelect.value;
  const tiers = product ? product.tiers : [];
  tierSelect.replaceChildren(...tiers.map((tier) => option(tier, (product.tier_names || {})[tier])));
  if (tiers.includes(chosen)) tierSelect.value = chosen;
}

function fillTriageChoices(data) {
  $("ag-t-product").replaceChildren(...(data.products || []).map((p) => option(p.product, p.name)));
  fillTierChoices();
  const cycleSelect = $("ag-t-cycle");
  const keep = cycleSelect.querySelector('option[value=""]');
  cycleSelect.replaceChildren(...(keep ? [keep] : []), ...(data.cycles || []).map((c) => option(c.cycle, c.name)));
  cycleSelect.value = "";
}

async function lookup(workspaceId) {
  showError("ag-lookup-error", "");
  const { ok, body } = await apiGet(`/agent/api/workspaces/${encodeURIComponent(workspaceId)}`);
  if (!ok) {
    showError("ag-lookup-error", (body && body.message) || "Không tra cứu được không gian làm việc này.");
    $("ag-workspace-view").hidden = true;
    return;
  }
  current = body;
  fillTriageChoices(body);
  renderSubscriptions(body);
  renderChanges(body);
  renderRetention(body);
  renderOrders(body);
  $("ag-triage-result").hidden = true;
  $("ag-t-note").value = ""; // the previous workspace's note does not belong to this one
  $("ag-triage-error").hidden = true;
  $("ag-workspace").value = workspaceId;
  $("ag-workspace-view").hidden = false;
  document.body.dataset.workspace = workspaceId;
  saveLocation({ ws: workspaceId });
}

async function triage() {
  showError("ag-triage-error", "");
  const payload = {
    workspace_id: current.workspace_id,
    product: $("ag-t-product").value,
    tier: $("ag-t-tier").value,
    cycle: $("ag-t-cycle").value || null,
    seen: $("ag-t-seen").value,
    note: $("ag-t-note").value,
  };
  const { ok, body } = await apiPost("/agent/api/triage", payload);
  if (!ok) {
    showError("ag-triage-error", (body && body.message) || "Không xác định được quy tắc.");
    return;
  }
  $("ag-triage-outcome").replaceChildren(badge(body.outcome));
  $("ag-triage-summary").textContent = body.summary || "";
  $("ag-triage-assessment").textContent = body.assessment || "";
  $("ag-triage-reasons").replaceChildren(...(body.reasons || []).map((r) => el("li", r.text || r.code)));
  $("ag-triage-fixes").replaceChildren(...(body.fixes || []).map((f) => el("li", f.text || f.code)));
  $("ag-triage-reply").value = body.reply || "";
  $("ag-triage-result").hidden = false;
  document.body.dataset.triage = body.outcome;
}

// --- where the agent is: kept in the URL (#ws=demo-monthly&handoff=3), so a reload comes back here
function readLocation() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const handoff = parseInt(params.get("handoff") || "", 10);
  return { ws: params.get("ws") || "", handoff: Number.isInteger(handoff) && handoff > 0 ? handoff : null };
}

function saveLocation(change) {
  const next = { ...readLocation(), ...change };
  const params = new URLSearchParams();
  if (next.ws) params.set("ws", next.ws);
  if (next.handoff) params.set("handoff", String(next.handoff));
  const hash = params.toString();
  window.history.replaceState(null, "", hash ? `#${hash}` : window.location.pathname);
}

// --- hand-offs ----------------------------------------------------------------------------------
const HANDOFF_NAMES = { waiting: "Đang chờ", taken: "Đang trả lời", returned: "Đã trả lại trợ lý", closed: "Đã đóng" };
let openHandoff = null; // {handoff, messages}
let conversationTimer = null;
let queueTimer = null;

function actionButton(text, onClick, className) {
  const button = el("button", text, className || "secondary");
  button.type = "button";
  button.addEventListener("click", onClick);
  return button;
}

function summaryList(item) {
  const dl = el("dl", null, "summary");
  const add = (term, value) => {
    if (!value) return;
    dl.appendChild(el("dt", term));
    const dd = el("dd");
    for (const [i, line] of String(value).split("\n").entries()) {
      if (i) dd.appendChild(el("br"));
      dd.appendChild(document.createTextNode(line));
    }
    dl.appendChild(dd);
  };
  add("Khách hỏi", item.question || (!item.bot_answer && !item.diagnosis ? item.summary : ""));
  add("Trợ lý đã trả lời", item.bot_answer);
  add("Chẩn đoán", item.diagnosis);
  if (item.after_hours) add("Ngoài giờ", `Khách được hẹn trả lời trước ${formatDate(item.expected_by)}`);
  return dl;
}

async function handoffCall(id, action, payload) {
  showError("ag-conversation-error", "");
  const result = action === "detail" ? await apiGet(`/agent/api/handoffs/${id}`)
    : await apiPost(`/agent/api/handoffs/${id}/${action}`, payload || {});
  if (!result.ok) {
    showError("ag-conversation-error", (result.body && result.body.message) || "Không thực hiện được.");
    return null;
  }
  return result.body;
}

async function openConversation(id, { focus = true } = {}) {
  const body = await handoffCall(id, "detail");
  if (!body) return;
  const firstOpen = !openHandoff || openHandoff.handoff.id !== id;
  openHandoff = body;
  renderConversation(firstOpen);
  saveLocation({ handoff: id });
  if (firstOpen && body.handoff.workspace_id && body.handoff.workspace_id !== (current && current.workspace_id)) {
    lookup(body.handoff.workspace_id); // the workspace beside the conversation
  }
  clearInterval(conversationTimer);
  conversationTimer = setInterval(refreshConversation, 2000);
  if (firstOpen && focus) $("ag-conversation-title").focus();
}

async function refreshConversation() {
  if (!openHandoff) return;
  const { ok, body } = await apiGet(`/agent/api/handoffs/${openHandoff.handoff.id}`);
  if (!ok) return;
  const changed = body.messages.length !== openHandoff.messages.length || body.handoff.status !== openHandoff.handoff.status;
  openHandoff = body;
  if (changed) renderConversation(false);
}

function renderConversation(firstOpen) {
  const { handoff, messages } = openHandoff;
  const section = $("ag-conversation");
  section.hidden = false;
  section.dataset.status = handoff.status;
  section.dataset.handoff = String(handoff.id);
  $("ag-conversation-title").textContent = `Cuộc trò chuyện với ${handoff.workspace_id || "khách chưa đăng nhập"}`;
  const state = {
    waiting: "Khách đang chờ. Nhận yêu cầu (hoặc gửi câu trả lời) để trả lời khách.",
    taken: handoff.mine ? "Bạn đang trả lời khách này. Trợ lý tự động tạm dừng." : `Nhân viên ${handoff.agent} đang trả lời khách này.`,
    returned: "Đã trả lại cho trợ lý tự động.",
    closed: "Yêu cầu đã đóng.",
  }[handoff.status] || "";
  $("ag-conversation-state").textContent = state;
  $("ag-conversation-summary").replaceWith(Object.assign(summaryList(handoff), { id: "ag-conversation-summary" }));
  const log = $("ag-conversation-log");
  log.replaceChildren();
  for (const message of messages) {
    if (message.role === "restart") continue;
    const li = el("li", null, `ag-msg ag-${message.role}`);
    li.dataset.role = message.role;
    li.appendChild(el("b", `${message.role_name} · ${formatDate(message.at)}: `));
    li.appendChild(el("span", message.text));
    log.appendChild(li);
  }
  log.scrollTop = log.scrollHeight;
  const active = handoff.status === "waiting" || handoff.status === "taken";
  const mineOrFree = handoff.status === "waiting" || handoff.mine;
  $("ag-take").hidden = handoff.status !== "waiting";
  $("ag-reply-send").disabled = !(active && mineOrFree);
  $("ag-reply-text").disabled = !(active && mineOrFree);
  $("ag-handback").disabled = !(active && mineOrFree);
  $("ag-close").disabled = !(active && mineOrFree);
  if (firstOpen) $("ag-reply-text").value = "";
}

function renderQueue(items) {
  const body = $("ag-handoffs-body");
  body.replaceChildren();
  if (!items.length) {
    const row = el("tr");
    cell(row, "Không có khách nào đang chờ.").colSpan = 5;
    body.appendChild(row);
  }
  for (const item of items) {
    const row = el("tr");
    row.dataset.handoff = String(item.id);
    row.dataset.status = item.status;
    cell(row, formatDate(item.created_at), "Thời điểm");
    const status = item.status === "taken" && !item.mine ? `${HANDOFF_NAMES.taken} (${item.agent})` : (HANDOFF_NAMES[item.status] || item.status);
    cell(row, status + (item.after_hours ? " · ngoài giờ" : ""), "Trạng thái");
    cell(row, item.workspace_id || "(khách chưa đăng nhập)", "Không gian làm việc");
    cell(row, summaryList(item), "Tóm tắt");
    const actions = el("div", null, "row");
    if (item.status === "waiting") {
      actions.appendChild(actionButton("Nhận", async () => {
        if (await handoffCall(item.id, "take")) { await openConversation(item.id); loadHandoffs(); }
      }, "primary"));
    }
    actions.appendChild(actionButton("Mở", () => openConversation(item.id)));
    cell(row, actions, "Thao tác");
    body.appendChild(row);
  }
}

async function loadHandoffs() {
  const handoffs = await apiGet("/agent/api/handoffs");
  if (!handoffs.ok) return;
  const items = handoffs.body.handoffs || [];
  renderQueue(items);
  const waiting = items.filter((item) => item.status === "waiting").length;
  $("ag-handoffs-count").textContent = waiting ? `(${waiting} đang chờ)` : "";
  document.title = `${waiting ? `(${waiting}) ` : ""}Bảng điều khiển nhân viên – Cleeksy`;
  $("ag-handoffs").hidden = false;
}

async function loadFeedback() {
  const feedback = await apiGet("/agent/api/feedback");
  if (!feedback.ok) return;
  const body = $("ag-feedback-body");
  body.replaceChildren();
  const topics = feedback.body.topics || [];
  if (!topics.length) {
    const row = el("tr");
    cell(row, "Chưa có đánh giá nào.").colSpan = 4;
    body.appendChild(row);
  }
  for (const topic of topics) {
    const row = el("tr");
    row.dataset.topic = topic.topic;
    cell(row, topic.name || topic.topic);
    cell(row, topic.helpful ?? 0);
    cell(row, topic.not_helpful ?? 0);
    const rate = topic.rate;
    cell(row, rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)}%`);
    body.appendChild(row);
  }
  $("ag-feedback").hidden = false;
}

async function loadQueues() {
  await Promise.all([loadHandoffs(), loadFeedback()]);
  clearInterval(queueTimer);
  queueTimer = setInterval(loadHandoffs, 5000);
}

function setupConversation() {
  $("ag-conversation-title").tabIndex = -1;
  $("ag-reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("ag-reply-text").value.trim();
    if (!openHandoff) return;
    if (!text) { showError("ag-conversation-error", "Viết nội dung trả lời khách."); return; }
    const body = await handoffCall(openHandoff.handoff.id, "reply", { text });
    if (!body) return;
    $("ag-reply-text").value = "";
    openHandoff = body;
    renderConversation(false);
    loadHandoffs();
  });
  const change = (action) => async () => {
    if (!openHandoff) return;
    const body = await handoffCall(openHandoff.handoff.id, action);
    if (!body) return;
    openHandoff = body;
    renderConversation(false);
    loadHandoffs();
  };
  $("ag-take").addEventListener("click", change("take"));
  $("ag-handback").addEventListener("click", change("handback"));
  $("ag-close").addEventListener("click", change("close"));
}

async function start() {
  const config = readConfig();
  let who = await tokens.current();
  const status = $("ag-auth");
  if (!who || who.role !== "agent") {
    status.replaceChildren();
    if (who && who.role === "customer") {
      status.appendChild(el("span", "Bạn đang đăng nhập với tư cách khách hàng: bảng điều khiển chỉ dành cho nhân viên hỗ trợ. ", "error"));
    } else {
      status.appendChild(el("span", "Bảng điều khiển chỉ dành cho nhân viên hỗ trợ. "));
    }
    if (config.demo) {
      const button = el("button", "Đăng nhập nhân viên (demo)");
      button.type = "button";
      button.id = "ag-demo-login";
      button.addEventListener("click", async () => { await demoLogin(null, "agent"); window.location.reload(); });
      status.appendChild(button);
    }
    return;
  }
  status.textContent = `Đã đăng nhập: nhân viên hỗ trợ (${who.sub}).`;
  $("ag-lookup").hidden = false;
  const { ok, body } = await apiGet("/agent/api/workspaces");
  if (ok) {
    const datalist = $("ag-workspace-list");
    for (const id of body.workspaces) {
      const option = el("option");
      option.value = id;
      datalist.appendChild(option);
    }
  }
  $("ag-lookup-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("ag-workspace").value.trim();
    if (id) lookup(id);
  });
  $("ag-triage-form").addEventListener("submit", (event) => { event.preventDefault(); triage(); });
  $("ag-t-product").addEventListener("change", fillTierChoices);
  $("ag-triage-copy").addEventListener("click", () => {
    const reply = $("ag-triage-reply");
    reply.select();
    if (navigator.clipboard) navigator.clipboard.writeText(reply.value).catch(() => {});
  });
  setupConversation();
  await loadQueues();
  const where = readLocation();
  if (where.ws) {
    $("ag-workspace").value = where.ws;
    await lookup(where.ws);
  }
  if (where.handoff) await openConversation(where.handoff, { focus: false });
  window.addEventListener("hashchange", () => {
    const next = readLocation();
    if (next.ws && next.ws !== (current && current.workspace_id)) lookup(next.ws);
    if (next.handoff && (!openHandoff || openHandoff.handoff.id !== next.handoff)) openConversation(next.handoff);
  });
}

document.addEventListener("DOMContentLoaded", start);
