// The help-center chat widget: Rasa's socket.io channel (socket.io protocol v5 / EIO4, as
// served by python-socketio 5 in Rasa 3.6), identity token on every message. A logged-in
// customer's conversation comes from the web app (GET /helpcenter/history: the same on every
// device); a visitor's is kept in this browser. All user and bot strings are rendered with
// textContent (see render.js).
//
// Accessibility: the panel is a modal dialog (focus kept inside while open, Escape closes it and
// gives focus back to the launcher); the log is role="log" and every message says who wrote it
// (screen-reader prefix); typing, connection and hand-off status are announced (role="status");
// buttons of older answers leave the tab order.
import { io } from "socket.io-client";
import { renderRichText, safeHttpUrl, makeLink } from "./render.js";
import { readConfig, tokens, demoLogin, logout, apiGet } from "./session.js";

const SESSION_KEY = "cleeksy.helpdesk.session_id";
const TRANSCRIPT_KEY = "cleeksy.helpdesk.transcript";
const OPEN_KEY = "cleeksy.helpdesk.open";
const DEMO_WORKSPACE_KEY = "cleeksy.helpdesk.demo_workspace";
const MAX_TRANSCRIPT = 80;
const TYPING_TIMEOUT_MS = 30000;
const MERGE_WINDOW_MS = 4000; // the parts of one answer arrive within this: one bubble
const GREETING = "Xin chào! Tôi là trợ lý Cleeksy. Bạn cần hỗ trợ gì về gói giải pháp, nâng cấp, hạ gói hay thanh toán?";
const SUGGESTIONS = [
  { title: "Vì sao tôi không hạ xuống Free được?", payload: "Vì sao tôi không hạ xuống Free được?" },
  { title: "Cách nâng cấp gói", payload: "Làm sao để nâng cấp gói?" },
  { title: "Gói tôi đang dùng", payload: "Gói tôi đang dùng là gói nào?" },
  { title: "Gặp nhân viên hỗ trợ", payload: "/request_human" },
];
const WHO = { user: "Bạn", bot: "Trợ lý", agent: "Nhân viên hỗ trợ", system: "Thông báo" };
const HANDOFF_TEXT = {
  waiting: "Đang chờ nhân viên hỗ trợ. Tin nhắn của bạn được chuyển thẳng cho nhân viên.",
  after_hours: "Ngoài giờ làm việc: hãy để lại lời nhắn, nhân viên sẽ trả lời bạn ngay tại đây.",
  taken: "Bạn đang trò chuyện với nhân viên hỗ trợ Cleeksy.",
};
const FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]), select, textarea, [tabindex]:not([tabindex='-1'])";

const $ = (id) => document.getElementById(id);

function storage() {
  try { return window.localStorage; } catch (e) { return null; }
}

function loadTranscript(owner) {
  try {
    const saved = JSON.parse(storage().getItem(TRANSCRIPT_KEY) || "null");
    return saved && saved.owner === owner && Array.isArray(saved.items) ? saved.items : [];
  } catch (e) {
    return [];
  }
}

function saveTranscript(owner, items) {
  try {
    storage().setItem(TRANSCRIPT_KEY, JSON.stringify({ owner, items: items.slice(-MAX_TRANSCRIPT) }));
  } catch (e) { /* storage full or disabled: the conversation still works */ }
}

