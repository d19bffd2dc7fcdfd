// The agent console: every value from the API is rendered with textContent.
import { tokens, apiGet, apiPost, demoLogin, readConfig } from "./session.js";

const $ = (id) => document.getElementById(id);

const PRODUCT_NAMES = {
  digital_workspace: "Không gian làm việc số",
  operations_workflow: "Quy trình vận hành",
  app_builder: "Xây dựng ứng dụng",
};
const CYCLE_NAMES = { monthly: "Theo tháng", yearly: "Theo năm" };
const OUTCOME_NAMES = { IMMEDIATE: "Được phép ngay", NEXT_CYCLE: "Áp dụng kỳ sau", BLOCKED: "Bị chặn" };
const STATUS_NAMES = { pending: "Chờ thanh toán", paid: "Đã thanh toán", failed: "Thất bại", expired: "Hết hạn" };

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function cell(row, content) {
  const td = el("td");
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

const productName = (key, products) => {
  const found = (products || []).find((p) => p.product === key);
  return (found && found.name) || PRODUCT_NAMES[key] || key;
};
const tierName = (tier) => (tier ? tier.charAt(0).toUpperCase() + tier.slice(1) : "");
const formatDate = (value) => (value ? new Date(value).toLocaleString("vi-VN") : "");
const formatDay = (value) => (value ? new Date(value).toLocaleDateString("vi-VN") : "");

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
    card.appendChild(el("b", sub.product_name || productName(sub.product, data.products)));
    const lines = [
      `Gói: ${sub.tier_name || tierName(sub.tier)} · ${sub.status_name || sub.status}`,
      `Chu kỳ: ${CYCLE_NAMES[sub.cycle] || "—"} · ${sub.seats} người dùng`,
      `Kỳ hiện tại đến: ${sub.period_end ? formatDay(sub.period_end) : "không thời hạn"}`,
    ];
    if (sub.cycle) lines.push(`Gia hạn: ${sub.renewal_mode === "auto" ? "tự động" : "thủ công"}`);
    const next = sub.next_renewal_plan;
    if (next) {
      const scheduled = sub.downgrade_scheduled ? " (đã hẹn hạ gói)" : "";
      lines.push(`Gói gia hạn tiếp theo: ${tierName(next.tier)} ${CYCLE_NAMES[next.cycle] || ""}${scheduled}`);
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
    cell(row, productName(change.product, data.products));
    cell(row, tierName(change.tier));
    cell(row, CYCLE_NAMES[change.cycle] || "—");
    if (change.rule_id === "no_change") cell(row, el("span", "Gói hiện tại", "badge"));
    else cell(row, badge(change.outcome));
    cell(row, list("ul", change.reasons || []));
    cell(row, list("ol", change.fixes || []));
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
    cell(row, `${productName(order.product, data.products)} ${tierName(order.tier)} ${CYCLE_NAMES[order.cycle] || ""}`);
    cell(row, Number(order.amount_vnd || 0).toLocaleString("vi-VN"));
    cell(row, STATUS_NAMES[order.status] || order.status);
    cell(row, order.response_code ? `${order.response_code}: ${order.response_text || ""}` : "—");
    cell(row, formatDate(order.paid_at || order.created_at));
    body.appendChild(row);
  }
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
  const productSelect = $("ag-t-product");
  productSelect.replaceChildren();
  for (const product of body.products) {
    const option = el("option", productName(product.product, body.products));
    option.value = product.product;
    productSelect.appendChild(option);
  }
  renderSubscriptions(body);
  renderChanges(body);
  renderRetention(body);
  renderOrders(body);
  $("ag-triage-result").hidden = true;
  $("ag-workspace-view").hidden = false;
  document.body.dataset.workspace = workspaceId;
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
  $("ag-triage-rule").textContent = body.rule_id;
  $("ag-triage-summary").textContent = body.summary || "";
  $("ag-triage-assessment").textContent = body.assessment || "";
  $("ag-triage-reasons").replaceChildren(...(body.reasons || []).map((r) => el("li", r.text || r.code)));
  $("ag-triage-fixes").replaceChildren(...(body.fixes || []).map((f) => el("li", f.text || f.code)));
  $("ag-triage-reply").value = body.reply || "";
  $("ag-triage-result").hidden = false;
  document.body.dataset.triage = body.outcome;
}

async function loadQueues() {
  const [handoffs, feedback] = await Promise.all([apiGet("/agent/api/handoffs"), apiGet("/agent/api/feedback")]);
  if (handoffs.ok) {
    const body = $("ag-handoffs-body");
    body.replaceChildren();
    const items = handoffs.body.handoffs || [];
    if (!items.length) {
      const row = el("tr");
      cell(row, "Chưa có yêu cầu nào.").colSpan = 3;
      body.appendChild(row);
    }
    for (const item of items) {
      const row = el("tr");
      cell(row, formatDate(item.created_at || item.at));
      cell(row, item.workspace_id || "(khách chưa đăng nhập)");
      cell(row, item.summary || item.last_message || "");
      body.appendChild(row);
    }
    $("ag-handoffs").hidden = false;
  }
  if (feedback.ok) {
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
      cell(row, topic.topic);
      cell(row, topic.helpful ?? topic.yes ?? 0);
      cell(row, topic.not_helpful ?? topic.no ?? 0);
      const rate = topic.rate ?? topic.helpful_rate;
      cell(row, rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)}%`);
      body.appendChild(row);
    }
    $("ag-feedback").hidden = false;
  }
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
  $("ag-triage-copy").addEventListener("click", () => {
    const reply = $("ag-triage-reply");
    reply.select();
    if (navigator.clipboard) navigator.clipboard.writeText(reply.value).catch(() => {});
  });
  await loadQueues();
}

document.addEventListener("DOMContentLoaded", start);