const clock = new Intl.DateTimeFormat("vi-VN", { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Ho_Chi_Minh" });
const fullDate = new Intl.DateTimeFormat("vi-VN", { dateStyle: "short", timeStyle: "short", timeZone: "Asia/Ho_Chi_Minh" });

function timeElement(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return null;
  const node = document.createElement("time");
  node.className = "hdw-time";
  node.dateTime = when.toISOString();
  node.textContent = clock.format(when);
  node.title = fullDate.format(when);
  return node;
}

function cleanButtons(replies) {
  if (!Array.isArray(replies)) return [];
  return replies
    .filter((b) => b && typeof b.title === "string")
    .map((b) => ({ title: b.title, payload: typeof b.payload === "string" ? b.payload : (b.url || "") }));
}

// Consecutive bot texts of one answer (Rasa sends each response separately) become one item.
function mergeable(last, item) {
  return last && last.from === "bot" && item.from === "bot" && !item.greeting && !last.greeting
    && !(last.buttons && last.buttons.length) && !last.image && !item.image
    && Math.abs(Date.parse(item.at) - Date.parse(last.at)) <= MERGE_WINDOW_MS;
}

function mergeInto(last, item) {
  last.parts = [...(last.parts || [last.text || ""]), ...(item.parts || [item.text || ""])].filter((t) => t);
  last.text = last.parts.join("\n\n");
  if (item.buttons && item.buttons.length) last.buttons = item.buttons;
}

class Widget {
  constructor(config) {
    this.config = config;
    this.root = $("helpdesk-widget");
    this.panel = $("hdw-panel");
    this.log = $("hdw-log");
    this.typing = $("hdw-typing");
    this.status = $("hdw-status");
    this.announcer = $("hdw-announcer");
    this.input = $("hdw-input");
    this.items = [];
    this.owner = "anon";
    this.who = null;
    this.handoff = null;
    this.typingTimer = null;
  }

  async start() {
    $("hdw-launcher").addEventListener("click", () => this.setOpen(true));
    $("hdw-close").addEventListener("click", () => this.setOpen(false));
    $("hdw-restart").addEventListener("click", () => this.askRestart());
    $("hdw-confirm-yes").addEventListener("click", () => this.restart());
    $("hdw-confirm-no").addEventListener("click", () => this.closeConfirm());
    this.panel.addEventListener("keydown", (event) => this.onKey(event));
    $("hdw-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      if (!text) return;
      this.input.value = "";
      this.send(text, text);
    });
    await this.setOwner(await tokens.current());
    // "?chat=open": back from the VNPAY return page, straight into the conversation
    const asked = new URLSearchParams(window.location.search).get("chat") === "open";
    this.setOpen(asked || (storage() && storage().getItem(OPEN_KEY) === "1"), asked);
    this.connect();
  }

  // --- who is chatting, and their conversation ------------------------------------------------
  async setOwner(who) {
    const owner = who && who.role ? `${who.role}:${who.workspace_id || ""}:${who.sub || ""}` : "anon";
    this.owner = owner;
    this.who = who;
    this.items = [];
    this.log.replaceChildren();
    const identity = $("hdw-identity");
    if (who && who.role === "customer") identity.textContent = `Đang trả lời cho không gian làm việc: ${who.workspace_id}`;
    else if (who && who.role === "agent") identity.textContent = "Bạn đang đăng nhập với tư cách nhân viên hỗ trợ.";
    else identity.textContent = "Chưa đăng nhập: câu trả lời theo quy định chung.";
    let items = null;
    if (who && who.role === "customer") items = await this.serverHistory();
    if (items === null) items = loadTranscript(owner);
    for (const item of items) this.record(item, { save: false, scroll: false });
    if (this.items.length === 0) this.greet();
    this.saveLocal();
    this.retireButtons();
    this.scrollToEnd();
  }

  // the customer's conversation from any device; null when it cannot be read (then this browser's copy)
  async serverHistory() {
    try {
      const { ok, body } = await apiGet("/helpcenter/history");
      if (!ok || !body || !Array.isArray(body.messages)) return null;
      this.setHandoff(body.handoff ? body.handoff.status : null, body.handoff && body.handoff.after_hours);
      return body.messages.map((m) => ({
        from: WHO[m.role] ? m.role : "bot",
        text: typeof m.text === "string" ? m.text : "",
        buttons: cleanButtons(m.buttons),
        at: m.at,
      }));
    } catch (e) {
      return null;
    }
  }

  greet() {
    this.record({ from: "bot", text: GREETING, buttons: SUGGESTIONS, greeting: true, at: new Date().toISOString() });
  }

  saveLocal() {
    // a customer's conversation lives on the server; a visitor's only here
    if (!(this.who && this.who.role === "customer")) saveTranscript(this.owner, this.items);
  }

  // --- the panel --------------------------------------------------------------------------------
  setOpen(open, focus = true) {
    this.panel.hidden = !open;
    this.root.dataset.state = open ? "open" : "closed";
    $("hdw-launcher").setAttribute("aria-expanded", String(open));
    if (storage()) storage().setItem(OPEN_KEY, open ? "1" : "0");
    if (open) {
      this.scrollToEnd();
      if (focus) this.input.focus();
    } else {
      this.closeConfirm();
      if (focus) $("hdw-launcher").focus();
    }
  }

  onKey(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      if (!$("hdw-confirm").hidden) this.closeConfirm();
      else this.setOpen(false);
      return;
    }
    if (event.key !== "Tab") return;
    // keep the focus inside the open dialog
    const focusable = [...this.panel.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && (document.activeElement === first || !this.panel.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !this.panel.contains(document.activeElement))) {
      event.preventDefault();
      first.focus();
    }
  }

  askRestart() {
    $("hdw-confirm").hidden = false;
    $("hdw-confirm-no").focus();
  }

  closeConfirm() {
    if ($("hdw-confirm").hidden) return;
    $("hdw-confirm").hidden = true;
    $("hdw-restart").focus();
  }

  // --- the socket -----------------------------------------------------------------------------
  async metadata(extra) {
    const current = await tokens.current();
    const metadata = current && current.token ? { token: current.token } : {};
    return extra ? { ...metadata, ...extra } : metadata;
  }

  setStatus(text) {
    if (this.status.textContent !== text) this.status.textContent = text;
  }

  connect() {
    const socket = io(this.config.rasa_url, {
      path: this.config.socket_path || "/socket.io",
      transports: ["websocket", "polling"],
      reconnectionDelayMax: 5000,
    });
    this.socket = socket;
    socket.on("connect", async () => {
      this.setStatus("Trực tuyến");
      const sessionId = storage() ? storage().getItem(SESSION_KEY) : null;
      socket.emit("session_request", { session_id: sessionId, metadata: await this.metadata() });
    });
    socket.on("session_confirm", (sessionId) => {
      if (typeof sessionId === "string" && storage()) storage().setItem(SESSION_KEY, sessionId);
      this.sessionId = sessionId;
      this.root.dataset.session = "ready";
    });
    socket.on("handoff_state", (state) => this.setHandoff(state && state.status, state && state.after_hours));
    socket.on("disconnect", () => this.setStatus("Mất kết nối, đang thử lại…"));
    socket.on("connect_error", () => this.setStatus("Không kết nối được trợ lý, đang thử lại…"));
    socket.on("bot_uttered", (message) => this.receive(message));
  }

  async send(text, shown) {
    this.record({ from: "user", text: shown, at: new Date().toISOString() });
    if (!this.handoff) this.showTyping(true); // while a person holds it, the bot does not answer
    else this.announce("Đã gửi cho nhân viên hỗ trợ.");
    const payload = { message: text, session_id: this.sessionId || (storage() && storage().getItem(SESSION_KEY)) };
    payload.metadata = await this.metadata(text.startsWith("/") ? { shown } : null);
    this.socket.emit("user_uttered", payload);
  }

  // Start over (after the customer confirmed): Rasa's /restart resets the conversation on the
  // server too, and ends a hand-off in progress.
  async restart() {
    $("hdw-confirm").hidden = true;
    this.showTyping(false);
    this.items = [];
    this.log.replaceChildren();
    this.setHandoff(null);
    const payload = { message: "/restart", session_id: this.sessionId, metadata: await this.metadata() };
    this.socket.emit("user_uttered", payload);
    this.greet();
    this.saveLocal();
    this.root.dataset.restarted = String(Date.now());
    this.input.focus();
  }

  setHandoff(status, afterHours) {
    const next = status === "waiting" || status === "taken" ? status : null;
    this.handoff = next;
    const banner = $("hdw-handoff");
    banner.hidden = !next;
    banner.textContent = next ? HANDOFF_TEXT[next === "waiting" && afterHours ? "after_hours" : next] : "";
    this.root.dataset.handoff = next || "none";
    this.input.setAttribute("aria-label", next ? "Tin nhắn cho nhân viên hỗ trợ" : "Tin nhắn cho trợ lý");
    this.input.placeholder = next ? "Nhắn cho nhân viên hỗ trợ…" : "Nhập câu hỏi của bạn…";
  }

  receive(message) {
    if (!message || typeof message !== "object") return;
    const data = message.data && typeof message.data === "object" ? message.data : message;
    if (data.handoff && typeof data.handoff === "object") this.setHandoff(data.handoff.status, data.handoff.after_hours);
    const from = data.sender === "agent" || data.sender === "system" ? data.sender : "bot";
    const item = { from, text: typeof data.text === "string" ? data.text : "", at: data.at || new Date().toISOString() };
    const buttons = cleanButtons(data.quick_replies || data.buttons);
    if (buttons.length) item.buttons = buttons;
    const attachment = data.attachment;
    if (attachment && attachment.type === "image" && attachment.payload) {
      item.image = safeHttpUrl(attachment.payload.src);
    }
    if (!item.text && !item.buttons && !item.image) return;
    this.showTyping(false);
    if (from === "agent") this.announce("Nhân viên hỗ trợ đã trả lời.");
    this.record(item);
  }

  // --- drawing --------------------------------------------------------------------------------
  record(item, { save = true, scroll = true } = {}) {
    const last = this.items[this.items.length - 1];
    if (mergeable(last, item)) {
      mergeInto(last, item);
      const li = this.log.lastElementChild;
      const fresh = this.draw(last);
      if (li) li.replaceWith(fresh); else this.log.appendChild(fresh);
      if (scroll) this.scrollToAnswer(fresh);
    } else {
      this.items.push(item);
      const li = this.draw(item);
      this.log.appendChild(li);
      if (scroll) {
        if (item.from === "user") this.scrollToEnd();
        else this.scrollToAnswer(li);
      }
    }
    this.retireButtons();
    if (save) this.saveLocal();
  }

  draw(item) {
    const li = document.createElement("li");
    const from = WHO[item.from] ? item.from : "bot";
    li.className = `hdw-msg hdw-${from}`;
    li.dataset.from = from;
    const who = document.createElement("span");
    who.className = from === "agent" ? "hdw-who" : "hdw-who sr-only"; // agents are named on screen too
    who.textContent = `${WHO[from]}: `;
    li.appendChild(who);
    if (from === "user") {
      const p = document.createElement("p");
      p.textContent = item.text; // the user's own words, never interpreted
      li.appendChild(p);
    } else {
      for (const part of item.parts || [item.text || ""]) if (part) li.appendChild(renderRichText(part));
    }
    if (item.image) {
      const img = document.createElement("img");
      img.src = item.image;
      img.alt = "";
      li.appendChild(img);
    }
    if (item.buttons && item.buttons.length) {
      const row = document.createElement("div");
      row.className = "hdw-buttons";
      row.setAttribute("role", "group");
      row.setAttribute("aria-label", item.greeting ? "Câu hỏi gợi ý" : "Lựa chọn");
      for (const button of item.buttons) row.appendChild(this.button(button));
      li.appendChild(row);
    }
    const stamp = item.at ? timeElement(item.at) : null;
    if (stamp) li.appendChild(stamp);
    return li;
  }

  button(button) {
    const href = /^https?:/i.test(button.payload) ? safeHttpUrl(button.payload) : null;
    if (href) {
      const link = makeLink(href, button.title); // e.g. the VNPAY pay link: a new tab
      link.className = "hdw-button hdw-link-button";
      return link;
    }
    const el = document.createElement("button");
    el.type = "button";
    el.className = "hdw-button";
    el.textContent = button.title;
    el.addEventListener("click", () => this.send(button.payload || button.title, button.title));
    return el;
  }

  // only the latest answer's buttons are in the tab order (older ones still work with a click)
  retireButtons() {
    const messages = [...this.log.children];
    const lastWithButtons = messages.filter((li) => li.querySelector(".hdw-buttons")).pop();
    for (const li of messages) {
      for (const el of li.querySelectorAll(".hdw-buttons > *")) {
        if (li === lastWithButtons && li === messages[messages.length - 1]) el.removeAttribute("tabindex");
        else el.setAttribute("tabindex", "-1");
      }
    }
  }

  announce(text) {
    this.announcer.textContent = "";
    window.setTimeout(() => { this.announcer.textContent = text; }, 50);
  }

  showTyping(on) {
    clearTimeout(this.typingTimer);
    const was = !this.typing.hidden;
    this.typing.hidden = !on;
    if (on && !was) this.announce("Trợ lý đang soạn câu trả lời…");
    if (on) this.typingTimer = setTimeout(() => { this.typing.hidden = true; }, TYPING_TIMEOUT_MS);
    if (on) this.scrollToEnd();
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  // a long answer opens at its start: the reader scrolls down through it, not back up to find it
  scrollToAnswer(li) {
    const top = li.offsetTop - this.log.offsetTop - 8;
    if (li.offsetHeight > this.log.clientHeight - 16) this.log.scrollTop = top;
    else this.scrollToEnd();
  }
}

function setupDemoLogin(config, widget) {
  const panel = $("demo-login");
  if (!config.demo || !panel) return;
  panel.hidden = false;
  const select = $("demo-workspace");
  for (const ws of config.demo_workspaces || []) {
    const option = document.createElement("option");
    option.value = ws.id;
    option.textContent = `${ws.id} – ${ws.label}`;
    select.appendChild(option);
  }
  const saved = storage() && storage().getItem(DEMO_WORKSPACE_KEY);
  if (saved && [...select.options].some((o) => o.value === saved)) select.value = saved;
  select.addEventListener("change", () => { if (storage()) storage().setItem(DEMO_WORKSPACE_KEY, select.value); });
  const who = $("demo-who");
  const show = (caller) => {
    if (caller && caller.role === "customer") {
      who.textContent = `Đã đăng nhập: khách hàng của ${caller.workspace_id}.`;
      if ([...select.options].some((o) => o.value === caller.workspace_id)) select.value = caller.workspace_id;
    } else if (caller && caller.role === "agent") {
      who.textContent = "Đã đăng nhập: nhân viên hỗ trợ. Mở Bảng điều khiển nhân viên để tra cứu.";
    } else {
      who.textContent = "Bạn chưa đăng nhập: trợ lý trả lời theo quy định chung.";
    }
    $("demo-logout").hidden = !(caller && caller.role); // a visitor has nothing to log out of
  };
  tokens.current().then(show);
  const relogin = async (caller) => {
    show(caller);
    await widget.setOwner(await tokens.current());
    if (widget.socket && widget.socket.connected) {
      widget.socket.emit("session_request", { session_id: widget.sessionId, metadata: await widget.metadata() });
    }
  };
  $("demo-login-customer").addEventListener("click", async () => {
    if (storage()) storage().setItem(DEMO_WORKSPACE_KEY, select.value);
    relogin(await demoLogin(select.value, "customer"));
  });
  $("demo-login-agent").addEventListener("click", async () => {
    await demoLogin(null, "agent");
    window.location.assign("/agent");
  });
  $("demo-logout").addEventListener("click", async () => relogin(await logout()));
}

document.addEventListener("DOMContentLoaded", async () => {
  const config = readConfig();
  const widget = new Widget(config);
  window.cleeksyHelpdesk = widget; // for debugging and the browser tests
  setupDemoLogin(config, widget);
  await widget.start();
});
